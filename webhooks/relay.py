"""The relay: claims due deliveries, sends them in parallel, records each outcome.

Design (docs/webhooks.md, "Delivery"):

- **Claiming.** One UPDATE leases due deliveries (`claim_token`, `locked_until`), taking
  the rows with ``FOR UPDATE SKIP LOCKED`` so concurrent relays never wait on each other
  nor take the same row. At most `WEBHOOK_ENDPOINT_CONCURRENCY` deliveries of one
  endpoint are in flight at once, and only one while it is failing (`failing_since`), so
  a slow or dead endpoint occupies one thread and never the relay. A relay killed
  mid-attempt loses nothing: its lease runs out and the next relay takes the delivery
  again (at least once; the `webhook-id` is the same).
- **Sending.** `WEBHOOK_RELAY_THREADS` threads run `sender.message_send` (HTTP only);
  every database write stays in the relay's own thread.
- **Outcome.** 2xx: delivered. Anything else: the next attempt after the retry
  schedule's delay (±20 % jitter), or `failed` after the last one. An endpoint whose
  every attempt failed for `WEBHOOK_DISABLE_AFTER_SECONDS` is disabled with a reason.
- **Waking.** `relay_wake` (after each commit that queued deliveries) starts one relay
  task unless one is running: a Redis marker, refreshed while a relay runs, dropped
  before its last look for work, so no wake-up is lost between the two. The beat sweep
  (`webhooks.sweep`) wakes it for retries and for anything a lost task left behind.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.redis import get_redis
from webhooks.models import Delivery, Endpoint
from webhooks.sender import Message, Outcome, message_send

logger = logging.getLogger(__name__)

RUNNING_KEY = "webhooks:relay:running"
JITTER = 0.2
# A relay hands over to a fresh task after this long: well below the Celery soft time
# limit, and short enough that a capture queued meanwhile gets this worker process soon.
RELAY_BUDGET_SECONDS = 10.0
# While attempts are in flight, look for newly due deliveries this often.
POLL_SECONDS = 0.05


def lease_seconds() -> float:
    """How long a claimed delivery stays claimed: past any attempt's end."""
    return 2 * settings.WEBHOOK_TIMEOUT_SECONDS + 5


def retry_delay(*, attempt: int) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based), with jitter;
    None when that was the last attempt of the schedule."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempt > len(schedule):
        return None
    base = schedule[attempt - 1]
    return max(0.0, base * random.uniform(1 - JITTER, 1 + JITTER))


# --------------------------------------------------------------------------- waking


def relay_wake() -> bool:
    """Start a relay task unless one is running or queued. Returns True if it started one."""
    from webhooks.tasks import relay  # the task module imports this one

    if not get_redis().set(RUNNING_KEY, "1", nx=True, ex=int(lease_seconds()) + 1):
        return False
    relay.delay()
    return True


def _marker_refresh() -> None:
    get_redis().set(RUNNING_KEY, "1", ex=int(lease_seconds()) + 1)


def _marker_drop() -> None:
    get_redis().delete(RUNNING_KEY)


def deliveries_due_exist() -> bool:
    return Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now(), endpoint__active=True
    ).exists()


# --------------------------------------------------------------------------- claiming


@dataclass(frozen=True)
class Job:
    delivery_id: int
    endpoint_id: int
    endpoint_failing: bool  # the endpoint had failed since its last success
    token: uuid.UUID
    number: int  # this attempt's number, 1-based
    started_at: datetime
    message: Message


# Each active endpoint's oldest due deliveries, up to its free slots (the concurrency
# minus what it has in flight; one slot while it is failing), then the oldest of those.
# Index lookups per endpoint, so a backlog of one endpoint costs the others nothing.
_CLAIM_SQL = """
WITH inflight AS (
    SELECT endpoint_id, count(*) AS n FROM webhooks_delivery
    WHERE locked_until IS NOT NULL AND locked_until > %(now)s AND status = 'pending'
    GROUP BY endpoint_id
), candidates AS (
    SELECT c.id, c.next_attempt_at
    FROM webhooks_endpoint e
    LEFT JOIN inflight i ON i.endpoint_id = e.id
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at FROM webhooks_delivery d
        WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= %(now)s
          AND (d.locked_until IS NULL OR d.locked_until <= %(now)s)
        ORDER BY d.next_attempt_at
        LIMIT GREATEST(
            0,
            (CASE WHEN e.failing_since IS NULL THEN %(per_endpoint)s ELSE 1 END)
                - COALESCE(i.n, 0)
        )
    ) c
    WHERE e.active
), locked AS (
    SELECT id FROM webhooks_delivery
    WHERE id IN (SELECT id FROM candidates ORDER BY next_attempt_at LIMIT %(limit)s)
      AND status = 'pending' AND (locked_until IS NULL OR locked_until <= %(now)s)
    FOR UPDATE SKIP LOCKED
)
UPDATE webhooks_delivery AS d SET claim_token = %(token)s, locked_until = %(lease)s
FROM webhooks_event AS ev, webhooks_endpoint AS e
WHERE d.id IN (SELECT id FROM locked) AND ev.id = d.event_id AND e.id = d.endpoint_id
RETURNING d.id, d.attempts, ev.id, ev.type, ev.created_at, ev.data, e.id, e.url,
    e.secret, e.previous_secret, e.previous_secret_expires_at, e.failing_since
"""


def deliveries_claim(*, limit: int) -> list[Job]:
    """Lease up to `limit` due deliveries and build what their attempts send."""
    if limit <= 0:
        return []
    now = timezone.now()
    token = uuid.uuid4()
    params: dict[str, Any] = {
        "now": now,
        "token": token,
        "lease": now + timedelta(seconds=lease_seconds()),
        "per_endpoint": settings.WEBHOOK_ENDPOINT_CONCURRENCY,
        "limit": limit,
    }
    # One statement (in autocommit, a transaction of its own): the lease and the data.
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        rows = cursor.fetchall()
    return [_job(row, token=token, now=now) for row in rows]


def _job(row: tuple[Any, ...], *, token: uuid.UUID, now: datetime) -> Job:
    (delivery_id, attempts, event_id, type_, created_at, data) = row[:6]
    (endpoint_id, url, secret, previous, previous_expires, failing_since) = row[6:]
    secrets = [secret]
    if previous and previous_expires is not None and previous_expires > now:
        secrets.append(previous)
    return Job(
        delivery_id=delivery_id,
        endpoint_id=endpoint_id,
        endpoint_failing=failing_since is not None,
        token=token,
        number=attempts + 1,
        started_at=now,
        message=Message(
            event_id=event_id,
            type=type_,
            created_at=created_at,
            data=orjson.Fragment(data) if isinstance(data, str | bytes) else data,
            url=url,
            secrets=secrets,
        ),
    )


# --------------------------------------------------------------------------- outcome

# One statement records a batch: each attempt logged, each delivery moved on only if it
# is still this claim's (the attempt is logged either way).
_OUTCOME_SQL = """
WITH v(id, token, status, attempts, next_at, code, error, ms, delivered_at, started_at,
       excerpt) AS (VALUES {rows}),
moved AS (
    UPDATE webhooks_delivery AS d SET
        status = v.status, attempts = v.attempts, claim_token = NULL, locked_until = NULL,
        next_attempt_at = COALESCE(v.next_at, d.next_attempt_at),
        last_status_code = v.code, last_error = v.error, last_duration_ms = v.ms,
        delivered_at = COALESCE(v.delivered_at, d.delivered_at)
    FROM v WHERE d.id = v.id AND d.claim_token = v.token
    RETURNING d.id
), logged AS (
    INSERT INTO webhooks_attempt (
        delivery_id, number, started_at, duration_ms, status_code, error, response_excerpt
    )
    SELECT v.id, v.attempts, v.started_at, v.ms, v.code, v.error, v.excerpt FROM v
    WHERE EXISTS (SELECT 1 FROM webhooks_delivery x WHERE x.id = v.id)
)
SELECT id FROM moved
"""
_OUTCOME_ROW = (
    "(%s::bigint, %s::uuid, %s::varchar, %s::int, %s::timestamptz, %s::int, %s::varchar, "
    "%s::int, %s::timestamptz, %s::timestamptz, %s::varchar)"
)


def attempts_record(*, results: list[tuple[Job, Outcome]]) -> None:
    """Log each attempt and move its delivery on: delivered, retry later (the schedule's
    delay with jitter), or failed after the last attempt; one statement per batch. A
    delivery re-claimed meanwhile (this lease ran out) keeps the newer claim's state."""
    if not results:
        return
    now = timezone.now()
    params: list[Any] = []
    for job, outcome in results:
        status = Delivery.Status.DELIVERED
        next_at: datetime | None = None
        delivered_at: datetime | None = now
        if not outcome.ok:
            delay = retry_delay(attempt=job.number)
            delivered_at = None
            if delay is None:
                status = Delivery.Status.FAILED
            else:
                status, next_at = Delivery.Status.PENDING, now + timedelta(seconds=delay)
        params += [
            job.delivery_id,
            job.token,
            status,
            job.number,
            next_at,
            outcome.status_code,
            outcome.error,
            outcome.duration_ms,
            delivered_at,
            job.started_at,
            outcome.excerpt,
        ]
    sql = _OUTCOME_SQL.format(rows=", ".join([_OUTCOME_ROW] * len(results)))
    for retry in (True, False):
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                moved = {row[0] for row in cursor.fetchall()}
            break
        except IntegrityError:
            # A delivery was deleted (its endpoint with it) while its attempt ran; once
            # more, and the statement skips it.
            if not retry:
                raise
    recovered = {
        job.endpoint_id
        for job, outcome in results
        if outcome.ok and job.endpoint_failing and job.delivery_id in moved
    }
    if recovered:
        Endpoint.objects.filter(pk__in=recovered).update(failing_since=None)
    failed = {
        job.endpoint_id: outcome.error
        for job, outcome in results
        if not outcome.ok and job.delivery_id in moved
    }
    for endpoint_id, error in sorted(failed.items()):
        _endpoint_failed(endpoint_id=endpoint_id, now=now, error=error)


def _endpoint_failed(*, endpoint_id: int, now: datetime, error: str) -> None:
    """Note the failure; disable the endpoint once it has failed without a single success
    for `WEBHOOK_DISABLE_AFTER_SECONDS`, with a reason its owner reads."""
    Endpoint.objects.filter(pk=endpoint_id).update(failing_since=Coalesce(F("failing_since"), now))
    cutoff = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
    endpoint = Endpoint.objects.filter(
        pk=endpoint_id, active=True, failing_since__lte=cutoff
    ).first()
    if endpoint is None:
        return
    assert endpoint.failing_since is not None
    days = (now - endpoint.failing_since).total_seconds() / 86400
    reason = (
        f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC: every delivery failed for "
        f"{days:.1f} days (since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC). "
        f"Last error: {error or 'unknown'}"
    )[:500]
    Endpoint.objects.filter(pk=endpoint_id, active=True).update(
        active=False, disabled_at=now, disabled_reason=reason
    )
    logger.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint_id})


# --------------------------------------------------------------------------- the loop


def relay_run(*, budget_seconds: float = RELAY_BUDGET_SECONDS) -> int:
    """Deliver until nothing is due (or the budget is spent); returns attempts made.
    Safe to run in several processes at once."""
    threads = max(1, settings.WEBHOOK_RELAY_THREADS)
    deadline = time.monotonic() + budget_seconds
    inflight: dict[Future[Outcome], Job] = {}
    made = 0
    refresh_at = 0.0
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook") as pool:
        while True:
            if time.monotonic() < deadline and len(inflight) < threads:
                if time.monotonic() >= refresh_at:
                    _marker_refresh()
                    refresh_at = time.monotonic() + 1.0
                jobs = deliveries_claim(limit=threads - len(inflight))
                if not jobs and not inflight:
                    # Drop the marker, then look once more: a delivery committed before
                    # the drop is seen now; one committed after it wakes a new relay.
                    _marker_drop()
                    jobs = deliveries_claim(limit=threads)
                    if not jobs:
                        return made
                for job in jobs:
                    inflight[pool.submit(message_send, job.message)] = job
            elif not inflight:
                break
            done, _ = wait(inflight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            attempts_record(results=[(inflight.pop(f), f.result()) for f in done])
            made += len(done)
    # Budget spent: hand over to a fresh task if work is left.
    _marker_drop()
    if deliveries_due_exist():
        relay_wake()
    return made
