"""The capture lock: how a running payment attempt is told from a dead one, at once.

`order_capture_payment` holds a PostgreSQL **session-level advisory lock** keyed by the
order for the whole attempt — from before its `started` PaymentAttempt row is committed
until after its result is recorded — on the task's own database connection. PostgreSQL
releases a session's advisory locks when the session ends, and the session ends when
the process holding it dies (its socket closes: `kill -9`, an OOM kill, a hard time
limit, a lost host once TCP keepalive gives up). So:

    lock free + attempt `started`  ⇒  the attempt is dead  ⇒  safe to judge and retry.

Everyone else only ever *tries* the lock (`pg_try_advisory_lock`, never waits): a retry
or a redelivered task (`capture_lock`), and the recovery sweep, which reads `pg_locks`
(`held_capture_locks`) to find dead attempts without taking anything. Recovery after a
worker crash therefore takes one sweep interval, not `PAYMENT_ATTEMPT_STALE_SECONDS`.

The charge itself is kept single by the provider's idempotency key (`order-<id>`), not by
this lock: the lock decides *when* it is safe to try again, the key makes trying again
harmless. Needs a session-level database connection (no transaction-mode pooler between
the worker and PostgreSQL; docs/celery.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

# The first key of the two-key advisory lock: this lock's namespace ("lc" + 1).
CAPTURE_LOCK_SPACE = 0x6C630001


@contextmanager
def capture_lock(*, order_id: int) -> Iterator[bool]:
    """Try to take the order's capture lock on this connection; yields whether it was
    taken, and releases it on the way out (also on an exception)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [CAPTURE_LOCK_SPACE, order_id])
        (locked,) = cursor.fetchone()
    try:
        yield bool(locked)
    finally:
        if locked:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [CAPTURE_LOCK_SPACE, order_id]
                    )
            except DatabaseError:
                # The session is gone (a database restart, a dropped connection), and its
                # lock with it: nothing to release, and the attempt's own error stands.
                logger.warning("capture lock of order %s lost with its session", order_id)


def held_capture_locks(*, order_ids: list[int]) -> set[int]:
    """Which of these orders have a capture running right now (their lock is held by a
    live session of this database). A read: takes no lock."""
    if not order_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT objid FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = %s::oid
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND objid = ANY(%s::oid[])
            """,
            [CAPTURE_LOCK_SPACE, order_ids],
        )
        return {int(row[0]) for row in cursor.fetchall()}
