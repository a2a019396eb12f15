"""Moderation: `streams.services.moderation_apply` and its events."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from core.errors import ApiError
from streams.models import ChatMessage, ModerationAction, Show
from streams.selectors import chat_visible_messages, user_restriction
from streams.services import chat_send, moderation_apply
from tests.factories import ShowFactory, UserFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def apply_error(**kwargs) -> ApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as info:
        moderation_apply(**kwargs)
    return info.value


def test_moderator_removes_a_message(
    live_show, moderator, viewer, events, django_capture_on_commit_callbacks
):
    message = chat_send(show_id=live_show.pk, user=viewer, text="buy my stuff elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        record = moderation_apply(
            show_id=live_show.pk,
            actor=moderator,
            action="remove_message",
            message_id=message.pk,
            reason="Off-topic",
        )
    message.refresh_from_db()
    assert message.removed_at is not None
    assert (message.removed_by, message.removal_reason) == (moderator, "Off-topic")
    assert record.target_user == viewer
    assert events.of_type("chat.removed") == [{"id": message.pk}]
    [notice] = events.for_user(viewer.pk, "moderation.notice")
    assert (notice["action"], notice["reason"], notice["until"]) == (
        "remove_message",
        "Off-topic",
        None,
    )
    assert not chat_visible_messages(show_id=live_show.pk).exists()


def test_timeout_sets_until_and_notifies_privately(
    live_show, host, viewer, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = moderation_apply(
            show_id=live_show.pk,
            actor=host,
            action="timeout",
            target_user_id=viewer.pk,
            reason="Caps",
            duration_s=60,
        )
    assert record.until is not None
    assert 59 <= (record.until - record.created_at).total_seconds() <= 61
    assert user_restriction(show_id=live_show.pk, user_id=viewer.pk) == record
    [notice] = events.for_user(viewer.pk, "moderation.notice")
    assert notice["action"] == "timeout" and notice["reason"] == "Caps" and notice["until"]
    assert events.show_events == []  # a timeout is private


def test_ban_then_unban(live_show, host, viewer, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        moderation_apply(
            show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="Abuse"
        )
        with pytest.raises(ApiError) as info:
            chat_send(show_id=live_show.pk, user=viewer, text="let me in")
        assert info.value.code == "banned"
        moderation_apply(
            show_id=live_show.pk,
            actor=host,
            action="unban",
            target_user_id=viewer.pk,
            reason="Appeal accepted",
        )
    assert chat_send(show_id=live_show.pk, user=viewer, text="thank you").pk
    assert [n["action"] for n in events.for_user(viewer.pk, "moderation.notice")] == [
        "ban",
        "unban",
    ]


def test_unban_of_an_unrestricted_user_is_invalid_state(live_show, host, viewer):
    err = apply_error(
        show_id=live_show.pk, actor=host, action="unban", target_user_id=viewer.pk, reason="r"
    )
    assert (err.code, err.status) == ("invalid_state", 409)


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
def test_reason_is_required(live_show, host, viewer, reason):
    err = apply_error(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason=reason
    )
    assert (err.code, err.details.keys()) == ("invalid", {"reason"})
    assert not ModerationAction.objects.exists()


def test_database_refuses_a_blank_reason(live_show, host, viewer):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModerationAction.objects.create(
            show=live_show, actor=host, target_user=viewer, action="ban", reason=" "
        )


@pytest.mark.parametrize("duration", [None, 0, 86401, "60", True, 1.5])
def test_timeout_needs_a_sane_duration(live_show, host, viewer, duration):
    err = apply_error(
        show_id=live_show.pk,
        actor=host,
        action="timeout",
        target_user_id=viewer.pk,
        reason="r",
        duration_s=duration,
    )
    assert (err.code, list(err.details)) == ("invalid", ["duration_s"])


def test_unknown_action_is_invalid(live_show, host, viewer):
    err = apply_error(
        show_id=live_show.pk, actor=host, action="mute", target_user_id=viewer.pk, reason="r"
    )
    assert (err.code, list(err.details)) == ("invalid", ["action"])


def test_buyer_cannot_moderate(live_show, viewer):
    target = UserFactory()
    err = apply_error(
        show_id=live_show.pk, actor=viewer, action="ban", target_user_id=target.pk, reason="r"
    )
    assert (err.code, err.status) == ("permission_denied", 403)
    assert not ModerationAction.objects.exists()


def test_another_seller_cannot_moderate(live_show, other_seller, viewer):
    err = apply_error(
        show_id=live_show.pk, actor=other_seller, action="ban", target_user_id=viewer.pk, reason="r"
    )
    assert err.code == "permission_denied"


def test_anonymous_cannot_moderate(live_show, viewer):
    err = apply_error(
        show_id=live_show.pk,
        actor=AnonymousUser(),
        action="ban",
        target_user_id=viewer.pk,
        reason="r",
    )
    assert (err.code, err.status) == ("not_authenticated", 401)


def test_moderator_of_another_show_cannot_moderate_here(live_show, moderator, shop, viewer):
    other = ShowFactory(shop=shop, status=Show.Status.LIVE)
    err = apply_error(
        show_id=other.pk, actor=moderator, action="ban", target_user_id=viewer.pk, reason="r"
    )
    assert err.code == "permission_denied"


def test_moderators_cannot_ban_hosts(live_show, moderator, host, staff):
    for target in (host, staff):
        err = apply_error(
            show_id=live_show.pk,
            actor=moderator,
            action="ban",
            target_user_id=target.pk,
            reason="r",
        )
        assert (err.code, err.status) == ("permission_denied", 403)
    assert not ModerationAction.objects.exists()


def test_hosts_cannot_ban_hosts_either(live_show, host, staff):
    err = apply_error(
        show_id=live_show.pk,
        actor=host,
        action="timeout",
        target_user_id=staff.pk,
        reason="r",
        duration_s=5,
    )
    assert err.code == "permission_denied"


def test_moderator_cannot_remove_a_hosts_message(live_show, moderator, host):
    message = chat_send(show_id=live_show.pk, user=host, text="welcome")
    err = apply_error(
        show_id=live_show.pk,
        actor=moderator,
        action="remove_message",
        message_id=message.pk,
        reason="r",
    )
    assert err.code == "permission_denied"
    message.refresh_from_db()
    assert message.removed_at is None


def test_host_may_ban_a_moderator(live_show, host, moderator):
    assert moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=moderator.pk, reason="r"
    ).pk


def test_message_of_another_show_is_invalid(live_show, shop, host, viewer):
    other = ShowFactory(shop=shop, status=Show.Status.LIVE)
    message = chat_send(show_id=other.pk, user=viewer, text="hi")
    err = apply_error(
        show_id=live_show.pk, actor=host, action="remove_message", message_id=message.pk, reason="r"
    )
    assert (err.code, list(err.details)) == ("invalid", ["message"])


def test_removing_twice_is_invalid_state(live_show, host, viewer):
    message = chat_send(show_id=live_show.pk, user=viewer, text="hi")
    moderation_apply(
        show_id=live_show.pk, actor=host, action="remove_message", message_id=message.pk, reason="r"
    )
    err = apply_error(
        show_id=live_show.pk, actor=host, action="remove_message", message_id=message.pk, reason="r"
    )
    assert err.code == "invalid_state"
    assert ModerationAction.objects.count() == 1


def test_rehearsal_is_not_found_for_its_moderators(shop, viewer):
    show = ShowFactory(shop=shop, rehearsal=True, status=Show.Status.LIVE)
    mod = UserFactory()
    show.moderators.create(user=mod)
    err = apply_error(
        show_id=show.pk, actor=mod, action="ban", target_user_id=viewer.pk, reason="r"
    )
    assert err.code == "not_found"


def test_cannot_moderate_oneself(live_show, moderator):
    err = apply_error(
        show_id=live_show.pk, actor=moderator, action="ban", target_user_id=moderator.pk, reason="r"
    )
    assert err.code == "invalid"


def test_removed_messages_keep_their_text_for_the_record(live_show, host, viewer):
    message = chat_send(show_id=live_show.pk, user=viewer, text="original words")
    moderation_apply(
        show_id=live_show.pk, actor=host, action="remove_message", message_id=message.pk, reason="r"
    )
    assert ChatMessage.objects.get(pk=message.pk).text == "original words"


# --- REST ---------------------------------------------------------------------------------


def mod_url(show: Show) -> str:
    return f"/api/v1/shows/{show.pk}/moderation/"


def test_rest_timeout_answers_201_with_the_record(client_for, moderator, viewer, live_show):
    r = client_for(moderator).post(
        mod_url(live_show),
        {"action": "timeout", "user": viewer.pk, "reason": "Spamming", "duration_s": 300},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["action"], body["reason"], body["user"]["id"], body["actor"]["id"]) == (
        "timeout",
        "Spamming",
        viewer.pk,
        moderator.pk,
    )
    assert body["until"]


def test_rest_remove_message(client_for, host, viewer, live_show):
    message = chat_send(show_id=live_show.pk, user=viewer, text="bad")
    r = client_for(host).post(
        mod_url(live_show),
        {"action": "remove_message", "message": message.pk, "reason": "Rude"},
        format="json",
    )
    assert r.status_code == 201
    assert r.json()["message"] == message.pk
    assert client_for(viewer).get(f"/api/v1/shows/{live_show.pk}/messages/").json()["results"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "ban", "user": 0}, "reason"),
        ({"action": "ban", "reason": "   "}, "reason"),
        ({"action": "ban", "reason": "x" * 501}, "reason"),
        ({"action": "explode", "reason": "r"}, "action"),
        ({"reason": "r"}, "action"),
        ({"action": "timeout", "reason": "r"}, "duration_s"),
        ({"action": "timeout", "reason": "r", "duration_s": 0}, "duration_s"),
        ({"action": "timeout", "reason": "r", "duration_s": "soon"}, "duration_s"),
        ({"action": "remove_message", "reason": "r"}, "message"),
        ({"action": "ban", "reason": "r", "user": None}, "user"),
    ],
)
def test_rest_bad_moderation_input_is_invalid(client_for, host, viewer, live_show, body, field):
    body = {"user": viewer.pk, **body} if "user" not in body else body
    r = client_for(host).post(mod_url(live_show), body, format="json")
    assert field in assert_error(r, 400, "invalid")["details"]
    assert not ModerationAction.objects.exists()


def test_rest_malformed_json(client_for, host, live_show):
    assert_error(
        client_for(host).post(mod_url(live_show), data="{", content_type="application/json"),
        400,
        "parse_error",
    )


MOD_EXPECTED = {
    "host": 201,
    "staff": 201,
    "moderator": 201,
    "other_seller": 403,
    "buyer": 403,
    "anonymous": 401,
}


@pytest.mark.parametrize("who", list(MOD_EXPECTED))
def test_who_may_moderate(client_as, who, live_show):
    target = UserFactory(username="target")
    message = chat_send(show_id=live_show.pk, user=target, text="hi")
    r = client_as(who).post(
        mod_url(live_show),
        {"action": "remove_message", "message": message.pk, "reason": "r"},
        format="json",
    )
    assert r.status_code == MOD_EXPECTED[who]
    message.refresh_from_db()
    assert (message.removed_at is not None) == (MOD_EXPECTED[who] == 201)


def test_rest_moderators_cannot_ban_hosts(client_for, moderator, host, live_show):
    r = client_for(moderator).post(
        mod_url(live_show), {"action": "ban", "user": host.pk, "reason": "r"}, format="json"
    )
    assert_error(r, 403, "permission_denied")


def test_rest_rehearsal_is_404_for_non_hosts(client_for, viewer, shop):
    show = ShowFactory(shop=shop, rehearsal=True, status=Show.Status.LIVE)
    r = client_for(viewer).post(
        mod_url(show), {"action": "ban", "user": viewer.pk, "reason": "r"}, format="json"
    )
    assert_error(r, 404, "not_found")


# --- /me/moderation/ ----------------------------------------------------------------------

ME = "/api/v1/me/moderation/"


def test_me_moderation_lists_what_affects_me_newest_first(client_for, host, viewer, live_show):
    message = chat_send(show_id=live_show.pk, user=viewer, text="my words")
    moderation_apply(
        show_id=live_show.pk,
        actor=host,
        action="remove_message",
        message_id=message.pk,
        reason="Off-topic",
    )
    moderation_apply(
        show_id=live_show.pk,
        actor=host,
        action="timeout",
        target_user_id=viewer.pk,
        reason="Again",
        duration_s=60,
    )
    moderation_apply(
        show_id=live_show.pk,
        actor=host,
        action="ban",
        target_user_id=UserFactory().pk,
        reason="Not me",
    )
    body = client_for(viewer).get(ME).json()
    assert [(a["action"], a["reason"]) for a in body["results"]] == [
        ("timeout", "Again"),
        ("remove_message", "Off-topic"),
    ]
    removal = body["results"][1]
    assert removal["message"] == {"id": message.pk, "text": "my words"}
    assert removal["show"] == {"id": live_show.pk, "title": live_show.title}
    assert "actor" not in removal
    assert body["next"] is None


def test_me_moderation_needs_an_account(api_client):
    assert_error(api_client.get(ME), 401, "not_authenticated")


def test_me_moderation_is_paginated(client_for, host, viewer, live_show):
    for i in range(3):
        moderation_apply(
            show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason=f"r{i}"
        )
    first = client_for(viewer).get(ME, {"page_size": 2}).json()
    second = client_for(viewer).get(first["next"]).json()
    assert [a["reason"] for a in first["results"] + second["results"]] == ["r2", "r1", "r0"]
