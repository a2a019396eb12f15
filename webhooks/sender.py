"""One delivery attempt over HTTP: no database here (the relay runs this in threads).

- The URL is checked and resolved again (`urlcheck.url_resolve`) and the request goes to
  the address that was checked, with the original Host header and TLS server name.
- `WEBHOOK_TIMEOUT_SECONDS` bounds the connect, the send and each read; the body read is
  capped at `MAX_RESPONSE_BYTES` and at the same deadline overall, so a 50 MB answer or a
  trickle costs at most that.
- Redirects are never followed: a 3xx is a failure (it could point anywhere).
- Connections are kept alive per host name and checked address (`_client_for`).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import httpx
import orjson
from django.conf import settings

from webhooks import signing
from webhooks.urlcheck import Target, UnsafeUrl, url_resolve

MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 1000
USER_AGENT = "livecommerce-webhooks/1"


@dataclass(frozen=True)
class Message:
    """What one attempt sends: the event, where, and with which secrets."""

    event_id: str
    type: str
    created_at: datetime
    data: Any
    url: str
    secrets: list[str]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int
    excerpt: str


def message_body(message: Message) -> bytes:
    """The POST body, `{id, type, created_at, data}`: the same bytes on every attempt."""
    created = message.created_at.isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {"id": message.event_id, "type": message.type, "created_at": created, "data": message.data}
    )


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Built once per process: loading the CA bundle is slow.
    return httpx.create_ssl_context()


_clients: OrderedDict[tuple[str, str, str, int], httpx.Client] = OrderedDict()
_clients_lock = threading.Lock()
MAX_CLIENTS = 256


def _client_for(target: Target) -> httpx.Client:
    """A keep-alive client per (scheme, host name, checked address, port): a connection is
    reused only for the same host name at the same address, so a TLS connection verified
    for one name never carries another's requests. Least recently used ones are closed."""
    key = (target.scheme, target.host, target.ip, target.port)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
        client = httpx.Client(verify=_ssl_context(), trust_env=False, follow_redirects=False)
        _clients[key] = client
        if len(_clients) > MAX_CLIENTS:
            _, oldest = _clients.popitem(last=False)
            oldest.close()
        return client


def message_send(message: Message) -> Outcome:
    """POST the message once; never raises for anything the receiver or network does."""
    started = time.monotonic()

    def done(ok: bool, code: int | None, error: str, excerpt: str = "") -> Outcome:
        ms = int((time.monotonic() - started) * 1000)
        # PostgreSQL text cannot hold NUL: a binary answer must not break the log.
        clean = (error[:300].replace("\x00", ""), excerpt[:EXCERPT_CHARS].replace("\x00", ""))
        return Outcome(ok, code, clean[0], ms, clean[1])

    try:
        target = url_resolve(message.url)
    except UnsafeUrl as exc:
        return done(False, None, f"refused: {exc}")
    body = message_body(message)
    timestamp = int(time.time())
    headers = {
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "webhook-id": message.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            secrets_=message.secrets, msg_id=message.event_id, timestamp=timestamp, body=body
        ),
    }
    limit = settings.WEBHOOK_TIMEOUT_SECONDS
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with _client_for(target).stream(
            "POST",
            target.connect_url,
            content=body,
            headers=headers,
            extensions=extensions,
            timeout=limit,
        ) as response:
            excerpt = _read_capped(response, deadline=started + limit)
            code = response.status_code
    except httpx.TimeoutException:
        return done(False, None, f"timeout: no answer within {limit:g} s")
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        return done(False, None, f"connection failed: {type(exc).__name__}: {exc}")
    if 200 <= code < 300:
        return done(True, code, "", excerpt)
    if 300 <= code < 400:
        location = response.headers.get("location", "")
        return done(False, code, f"redirect to {location[:200]!r} not followed", excerpt)
    return done(False, code, f"HTTP {code}", excerpt)


def _read_capped(response: httpx.Response, *, deadline: float) -> str:
    """Up to MAX_RESPONSE_BYTES of the answer, read before `deadline`; the rest is dropped
    with the connection."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw(chunk_size=16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES or time.monotonic() >= deadline:
            break
    return b"".join(chunks)[:EXCERPT_CHARS].decode("utf-8", "replace")
