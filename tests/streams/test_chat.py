"""Chat: `streams.services.chat_send` rules and the `chat.message` event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from core.errors import ApiError
from streams.models import ChatMessage, ModerationAction, Show
from streams.services import chat_send
from tests.factories import ShowFactory, UserFactory

pytestmark = pytest.mark.django_db


def send_error(**kwargs) -> ApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as info:
        chat_send(**kwargs)
    return info.value


def test_message_is_stored_and_broadcast(
    live_show, viewer, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = chat_send(show_id=live_show.pk, user=viewer, text="hello")
    assert message.text == "hello"
    assert events.of_type("chat.message") == [
        {
            "id": message.pk,
            "user": {"id": viewer.pk, "username": "viewer"},
            "text": "hello",
            "ts": message.created_at.isoformat().replace("+00:00", "Z"),
        }
    ]


def test_text_is_stored_as_written_never_escaped(live_show, viewer):
    text = '<script>alert("x")</script> & <b>bold</b>'
    message = chat_send(show_id=live_show.pk, user=viewer, text=text)
    message.refresh_from_db()
    assert message.text == text


def test_anonymous_cannot_chat(live_show):
    err = send_error(show_id=live_show.pk, user=AnonymousUser(), text="hi")
    assert (err.code, err.status) == ("not_authenticated", 401)
    assert not ChatMessage.objects.exists()


@pytest.mark.parametrize("status", [Show.Status.SCHEDULED, Show.Status.ENDED])
def test_chat_needs_a_live_show(shop, viewer, status):
    show = ShowFactory(shop=shop, status=status)
    err = send_error(show_id=show.pk, user=viewer, text="hi")
    assert (err.code, err.status) == ("show_not_live", 409)


def test_unknown_show_is_not_found(viewer):
    assert send_error(show_id=999999, user=viewer, text="hi").code == "not_found"


def test_rehearsal_is_not_found_for_viewers(shop, viewer):
    show = ShowFactory(shop=shop, rehearsal=True, status=Show.Status.LIVE)
    assert send_error(show_id=show.pk, user=viewer, text="hi").code == "not_found"


def test_rehearsal_host_may_chat_before_going_live(shop, host):
    show = ShowFactory(shop=shop, rehearsal=True)
    assert chat_send(show_id=show.pk, user=host, text="testing").pk


@pytest.mark.parametrize(
    "text",
    ["", "   ", "x" * 501, "nul\x00byte", 42, None],
    ids=["empty", "blank", "too-long", "nul", "int", "none"],
)
def test_invalid_text_is_refused(live_show, viewer, text):
    err = send_error(show_id=live_show.pk, user=viewer, text=text)
    assert (err.code, err.status) == ("invalid", 400)
    assert not ChatMessage.objects.exists()


def test_500_characters_are_accepted(live_show, viewer):
    assert len(chat_send(show_id=live_show.pk, user=viewer, text="é" * 500).text) == 500


def test_banned_user_gets_the_reason(live_show, viewer, host):
    ModerationAction.objects.create(
        show=live_show, actor=host, target_user=viewer, action="ban", reason="Spam links"
    )
    err = send_error(show_id=live_show.pk, user=viewer, text="hi")
    assert (err.code, err.status, err.message) == ("banned", 403, "Spam links")


def test_timed_out_user_gets_reason_and_until(live_show, viewer, host):
    until = timezone.now() + timedelta(minutes=5)
    ModerationAction.objects.create(
        show=live_show,
        actor=host,
        target_user=viewer,
        action="timeout",
        reason="Calm down",
        until=until,
    )
    err = send_error(show_id=live_show.pk, user=viewer, text="hi")
    assert err.code == "timed_out"
    assert "Calm down" in err.message
    assert err.details["until"] == until.isoformat().replace("+00:00", "Z")


def test_expired_timeout_no_longer_blocks(live_show, viewer, host):
    ModerationAction.objects.create(
        show=live_show,
        actor=host,
        target_user=viewer,
        action="timeout",
        reason="Calm down",
        until=timezone.now() - timedelta(seconds=1),
    )
    assert chat_send(show_id=live_show.pk, user=viewer, text="back").pk


def test_unban_lifts_a_ban(live_show, viewer, host):
    for action in ("ban", "unban"):
        ModerationAction.objects.create(
            show=live_show, actor=host, target_user=viewer, action=action, reason="r"
        )
    assert chat_send(show_id=live_show.pk, user=viewer, text="thanks").pk


def test_ban_in_one_show_does_not_apply_to_another(live_show, shop, viewer, host):
    ModerationAction.objects.create(
        show=live_show, actor=host, target_user=viewer, action="ban", reason="r"
    )
    other = ShowFactory(shop=shop, status=Show.Status.LIVE, started_at=timezone.now())
    assert chat_send(show_id=other.pk, user=viewer, text="hi").pk


def test_rate_limit_per_user(live_show, viewer):
    for i in range(settings.CHAT_RATE_MESSAGES):
        chat_send(show_id=live_show.pk, user=viewer, text=f"m{i}")
    err = send_error(show_id=live_show.pk, user=viewer, text="one too many")
    assert (err.code, err.status) == ("throttled", 429)
    assert 1 <= err.details["retry_after_s"] <= 10
    assert ChatMessage.objects.count() == settings.CHAT_RATE_MESSAGES


def test_the_rate_limit_is_a_setting(live_show, viewer, settings):
    settings.CHAT_RATE_MESSAGES = 2
    for i in range(2):
        chat_send(show_id=live_show.pk, user=viewer, text=f"m{i}")
    err = send_error(show_id=live_show.pk, user=viewer, text="the third")
    assert (err.code, err.status) == ("throttled", 429)


def test_rate_limit_is_per_user(live_show, viewer):
    for i in range(settings.CHAT_RATE_MESSAGES):
        chat_send(show_id=live_show.pk, user=viewer, text=f"m{i}")
    assert chat_send(show_id=live_show.pk, user=UserFactory(), text="me too").pk


def test_invalid_messages_do_not_use_the_rate_limit(live_show, viewer):
    for _ in range(settings.CHAT_RATE_MESSAGES + 2):
        send_error(show_id=live_show.pk, user=viewer, text="")
    assert chat_send(show_id=live_show.pk, user=viewer, text="fine").pk


def test_slow_mode_holds_back_a_second_message(live_show, viewer):
    Show.objects.filter(pk=live_show.pk).update(slow_mode_s=30)
    chat_send(show_id=live_show.pk, user=viewer, text="first")
    err = send_error(show_id=live_show.pk, user=viewer, text="second")
    assert (err.code, err.status) == ("slow_mode", 429)
    assert 1 <= err.details["retry_after_s"] <= 30


def test_slow_mode_exempts_hosts_and_moderators(live_show, host, moderator):
    Show.objects.filter(pk=live_show.pk).update(slow_mode_s=30)
    for user in (host, moderator):
        chat_send(show_id=live_show.pk, user=user, text="one")
        chat_send(show_id=live_show.pk, user=user, text="two")
    assert ChatMessage.objects.count() == 4


def test_blocked_word_refuses_the_message(live_show, viewer):
    Show.objects.filter(pk=live_show.pk).update(blocked_words=["scam"])
    err = send_error(show_id=live_show.pk, user=viewer, text="This is a SCAM!")
    assert (err.code, err.status) == ("message_blocked", 400)
    assert not ChatMessage.objects.exists()


def test_blocked_word_matches_whole_words_only(live_show, viewer):
    Show.objects.filter(pk=live_show.pk).update(blocked_words=["scam"])
    assert chat_send(show_id=live_show.pk, user=viewer, text="scampi for dinner").pk


def test_blocked_words_are_matched_literally(live_show, viewer):
    Show.objects.filter(pk=live_show.pk).update(blocked_words=["a.b"])
    assert chat_send(show_id=live_show.pk, user=viewer, text="axb").pk
    assert send_error(show_id=live_show.pk, user=viewer, text="a.b").code == "message_blocked"


def test_sending_costs_a_fixed_handful_of_queries(live_show, viewer, django_assert_max_num_queries):
    """The hot path: show with the sender's role, their restriction, the insert."""
    chat_send(show_id=live_show.pk, user=viewer, text="warm-up")
    with django_assert_max_num_queries(3):
        chat_send(show_id=live_show.pk, user=viewer, text="counted")
