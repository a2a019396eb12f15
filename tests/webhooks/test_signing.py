"""Our signatures verify with `standardwebhooks`, an independent implementation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks import signing
from webhooks.sender import Message, message_body


def _headers(msg_id: str, ts: int, signature: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_a_secret_is_whsec_and_24_random_bytes_in_base64():
    secret = signing.secret_generate()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert secret != signing.secret_generate()


def test_standardwebhooks_verifies_our_signature_and_returns_the_payload():
    secret = signing.secret_generate()
    body = message_body(
        Message(
            event_id="evt_1",
            type="order.paid",
            created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            data={"id": 7, "total": "19.99"},
            url="http://example.invalid/",
            secrets=[secret],
        )
    )
    ts = int(datetime.now(tz=UTC).timestamp())
    header = signing.signature_header(secrets_=[secret], msg_id="evt_1", timestamp=ts, body=body)
    payload = Webhook(secret).verify(body, _headers("evt_1", ts, header))
    assert payload == {
        "id": "evt_1",
        "type": "order.paid",
        "created_at": "2026-01-02T03:04:05Z",
        "data": {"id": 7, "total": "19.99"},
    }


def test_during_a_rotation_both_the_new_and_the_old_secret_verify():
    new, old = signing.secret_generate(), signing.secret_generate()
    body = b'{"id":"evt_2"}'
    ts = int(datetime.now(tz=UTC).timestamp())
    header = signing.signature_header(secrets_=[new, old], msg_id="evt_2", timestamp=ts, body=body)
    assert len(header.split(" ")) == 2
    for secret in (new, old):
        Webhook(secret).verify(body, _headers("evt_2", ts, header))
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.secret_generate()).verify(body, _headers("evt_2", ts, header))


def test_a_tampered_body_or_id_does_not_verify():
    secret = signing.secret_generate()
    ts = int(datetime.now(tz=UTC).timestamp())
    header = signing.sign(secret=secret, msg_id="evt_3", timestamp=ts, body=b'{"a":1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', _headers("evt_3", ts, header))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":1}', _headers("evt_4", ts, header))
