"""Every Redis key and channel the product writes carries REDIS_KEY_PREFIX, so two
deployments sharing one Redis database cannot collide."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from core.redis import redis_channel, redis_key
from streams import fanout, presence, tickets
from streams.services import reaction_counts_key


def _names() -> list[str]:
    return [
        fanout.show_stream_key(7),
        fanout.show_channel(7),
        fanout.user_channel(7),
        presence.presence_key(7),
        presence.tick_key(7),
        presence.last_key(7),
        tickets.ticket_key("abc"),
        reaction_counts_key(7),
    ]


def test_every_name_starts_with_the_prefix(settings) -> None:
    settings.REDIS_KEY_PREFIX = "blue"
    assert redis_key("a", 1) == "blue:a:1"
    assert all(name.startswith("blue:") for name in _names()), _names()


def test_two_prefixes_share_no_name(settings) -> None:
    settings.REDIS_KEY_PREFIX = "blue"
    blue = set(_names())
    settings.REDIS_KEY_PREFIX = "green"
    assert not blue & set(_names())


def test_channels_also_carry_the_database_number(settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/3"
    assert redis_channel("show", 1) == f"{settings.REDIS_KEY_PREFIX}:3:show:1"


@pytest.mark.django_db
def test_the_cache_uses_the_same_prefix(settings) -> None:
    cache = caches["default"]
    assert cache.make_key("x").startswith(f"{settings.REDIS_KEY_PREFIX}:")
