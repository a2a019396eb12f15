"""Reactions: counted per show in Redis, taken atomically by the live room."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import AnonymousUser

from core.errors import ApiError
from core.redis import get_redis
from streams.models import Show
from streams.services import (
    reaction_counts_key,
    reaction_counts_take,
    reaction_send,
)
from tests.factories import ShowFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_reactions_are_counted_per_kind(live_show, viewer, host):
    reaction_send(show_id=live_show.pk, user=viewer, kind="heart")
    reaction_send(show_id=live_show.pk, user=host, kind="heart")
    reaction_send(show_id=live_show.pk, user=viewer, kind="fire")
    assert reaction_counts_take(show_id=live_show.pk) == {"heart": 2, "fire": 1}


def test_take_resets_the_counts(live_show, viewer):
    reaction_send(show_id=live_show.pk, user=viewer, kind="clap")
    reaction_counts_take(show_id=live_show.pk)
    assert reaction_counts_take(show_id=live_show.pk) == {}


def test_counts_are_per_show(live_show, shop, viewer):
    other = ShowFactory(shop=shop, status=Show.Status.LIVE)
    reaction_send(show_id=other.pk, user=viewer, kind="wow")
    assert reaction_counts_take(show_id=live_show.pk) == {}
    assert reaction_counts_take(show_id=other.pk) == {"wow": 1}


@pytest.mark.parametrize("kind", ["poop", "", None, 3, "HEART"])
def test_unknown_kind_is_invalid(live_show, viewer, kind):
    with pytest.raises(ApiError) as info:
        reaction_send(show_id=live_show.pk, user=viewer, kind=kind)
    assert (info.value.code, info.value.status) == ("invalid", 400)
    assert reaction_counts_take(show_id=live_show.pk) == {}


def test_anonymous_cannot_react(live_show):
    with pytest.raises(ApiError) as info:
        reaction_send(show_id=live_show.pk, user=AnonymousUser(), kind="heart")
    assert info.value.code == "not_authenticated"


def test_reactions_need_a_live_show(scheduled_show, viewer):
    with pytest.raises(ApiError) as info:
        reaction_send(show_id=scheduled_show.pk, user=viewer, kind="heart")
    assert info.value.code == "show_not_live"


def test_reactions_are_rate_limited_per_user(live_show, viewer, settings):
    for _ in range(settings.REACTION_RATE):
        reaction_send(show_id=live_show.pk, user=viewer, kind="heart")
    with pytest.raises(ApiError) as info:
        reaction_send(show_id=live_show.pk, user=viewer, kind="heart")
    assert (info.value.code, info.value.status) == ("throttled", 429)
    assert reaction_counts_take(show_id=live_show.pk) == {"heart": settings.REACTION_RATE}


def test_counts_key_expires_when_nobody_takes_them(live_show, viewer):
    reaction_send(show_id=live_show.pk, user=viewer, kind="heart")
    assert 0 < get_redis().ttl(reaction_counts_key(live_show.pk)) <= 300


def test_concurrent_sends_and_takes_lose_nothing_and_count_nothing_twice(live_show):
    """Increments racing with takes: every reaction lands in exactly one take."""
    key = reaction_counts_key(live_show.pk)
    per_thread, threads = 300, 4
    taken: list[dict[str, int]] = []
    done = threading.Event()

    def send() -> None:
        redis = get_redis()
        for _ in range(per_thread):
            redis.hincrby(key, "heart", 1)  # the increment reaction_send performs

    def take() -> None:
        while not done.is_set():
            taken.append(reaction_counts_take(show_id=live_show.pk))

    taker = threading.Thread(target=take)
    taker.start()
    senders = [threading.Thread(target=send) for _ in range(threads)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    done.set()
    taker.join()
    taken.append(reaction_counts_take(show_id=live_show.pk))
    assert sum(t.get("heart", 0) for t in taken) == per_thread * threads


def test_many_users_react(live_show):
    users = UserFactory.create_batch(3)
    for user in users:
        reaction_send(show_id=live_show.pk, user=user, kind="laugh")
    assert reaction_counts_take(show_id=live_show.pk) == {"laugh": 3}
