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

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.redis import get_redis
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.sender import Message, Outcome, message_send

logger = logging.getLogger(__name__)

RUNNING_KEY = "webhooks:relay:running"
JITTER = 0.2
# A relay hands over to a fresh task after this long (below the Celery soft time limit).
RELAY_BUDGET_SECONDS = 30.0
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
    from webhooks.tasks import relay

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


_CLAIM_SQL = """
WITH inflight AS (
    SELECT endpoint_id, count(*) AS n FROM webhooks_delivery
    WHERE status = 'pending' AND locked_until > %(now)s
    GROUP BY endpoint_id
), ranked AS (
    SELECT d.id, d.next_attempt_at, e.failing_since IS NOT NULL AS failing,
           row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id)
               + COALESCE(i.n, 0) AS slot
    FROM webhooks_delivery d
    JOIN webhooks_endpoint e ON e.id = d.endpoint_id AND e.active
    LEFT JOIN inflight i ON i.endpoint_id = d.endpoint_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s
      AND (d.locked_until IS NULL OR d.locked_until <= %(now)s)
), picked AS (
    SELECT id FROM ranked WHERE slot <= CASE WHEN failing THEN 1 ELSE %(per_endpoint)s END
    ORDER BY next_attempt_at, id LIMIT %(limit)s
), locked AS (
    SELECT id FROM webhooks_delivery
    WHERE id IN (SELECT id FROM picked) AND status = 'pending'
      AND (locked_until IS NULL OR locked_until <= %(now)s)
    FOR UPDATE SKIP LOCKED
)
UPDATE webhooks_delivery SET claim_token = %(token)s, locked_until = %(lease)s
WHERE id IN (SELECT id FROM locked)
RETURNING id
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
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    deliveries = Delivery.objects.filter(pk__in=ids, claim_token=token).select_related(
        "event", "endpoint"
    )
    return [_job(d, token=token, now=now) for d in deliveries]


def _job(delivery: Delivery, *, token: uuid.UUID, now: datetime) -> Job:
    endpoint, event = delivery.endpoint, delivery.event
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets.append(endpoint.previous_secret)
    return Job(
        delivery_id=delivery.pk,
        endpoint_id=endpoint.pk,
        endpoint_failing=endpoint.failing_since is not None,
        token=token,
        number=delivery.attempts + 1,
        started_at=now,
        message=Message(
            event_id=event.pk,
            type=event.type,
            created_at=event.created_at,
            data=event.data,
            url=endpoint.url,
            secrets=secrets,
        ),
    )


# --------------------------------------------------------------------------- outcome

# One statement moves a batch of deliveries on, each only if it is still this claim's.
_OUTCOME_SQL = """
UPDATE webhooks_delivery AS d SET
    status = v.status, attempts = v.attempts, claim_token = NULL, locked_until = NULL,
    next_attempt_at = COALESCE(v.next_at, d.next_attempt_at),
    last_status_code = v.code, last_error = v.error, last_duration_ms = v.ms,
    delivered_at = COALESCE(v.delivered_at, d.delivered_at)
FROM (VALUES {rows}) AS v(id, token, status, attempts, next_at, code, error, ms, delivered_at)
WHERE d.id = v.id AND d.claim_token = v.token
RETURNING d.id
"""
_OUTCOME_ROW = (
    "(%s::bigint, %s::uuid, %s::varchar, %s::int, %s::timestamptz, %s::int, %s::varchar, "
    "%s::int, %s::timestamptz)"
)


def attempts_record(*, results: list[tuple[Job, Outcome]]) -> None:
    """Log each attempt and move its delivery on: delivered, retry later (the schedule's
    delay with jitter), or failed after the last attempt; in one transaction per batch.
    A delivery re-claimed meanwhile (this lease ran out) keeps the newer claim's state."""
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
        ]
    sql = _OUTCOME_SQL.format(rows=", ".join([_OUTCOME_ROW] * len(results)))
    with transaction.atomic():
        Attempt.objects.bulk_create(
            Attempt(
                delivery_id=job.delivery_id,
                number=job.number,
                started_at=job.started_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
                response_excerpt=outcome.excerpt,
            )
            for job, outcome in results
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            moved = {row[0] for row in cursor.fetchall()}
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
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook") as pool:
        while True:
            if time.monotonic() < deadline and len(inflight) < threads:
                _marker_refresh()
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
