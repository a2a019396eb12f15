"""The clock every checkout rule reads (hold expiry, offers, stuck payments).

Services call `orders.clock.now()` instead of `timezone.now()` so tests can freeze and
advance time instead of sleeping. In production it is exactly `timezone.now()`.
The override is per process: a uvicorn server or Celery worker started by a test keeps
the real clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

_frozen: datetime | None = None
_offset = timedelta(0)


def now() -> datetime:
    """The current time (aware, UTC), honouring a test's freeze or advance."""
    base = _frozen if _frozen is not None else timezone.now()
    return base + _offset


def freeze(at: datetime | None = None) -> datetime:
    """Stop the clock at `at` (default: the real now). Returns the frozen time."""
    global _frozen, _offset
    _frozen = at or timezone.now()
    _offset = timedelta(0)
    return _frozen


def advance(seconds: float) -> datetime:
    """Move the clock forward by `seconds` (frozen or not). Returns the new now."""
    global _offset
    _offset += timedelta(seconds=seconds)
    return now()


def reset() -> None:
    """Back to the real clock."""
    global _frozen, _offset
    _frozen = None
    _offset = timedelta(0)
