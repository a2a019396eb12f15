"""The sold-out gate: a buyer of a variant PostgreSQL has just found sold out is answered
409 `sold_out` from Redis, in one round trip, before any PostgreSQL work.

In a drop most buyers are refused (800 buyers for 200 units: 600 answers of `sold_out`).
Each refusal used to pay the whole PostgreSQL path (pin, variants, due holds, stock); the
gate lets them cost one Lua call. It is a cache of a *refusal* only: it never lets a buy
through, so it cannot oversell; PostgreSQL stays the stock gate (`orders.inventory`).

INVARIANT: the gate answers `sold_out` only if PostgreSQL said ``available == 0`` for that
variant, and no stock increase of the variant committed since. How:

- **Generations** (`core.generations`). Every variant has a counter in Redis
  (``soldout:v:<variant>``), bumped by every change that can give units back
  (`stock_back`: a hold released — expired, cancelled, payment failed, an auction's
  unit, a waitlist unit given back — and every raise of on hand — an adjustment, a
  restock after a cancel or refund, a CSV import).
  Every show has one too (``soldout:s:<show>``), bumped when its pin changes or it ends
  (`show_changed`), so a re-pin (another limit, another product) is decided by
  PostgreSQL again.
- **Mark only if nothing moved.** `sold_out_confirm` reads both counters *before* the
  PostgreSQL read that sees 0 available, and the flag is written by one Lua script only if
  both still hold the values read. A release that commits after that read bumps after its
  commit: either before the mark (the script refuses) or after it (the flag names an old
  generation, and the gate ignores it). A release that committed before the read was seen
  by it (READ COMMITTED: each statement sees what committed before it started).
- **Bump twice.** `stock_back` bumps at once (inside the transaction) *and* after commit.
  The after-commit bump is the one the argument above needs; the immediate one also
  invalidates flags in a transaction that never commits in tests (pytest-django's `db`).
- **Expiries.** A hold past `expires_at` is released by the next buyer who reaches
  PostgreSQL (`hold_create`'s pre-check), even before the sweep. The flag carries the
  earliest expiry of the variant's active holds without an order, and the gate lets every
  buyer through to PostgreSQL from that instant (checked with `orders.clock`, so tests
  that advance the clock see it too).
- **Backstop TTL.** A flag lives `SOLDOUT_GATE_TTL_SECONDS` (5) at most. If a bump is lost
  (Redis unreachable at that moment, or the process dies between COMMIT and the
  after-commit bump), buyers are told `sold_out` for at most that long after units came
  back. That is the bound (docs/operations.md, "Sold-out gate").

What is not a stock change and is not tracked: a product archived, a variant added to a
product bought without `variant`, a show deleted. Within the TTL such a buyer may get
`sold_out` where PostgreSQL would answer `not_pinned`, `variant_required` or 404 — a
refusal either way, never a sale refused that PostgreSQL would have made.

Redis errors fail open: the gate is skipped and PostgreSQL answers, as before it existed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from core.generations import show_key, variant_key, variant_key_prefix
from core.redis import get_redis, redis_key
from core.throttling import CACHE_ERRORS, warn_cache_down
from orders import clock

logger = logging.getLogger(__name__)

# The flag, checked: KEYS[1] the flag, KEYS[2] the show's generation; ARGV[1] the
# prefix of variant generations. The flag's value is
# "<variant>|<variant generation>|<show generation>|<limit>|<expiry ms>"; the script
# returns it only while both generations are still the ones it names. (The variant's
# key is built here from the value: one Redis server, not a cluster.)
_CHECK = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
local variant, vgen, sgen = string.match(v, '^(%d+)|(%d+)|(%d+)|')
if not variant then return false end
if (redis.call('GET', ARGV[1] .. variant) or '0') ~= vgen then return false end
if (redis.call('GET', KEYS[2]) or '0') ~= sgen then return false end
return v
"""

# The mark: KEYS[1] the flag, KEYS[2] the variant's generation, KEYS[3] the show's;
# ARGV: the two generations read before PostgreSQL said 0, the value's tail
# ("<limit>|<expiry ms>"), the variant id, the TTL in ms. Atomic: no bump can land
# between the comparison and the SET.
_MARK = """
local vgen = redis.call('GET', KEYS[2]) or '0'
local sgen = redis.call('GET', KEYS[3]) or '0'
if vgen ~= ARGV[1] or sgen ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[4] .. '|' .. vgen .. '|' .. sgen .. '|' .. ARGV[3], 'PX', ARGV[5])
return 1
"""

# Available units and the earliest expiry of the variant's holds that can still expire,
# in one statement (replaces the plain stock read of the sold-out path).
_AVAILABLE = """
SELECT v.stock_on_hand - v.held,
       (SELECT min(h.expires_at) FROM orders_hold AS h
         WHERE h.variant_id = v.id AND h.status = 'active' AND h.order_id IS NULL)
FROM catalog_variant AS v WHERE v.id = %s
"""

_scripts_lock = threading.Lock()
_scripts: dict[str, Any] = {}


def _script(source: str) -> Any:
    client = get_redis()
    with _scripts_lock:
        script = _scripts.get(source)
        if script is None or script.registered_client is not client:
            script = _scripts[source] = client.register_script(source)
        return script


def _flag_key(*, show_id: int, product_id: int, variant_id: int | None) -> str:
    return redis_key("soldout", "f", show_id, product_id, variant_id or "-")


def sold_out_known(*, show_id: int, product_id: int, variant_id: int | None, quantity: int) -> bool:
    """True when the buy can be answered `sold_out` without PostgreSQL: the request's
    show, product and variant (as the buyer gave it, or none) were found sold out, nothing
    came back since, no hold of the variant is due, and `quantity` is within the pin's
    limit (past it, PostgreSQL answers `limit_exceeded` first, as it always did)."""
    if not settings.SOLDOUT_GATE_ENABLED:
        return False
    try:
        raw = _script(_CHECK)(
            keys=[
                _flag_key(show_id=show_id, product_id=product_id, variant_id=variant_id),
                show_key(show_id),
            ],
            args=[variant_key_prefix()],
        )
    except CACHE_ERRORS as exc:
        warn_cache_down("sold-out gate", exc)
        return False
    if raw is None:
        return False
    _variant, _vgen, _sgen, limit, expiry_ms = raw.decode().split("|")
    if limit and quantity > int(limit):
        return False
    return not (expiry_ms and clock.now().timestamp() * 1000 >= int(expiry_ms))


@dataclass(frozen=True)
class _Seen:
    """The generations read before PostgreSQL's answer (None: Redis was unreachable)."""

    variant: bytes | None
    show: bytes | None


def sold_out_confirm(
    *,
    show_id: int,
    product_id: int,
    requested_variant_id: int | None,
    variant_id: int,
    limit: int | None,
    quantity: int,
) -> bool:
    """The sold-out path's stock read: True when fewer than `quantity` units are available
    now (answer `sold_out`). When PostgreSQL says none at all, remember it for the gate —
    only if no stock came back while it was asked (see the module docstring)."""
    seen = _generations(show_id=show_id, variant_id=variant_id)
    with connection.cursor() as cursor:
        cursor.execute(_AVAILABLE, [variant_id])
        row = cursor.fetchone()
    available, earliest_expiry = (0, None) if row is None else (int(row[0]), row[1])
    if available == 0 and seen is not None:
        _mark(
            key=_flag_key(show_id=show_id, product_id=product_id, variant_id=requested_variant_id),
            seen=seen,
            show_id=show_id,
            variant_id=variant_id,
            limit=limit,
            earliest_expiry=earliest_expiry,
        )
    return available < quantity


def _generations(*, show_id: int, variant_id: int) -> _Seen | None:
    if not settings.SOLDOUT_GATE_ENABLED:
        return None
    try:
        variant, show = get_redis().mget([variant_key(variant_id), show_key(show_id)])
    except CACHE_ERRORS as exc:
        warn_cache_down("sold-out gate", exc)
        return None
    return _Seen(variant=_bytes(variant), show=_bytes(show))


def _bytes(value: Any) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _mark(
    *,
    key: str,
    seen: _Seen,
    show_id: int,
    variant_id: int,
    limit: int | None,
    earliest_expiry: datetime | None,
) -> None:
    ttl_ms = int(settings.SOLDOUT_GATE_TTL_SECONDS * 1000)
    expiry_ms = "" if earliest_expiry is None else str(int(earliest_expiry.timestamp() * 1000))
    try:
        _script(_MARK)(
            keys=[key, variant_key(variant_id), show_key(show_id)],
            args=[
                seen.variant or b"0",
                seen.show or b"0",
                f"{'' if limit is None else limit}|{expiry_ms}",
                variant_id,
                ttl_ms,
            ],
        )
    except CACHE_ERRORS as exc:
        warn_cache_down("sold-out gate", exc)
