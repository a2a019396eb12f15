"""`Idempotency-Key` support for any POST (SPEC "Conventions").

Design (after Zulip's and Stripe's): the first request *claims* the key by inserting a
row in its own committed transaction, so a concurrent repeat sees the claim and gets
409 `request_in_progress`. When the first request ends with a non-5xx answer the answer
is stored and every repeat with the same body replays it byte for byte; a repeat with a
different body gets 422 `idempotency_key_reused`. A 5xx (or a crash) drops the claim so
the client may retry. Claims left by a killed process go stale after
`STALE_CLAIM_SECONDS` and can be taken over.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework.request import Request

from core.errors import ApiError
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
STALE_CLAIM_SECONDS = 120
MAX_KEY_LENGTH = 255


class IdempotentReplay(Exception):
    """Raised to short-circuit a view with the stored first answer."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__("idempotent replay")
        self.response = response


def _request_hash(request: Request) -> str:
    digest = hashlib.sha256()
    try:
        digest.update(request._request.body)
    except RawPostDataException:  # multipart already streamed: hash what was parsed
        digest.update(repr(sorted((k, str(v)) for k, v in request.data.items())).encode())
    return digest.hexdigest()


def idempotency_claim(*, request: Request) -> IdempotencyRecord | None:
    """Claim the request's key, or raise: a replay, 409 in progress, or 422 reused."""
    key = request.headers.get(HEADER)
    if not key or request.method != "POST" or not request.user.is_authenticated:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            "invalid",
            f"{HEADER} must be at most {MAX_KEY_LENGTH} characters.",
            status=400,
            details={HEADER: ["Too long."]},
        )
    scope: dict[str, Any] = {
        "user": request.user,
        "method": request.method,
        "path": request.path,
        "key": key,
    }
    request_hash = _request_hash(request)
    claimed = _claim(scope=scope, request_hash=request_hash)
    if claimed is not None:
        return claimed
    existing = IdempotencyRecord.objects.filter(**scope).first()
    if existing is None:  # vanished between the claim and this read: claim it afresh
        return IdempotencyRecord.objects.create(**scope, request_hash=request_hash)
    if existing.request_hash != request_hash:
        raise ApiError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body.",
            status=422,
        )
    if existing.status == IdempotencyRecord.Status.DONE:
        response = HttpResponse(
            existing.response_body,
            status=existing.response_status or 200,
            content_type=existing.response_content_type or "application/json",
        )
        response["Idempotent-Replayed"] = "true"
        raise IdempotentReplay(response)
    stale = timezone.now() - timedelta(seconds=STALE_CLAIM_SECONDS)
    taken = IdempotencyRecord.objects.filter(
        pk=existing.pk, status=IdempotencyRecord.Status.IN_PROGRESS, created_at__lt=stale
    ).update(created_at=timezone.now())
    if taken:
        return existing
    raise ApiError(
        "request_in_progress",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        status=409,
    )


# The claim in one statement (its own transaction in autocommit): a new row, or an expired
# record of the same scope taken over in place; nothing when a live record holds the scope.
_CLAIM = f"""
INSERT INTO {IdempotencyRecord._meta.db_table} AS r (user_id, key, method, path, request_hash,
    status, response_status, response_body, response_content_type, created_at, completed_at)
VALUES (%(user)s, %(key)s, %(method)s, %(path)s, %(hash)s, %(status)s, NULL, '', '', %(now)s, NULL)
ON CONFLICT (user_id, method, path, key) DO UPDATE SET
    request_hash = EXCLUDED.request_hash, status = EXCLUDED.status, response_status = NULL,
    response_body = '', response_content_type = '', created_at = EXCLUDED.created_at,
    completed_at = NULL
WHERE r.created_at < %(expiry)s
RETURNING r.id
"""  # noqa: S608 - the table name is the model's; values are parameters


def _claim(*, scope: dict[str, Any], request_hash: str) -> IdempotencyRecord | None:
    """Claim the scope: insert its record, or take over one older than the retention
    window (what a purge would have deleted); None when a live record holds it. Every
    POST with a key runs this, so it is one round trip (it was a DELETE of the expired
    record, then BEGIN, INSERT and COMMIT)."""
    now = timezone.now()
    params = {
        "user": scope["user"].pk,
        "key": scope["key"],
        "method": scope["method"],
        "path": scope["path"],
        "hash": request_hash,
        "status": IdempotencyRecord.Status.IN_PROGRESS,
        "now": now,
        "expiry": now - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS),
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, params)
        row = cursor.fetchone()
    if row is None:
        return None
    record = IdempotencyRecord(id=row[0], **scope, request_hash=request_hash, created_at=now)
    record._state.adding = False
    return record


def idempotency_complete(*, record: IdempotencyRecord, response: HttpResponse) -> None:
    """Store a non-5xx answer for replay; drop the claim after a 5xx."""
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=IdempotencyRecord.Status.DONE,
        response_status=response.status_code,
        response_body=response.content.decode(),
        response_content_type=response.get("Content-Type", "application/json"),
        completed_at=timezone.now(),
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).delete()


def idempotency_purge_expired() -> int:
    """Delete records older than the retention window; returns how many."""
    expiry = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=expiry).delete()
    return deleted
