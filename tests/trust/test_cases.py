"""Cases: opened by every chat enforcement, read by the right people only, appealed once
within the window, decided by staff; an overturn lifts a ban at once; every step is in
the append-only audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone
from freezegun import freeze_time

from core.errors import ApiError, InternalError
from streams.models import ChatMessage, ModerationAction
from streams.selectors import user_restriction
from streams.services import chat_send, moderation_apply
from tests.helpers import assert_error
from trust.models import Appeal, Case, CaseEvent
from trust.selectors import case_in_force
from trust.services import case_open
from trust.tasks import trust_deadlines

pytestmark = pytest.mark.django_db


def appeal(client_for: Any, user: Any, case: Case, text: str = "I was quoting someone.") -> Any:
    return client_for(user).post(f"/api/v1/cases/{case.pk}/appeal/", {"text": text})


def decide(client_for: Any, staff: Any, case: Case, decision: str, reason: str = "Checked.") -> Any:
    return client_for(staff).post(
        f"/api/v1/staff/cases/{case.pk}/decision/", {"decision": decision, "reason": reason}
    )


# --- opening ------------------------------------------------------------------------------


def test_a_ban_opens_a_case_with_the_reason_and_the_evidence(live_show, host, viewer):
    chat_send(show_id=live_show.pk, user=viewer, text="you are all idiots")
    record = moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="Insults"
    )
    case = Case.objects.get(subject=viewer)
    assert (case.kind, case.reason, case.actor, case.status) == (
        "chat_ban",
        "Insults",
        "host",
        "active",
    )
    assert case.moderation_action == record and case.show == live_show
    assert case.expires_at is None
    assert case.evidence["show"]["id"] == live_show.pk
    assert case.evidence["offset_s"] is not None and case.evidence["offset_s"] >= 0
    assert [m["text"] for m in case.evidence["messages"]] == ["you are all idiots"]
    assert list(case.events.values_list("kind", flat=True)) == ["opened"]


def test_the_evidence_is_a_snapshot_not_a_reference(live_show, host, viewer):
    message = chat_send(show_id=live_show.pk, user=viewer, text="original words")
    moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="x y"
    )
    ChatMessage.objects.filter(pk=message.pk).update(text="edited later")
    case = Case.objects.get(subject=viewer)
    assert case.evidence["messages"][0]["text"] == "original words"


def test_a_moderators_timeout_is_a_case_that_expires_with_it(live_show, moderator, viewer):
    record = moderation_apply(
        show_id=live_show.pk,
        actor=moderator,
        action="timeout",
        target_user_id=viewer.pk,
        reason="Caps",
        duration_s=60,
    )
    case = Case.objects.get(subject=viewer)
    assert (case.kind, case.actor, case.expires_at) == ("chat_timeout", "moderator", record.until)


def test_removing_a_message_is_not_a_case(live_show, host, viewer):
    message = chat_send(show_id=live_show.pk, user=viewer, text="spam")
    moderation_apply(
        show_id=live_show.pk,
        actor=host,
        action="remove_message",
        message_id=message.pk,
        reason="Spam",
    )
    assert not Case.objects.exists()


def test_a_hosts_unban_lifts_the_case(live_show, host, ban_case):
    moderation_apply(
        show_id=live_show.pk,
        actor=host,
        action="unban",
        target_user_id=ban_case.subject_id,
        reason="Apologised",
    )
    ban_case.refresh_from_db()
    assert ban_case.status == "lifted"
    assert list(ban_case.events.values_list("kind", flat=True)) == ["opened", "lifted"]


def test_a_failed_moderation_opens_no_case(live_show, host):
    with pytest.raises(ApiError):
        moderation_apply(
            show_id=live_show.pk, actor=host, action="ban", target_user_id=host.pk, reason="x"
        )
    assert not Case.objects.exists()


def test_case_open_for_bidding_block_is_in_force_until_overturned(
    viewer, client_for, platform_staff
):
    case = case_open(
        subject=viewer,
        kind="bidding_blocked",
        rule="B1",
        reason="Three unpaid wins in 90 days.",
        evidence={"orders": [1, 2, 3]},
        actor="automatic",
    )
    assert case_in_force(user=viewer, kind="bidding_blocked") == case
    assert appeal(client_for, viewer, case).status_code == 201
    assert decide(client_for, platform_staff, case, "overturn").status_code == 200
    assert case_in_force(user=viewer, kind="bidding_blocked") is None


def test_case_open_refuses_an_unknown_rule(viewer):
    with pytest.raises(InternalError):
        case_open(
            subject=viewer,
            kind="bidding_blocked",
            rule="Z9",
            reason="x",
            evidence={},
            actor="automatic",
        )


# --- who sees a case ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("viewer", 200),
        ("host", 200),
        ("shop_staff", 200),
        ("platform_staff", 200),
        ("moderator", 404),
        ("other_host", 404),
        ("stranger", 404),
    ],
)
def test_who_reads_a_case(request, client_for, ban_case, moderator, who, status):
    user = moderator if who == "moderator" else request.getfixturevalue(who)
    r = client_for(user).get(f"/api/v1/cases/{ban_case.pk}/")
    if status == 404:
        assert_error(r, 404, "not_found")
    else:
        assert r.status_code == 200
        assert r.json()["reason"] == "Slurs"


def test_anonymous_reads_no_case(api_client, ban_case):
    assert_error(api_client.get(f"/api/v1/cases/{ban_case.pk}/"), 401, "not_authenticated")
    assert_error(api_client.get("/api/v1/me/cases/"), 401, "not_authenticated")


def test_my_cases_lists_only_mine_without_naming_the_moderator(client_for, viewer, ban_case, host):
    body = client_for(viewer).get("/api/v1/me/cases/").json()
    [case] = body["results"]
    assert set(case) >= {
        "id",
        "kind",
        "rule",
        "reason",
        "evidence",
        "actor",
        "created_at",
        "expires_at",
        "appeal",
    }
    assert case["id"] == ban_case.pk and case["appeal"] is None and case["can_appeal"] is True
    assert host.username not in str(case)
    assert client_for(host).get("/api/v1/me/cases/").json()["results"] == []


def test_a_host_cannot_appeal_the_viewers_case(client_for, host, stranger, ban_case):
    assert_error(appeal(client_for, host, ban_case), 403, "permission_denied")
    assert_error(appeal(client_for, stranger, ban_case), 404, "not_found")
    assert not Appeal.objects.exists()


# --- appeals and decisions ----------------------------------------------------------------


def test_appeal_once(client_for, viewer, ban_case):
    r = appeal(client_for, viewer, ban_case)
    assert r.status_code == 201, r.content
    assert r.json()["appeal"]["status"] == "pending" and r.json()["can_appeal"] is False
    assert_error(appeal(client_for, viewer, ban_case, "again"), 409, "appeal_exists")
    assert Appeal.objects.get().text == "I was quoting someone."


def test_appeal_window_with_a_frozen_clock(client_for, viewer, live_show, host, settings):
    settings.APPEAL_WINDOW_DAYS = 14
    opened = timezone.now()
    with freeze_time(opened):
        record = moderation_apply(
            show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="x"
        )
    case = Case.objects.get(moderation_action=record)
    with freeze_time(opened + timedelta(days=14)):
        err = assert_error(appeal(client_for, viewer, case), 409, "appeal_window_closed")
        assert err["details"]["appealable_until"]
        assert (
            client_for(viewer).get("/api/v1/me/cases/").json()["results"][0]["can_appeal"] is False
        )
    assert not Appeal.objects.exists()
    with freeze_time(opened + timedelta(days=14) - timedelta(seconds=1)):
        assert appeal(client_for, viewer, case).status_code == 201


def test_the_window_is_a_setting(client_for, viewer, live_show, host, settings):
    settings.APPEAL_WINDOW_DAYS = 2
    opened = timezone.now()
    with freeze_time(opened):
        moderation_apply(
            show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="x"
        )
    case = Case.objects.get()
    with freeze_time(opened + timedelta(days=3)):
        assert_error(appeal(client_for, viewer, case), 409, "appeal_window_closed")


def test_overturn_lets_the_banned_person_chat_again_at_once_over_rest(
    client_for, viewer, live_show, ban_case, platform_staff
):
    url = f"/api/v1/shows/{live_show.pk}/messages/"
    assert_error(client_for(viewer).post(url, {"text": "hello?"}), 403, "banned")
    appeal(client_for, viewer, ban_case)
    r = decide(client_for, platform_staff, ban_case, "overturn", "Quoting, not insulting.")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "overturned"
    assert r.json()["appeal"]["decision_reason"] == "Quoting, not insulting."
    assert client_for(viewer).post(url, {"text": "hello again"}).status_code == 201
    unban = ModerationAction.objects.filter(action="unban").get()
    assert unban.actor == platform_staff and "Quoting, not insulting." in unban.reason
    mine = client_for(viewer).get("/api/v1/me/cases/").json()["results"][0]
    assert mine["status"] == "overturned" and mine["appeal"]["status"] == "overturned"


def test_overturn_tells_the_person_privately(
    client_for, viewer, ban_case, platform_staff, django_capture_on_commit_callbacks, monkeypatch
):
    from streams import fanout

    sent: list[tuple[int, str, dict]] = []
    monkeypatch.setattr(
        fanout,
        "publish_user_event",
        lambda *, user_id, type, data: sent.append((user_id, type, data)),
    )
    appeal(client_for, viewer, ban_case)
    with django_capture_on_commit_callbacks(execute=True):
        decide(client_for, platform_staff, ban_case, "overturn", "Our mistake.")
    kinds = [(uid, t) for uid, t, _ in sent]
    assert (viewer.pk, "moderation.notice") in kinds
    notice = next(d for _, t, d in sent if t == "moderation.notice")
    assert notice["action"] == "unban" and "Our mistake." in notice["reason"]
    updated = [d for _, t, d in sent if t == "case.updated"]
    assert updated[-1]["status"] == "overturned"


def test_uphold_keeps_the_ban(client_for, viewer, live_show, ban_case, platform_staff):
    appeal(client_for, viewer, ban_case)
    r = decide(client_for, platform_staff, ban_case, "uphold", "The slurs are on record.")
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert user_restriction(show_id=live_show.pk, user_id=viewer.pk) is not None
    assert_error(decide(client_for, platform_staff, ban_case, "overturn"), 409, "invalid_state")


def test_overturning_an_old_ban_does_not_lift_a_newer_one(
    client_for, viewer, live_show, host, ban_case, platform_staff
):
    moderation_apply(
        show_id=live_show.pk, actor=host, action="unban", target_user_id=viewer.pk, reason="ok"
    )
    newer = moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="Again"
    )
    appeal(client_for, viewer, ban_case)
    decide(client_for, platform_staff, ban_case, "overturn")
    assert user_restriction(show_id=live_show.pk, user_id=viewer.pk) == newer


def test_decide_needs_an_appeal_and_staff(client_for, viewer, host, ban_case, platform_staff):
    assert_error(decide(client_for, platform_staff, ban_case, "overturn"), 409, "invalid_state")
    appeal(client_for, viewer, ban_case)
    for user in (viewer, host):
        assert_error(decide(client_for, user, ban_case, "overturn"), 404, "not_found")
    assert Appeal.objects.get().status == "pending"


def test_staff_queue_lists_pending_appeals_oldest_due_first(
    client_for, viewer, stranger, live_show, host, platform_staff
):
    first = moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="a"
    )
    second = moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=stranger.pk, reason="b"
    )
    case_a = Case.objects.get(moderation_action=first)
    case_b = Case.objects.get(moderation_action=second)
    appeal(client_for, viewer, case_a)
    appeal(client_for, stranger, case_b)
    # A third case, not appealed, is not in the queue.
    moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=platform_staff.pk, reason="c"
    )
    client = client_for(platform_staff)
    r = client.get("/api/v1/staff/cases/?appeal=pending")
    assert [c["id"] for c in r.json()["results"]] == [case_a.pk, case_b.pk]
    assert r.json()["results"][0]["user"]["username"] == "viewer"
    r = client.get("/api/v1/staff/cases/?appeal=pending&page_size=1")
    assert [c["id"] for c in r.json()["results"]] == [case_a.pk]
    assert [c["id"] for c in client.get(r.json()["next"]).json()["results"]] == [case_b.pk]
    assert len(client.get("/api/v1/staff/cases/").json()["results"]) == 3
    assert_error(client_for(viewer).get("/api/v1/staff/cases/"), 404, "not_found")


# --- deadlines ----------------------------------------------------------------------------


def test_beat_expires_a_timeout_case_and_escalates_an_overdue_appeal(
    client_for, viewer, live_show, host, platform_staff, settings, caplog
):
    settings.APPEAL_DECISION_HOURS = 72
    start = timezone.now()
    with freeze_time(start):
        moderation_apply(
            show_id=live_show.pk,
            actor=host,
            action="timeout",
            target_user_id=viewer.pk,
            reason="Caps",
            duration_s=600,
        )
        case = Case.objects.get()
        appeal(client_for, viewer, case)
        assert trust_deadlines() == {"expired": 0, "escalated": 0}
    with freeze_time(start + timedelta(minutes=11)):
        assert trust_deadlines() == {"expired": 1, "escalated": 0}
        assert trust_deadlines() == {"expired": 0, "escalated": 0}
    case.refresh_from_db()
    assert case.status == "expired"
    with freeze_time(start + timedelta(hours=73)):
        assert trust_deadlines() == {"expired": 0, "escalated": 1}
        assert trust_deadlines() == {"expired": 0, "escalated": 0}
        overdue = [r for r in caplog.records if r.getMessage() == "appeal overdue"]
        assert [r.case_id for r in overdue] == [case.pk]  # type: ignore[attr-defined]
        queue = client_for(platform_staff).get("/api/v1/staff/cases/?appeal=overdue").json()
    assert [c["id"] for c in queue["results"]] == [case.pk]
    assert queue["results"][0]["appeal"]["escalated"] is True
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds == ["opened", "appealed", "expired", "escalated"]


# --- audit log ----------------------------------------------------------------------------


def test_the_audit_log_records_every_step(client_for, viewer, ban_case, platform_staff):
    appeal(client_for, viewer, ban_case)
    decide(client_for, platform_staff, ban_case, "overturn", "Mistake")
    events = list(CaseEvent.objects.filter(case=ban_case).order_by("id"))
    assert [e.kind for e in events] == ["opened", "appealed", "decided", "lifted"]
    assert events[1].actor == viewer and events[2].actor == platform_staff
    assert events[2].data == {"decision": "overturn", "reason": "Mistake"}
    assert events[3].data["restriction_lifted"] is True
    staff_view = client_for(platform_staff).get(f"/api/v1/cases/{ban_case.pk}/").json()
    assert [e["kind"] for e in staff_view["events"]] == ["opened", "appealed", "decided", "lifted"]
    assert "events" not in client_for(viewer).get(f"/api/v1/cases/{ban_case.pk}/").json()


def test_the_audit_log_cannot_be_changed(ban_case):
    event = CaseEvent.objects.get(case=ban_case)
    event.kind = "decided"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        CaseEvent.objects.filter(pk=event.pk).update(kind="decided")
    with pytest.raises(TypeError):
        CaseEvent.objects.filter(pk=event.pk).delete()
    # Below the ORM, the database refuses as well.
    from django.db import connection

    for sql in (
        "UPDATE trust_caseevent SET kind = 'decided' WHERE id = %s",
        "DELETE FROM trust_caseevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    assert CaseEvent.objects.get(pk=event.pk).kind == "opened"


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 2001}, {"text": None}, [1], "text"],
)
def test_appeal_bad_input_is_400_and_changes_nothing(client_for, viewer, ban_case, body):
    r = client_for(viewer).post(f"/api/v1/cases/{ban_case.pk}/appeal/", body, format="json")
    assert r.status_code == 400, r.content
    assert not Appeal.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"decision": "overturn"},
        {"decision": "pardon", "reason": "x"},
        {"decision": "overturn", "reason": ""},
        {"decision": "overturn", "reason": "x" * 1001},
        [1],
    ],
)
def test_decision_bad_input_is_400_and_changes_nothing(
    client_for, viewer, ban_case, platform_staff, body
):
    appeal(client_for, viewer, ban_case)
    r = client_for(platform_staff).post(
        f"/api/v1/staff/cases/{ban_case.pk}/decision/", body, format="json"
    )
    assert r.status_code == 400, r.content
    assert Appeal.objects.get().status == "pending"
    assert user_restriction(show_id=ban_case.show_id, user_id=viewer.pk) is not None


def test_unknown_and_huge_case_ids_are_404(client_for, viewer, platform_staff):
    for case_id in (999999, 10**30):
        assert_error(client_for(viewer).get(f"/api/v1/cases/{case_id}/"), 404, "not_found")
        r = client_for(viewer).post(f"/api/v1/cases/{case_id}/appeal/", {"text": "x"})
        assert_error(r, 404, "not_found")
        r = client_for(platform_staff).post(
            f"/api/v1/staff/cases/{case_id}/decision/", {"decision": "uphold", "reason": "x"}
        )
        assert_error(r, 404, "not_found")


def test_bad_queue_filter_is_400(client_for, platform_staff):
    r = client_for(platform_staff).get("/api/v1/staff/cases/?appeal=whenever")
    assert_error(r, 400, "invalid")
