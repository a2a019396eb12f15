"""Read-only users (streams.selectors.show_user_restriction) and restriction precedence.

A banned or timed-out user is read-only in the show for every write of the room: chat
(REST and frame), reactions, moderation. A restriction ends only by its own expiry or an
explicit unban; a shorter action never shortens a longer one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from streams.models import ModerationAction, ShowModerator
from streams.services import moderation_apply, reaction_counts_take
from tests.helpers import assert_error
from tests.streams import test_consumer_actions as consumer_actions
from tests.streams.livekit import hubs_closed, room, session_headers  # noqa: F401


def moderate(client: Any, show_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/shows/{show_id}/moderation/", body, format="json")


def time_out(client: Any, show_id: int, user: Any, seconds: int, reason: str = "Caps") -> Any:
    return moderate(
        client, show_id, action="timeout", user=user.pk, reason=reason, duration_s=seconds
    )


def record_timeout(*, show: Any, actor: Any, target: Any, ends_in_s: int) -> None:
    """A timeout row as a concurrent moderator's request would leave it (no checks)."""
    ModerationAction.objects.create(
        show=show,
        actor=actor,
        target_user=target,
        action="timeout",
        reason="Caps",
        until=timezone.now() + timedelta(seconds=ends_in_s),
    )


def chat(client: Any, show_id: int, text: str = "hello") -> Any:
    return client.post(f"/api/v1/shows/{show_id}/messages/", {"text": text}, format="json")


# --- read-only: every write of the room -----------------------------------------------


class Cast(consumer_actions.Cast):
    """A live show, its host, a viewer and another viewer; the viewer can be restricted."""

    def restrict(self, action: str, **extra: Any) -> None:
        moderation_apply(
            show_id=self.show.pk,
            actor=self.host,
            action=action,
            target_user_id=self.viewer.pk,
            reason="Spamming the room",
            **extra,
        )


@pytest.fixture
def cast(transactional_db: Any) -> Cast:
    return Cast()


@pytest.mark.usefixtures("hubs_closed")
@pytest.mark.parametrize(
    ("action", "extra", "code"),
    [("ban", {}, "banned"), ("timeout", {"duration_s": 600}, "timed_out")],
)
async def test_a_restricted_user_cannot_react(
    cast: Cast, action: str, extra: dict[str, Any], code: str
) -> None:
    await database_sync_to_async(cast.restrict)(action, **extra)
    async with (
        room(cast.show.pk, headers=cast.headers["viewer"]) as restricted,
        room(cast.show.pk, headers=cast.headers["other"]) as other,
        room(cast.show.pk) as anon,
    ):
        await restricted.send("reaction.send", {"kind": "heart"})
        err = await restricted.event_of("error")
        assert err["data"]["code"] == code
        assert err["data"]["message"] == "Spamming the room"
        await other.send("reaction.send", {"kind": "fire"})
        burst = await anon.event_of("reaction.burst")
    assert burst["data"]["counts"] == {"fire": 1}
    assert await database_sync_to_async(reaction_counts_take)(show_id=cast.show.pk) == {}


@pytest.mark.usefixtures("hubs_closed")
async def test_a_banned_moderator_is_read_only_too(cast: Cast) -> None:
    await database_sync_to_async(ShowModerator.objects.create)(show=cast.show, user=cast.viewer)
    await database_sync_to_async(cast.restrict)("ban")
    async with room(cast.show.pk, headers=cast.headers["viewer"]) as mod:
        assert mod.snapshot is not None
        assert mod.snapshot["moderation"]["action"] == "ban"
        for type, data in [
            ("chat.send", {"text": "still here"}),
            ("reaction.send", {"kind": "heart"}),
            ("moderate", {"action": "ban", "user": cast.other.pk, "reason": "Revenge"}),
        ]:
            await mod.send(type, data)
            err = await mod.event_of("error")
            assert err["data"]["code"] == "banned", type
    assert not await database_sync_to_async(
        ModerationAction.objects.filter(target_user=cast.other).exists
    )()


def test_a_restricted_user_cannot_chat_over_rest(live_show, host, viewer, client_for):  # type: ignore[no-untyped-def]
    assert time_out(client_for(host), live_show.pk, viewer, 60).status_code == 201
    assert_error(chat(client_for(viewer), live_show.pk), 403, "timed_out")


# --- precedence: nothing shorter lifts something longer ------------------------------


def test_a_moderators_timeout_does_not_lift_a_hosts_ban(  # type: ignore[no-untyped-def]
    live_show, host, moderator, viewer, client_for
):
    ban = moderate(client_for(host), live_show.pk, action="ban", user=viewer.pk, reason="Abuse")
    assert ban.status_code == 201
    timeout = time_out(client_for(moderator), live_show.pk, viewer, 1)
    body = assert_error(timeout, 409, "invalid_state")
    assert body["details"] == {"restriction": "ban"}
    assert not ModerationAction.objects.filter(action="timeout").exists()
    err = assert_error(chat(client_for(viewer), live_show.pk), 403, "banned")
    assert err["message"] == "Abuse"


def test_a_timeout_recorded_after_a_ban_does_not_lift_it(  # type: ignore[no-untyped-def]
    live_show, host, moderator, viewer, client_for
):
    # Two moderators acting at once can both pass the check: the row order must not matter.
    assert (
        moderate(client_for(host), live_show.pk, action="ban", user=viewer.pk, reason="Abuse")
    ).status_code == 201
    record_timeout(show=live_show, actor=moderator, target=viewer, ends_in_s=60)
    assert_error(chat(client_for(viewer), live_show.pk), 403, "banned")


def test_a_shorter_timeout_is_refused_and_a_longer_one_extends(  # type: ignore[no-untyped-def]
    live_show, host, moderator, viewer, client_for
):
    assert time_out(client_for(host), live_show.pk, viewer, 600, "Long").status_code == 201
    short = time_out(client_for(moderator), live_show.pk, viewer, 5, "Short")
    assert assert_error(short, 409, "invalid_state")["details"]["restriction"] == "timeout"
    longer = time_out(client_for(moderator), live_show.pk, viewer, 1200, "Longer")
    assert longer.status_code == 201
    err = assert_error(chat(client_for(viewer), live_show.pk), 403, "timed_out")
    assert err["details"]["until"] == longer.json()["until"]


def test_an_unban_lifts_everything_and_a_timeout_ends_by_itself(  # type: ignore[no-untyped-def]
    live_show, host, viewer, client_for
):
    for body in (
        {"action": "timeout", "reason": "Caps", "duration_s": 600},
        {"action": "ban", "reason": "Abuse"},
        {"action": "unban", "reason": "Appeal accepted"},
    ):
        assert moderate(client_for(host), live_show.pk, user=viewer.pk, **body).status_code == 201
    assert chat(client_for(viewer), live_show.pk).status_code == 201
    record_timeout(show=live_show, actor=host, target=viewer, ends_in_s=-1)
    assert chat(client_for(viewer), live_show.pk, "again").status_code == 201
