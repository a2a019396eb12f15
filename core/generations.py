"""Generation counters in Redis: the invalidation half of the sold-out gate.

`orders.soldout` remembers "PostgreSQL found this variant sold out in this show" and names
the generations it saw; any bump here makes that memory void at once. The counters live in
`core` because the changes that must bump them are made at every layer: stock's owner
(`orders.inventory`: a release, a raise of on hand) and the live room (`streams.services`:
a pin set or cleared, the show ended) — so neither has to import the gate itself
(docs/architecture.md, "Layers"). The reasoning and the bound are in `orders/soldout.py`.
"""

from __future__ import annotations

from django.db import transaction

from core.redis import get_redis, redis_key
from core.throttling import CACHE_ERRORS, warn_cache_down

# A generation outlives any flag naming it (flags live seconds): a counter that expired
# reads "0" again, which no live flag can name unless it was written under "0" within the
# last TTL — and any bump since then wrote a higher value first.
GENERATION_TTL_S = 7 * 24 * 3600


def variant_key(variant_id: int) -> str:
    return redis_key("soldout", "v", variant_id)


def variant_key_prefix() -> str:
    """`variant_key` without the id: the gate's Lua script builds the key from a flag."""
    return redis_key("soldout", "v", "")


def show_key(show_id: int) -> str:
    return redis_key("soldout", "s", show_id)


def _bump(key: str) -> None:
    try:
        pipe = get_redis().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, GENERATION_TTL_S)
        pipe.execute()
    except CACHE_ERRORS as exc:
        # Flags naming the old generation lapse within SOLDOUT_GATE_TTL_SECONDS.
        warn_cache_down("sold-out gate bump", exc)


def _bump_now_and_after_commit(key: str) -> None:
    _bump(key)
    transaction.on_commit(lambda: _bump(key))


def stock_back(*, variant_id: int) -> None:
    """Call after any change that may make units of the variant available again (a
    release, a raise of on hand), inside its transaction: the gate stops answering
    `sold_out` for it at once and again after commit."""
    _bump_now_and_after_commit(variant_key(variant_id))


def show_changed(*, show_id: int) -> None:
    """Call when what a show sells changes (a pin set or cleared, the show ended): every
    flag of the show is forgotten, so PostgreSQL decides the next buy's answer."""
    _bump_now_and_after_commit(show_key(show_id))
