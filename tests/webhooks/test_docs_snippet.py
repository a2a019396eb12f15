"""The verification snippet in docs/webhooks.md works on a real delivery."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from tests.factories import ShopFactory
from webhooks import relay
from webhooks.services import event_record

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def _snippet() -> dict[str, Any]:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


@pytest.mark.django_db(transaction=True)
def test_the_documented_snippet_verifies_a_real_delivery(receiver, endpoint_for):
    verify_webhook = _snippet()["verify_webhook"]
    shop = ShopFactory()
    endpoint = endpoint_for(shop, receiver.url)
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 42})
    relay.relay_run()
    (received,) = receiver.received
    event = verify_webhook(endpoint.secret, received.headers, received.body)
    assert event["type"] == "order.paid" and event["data"] == {"id": 42}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(endpoint.secret, received.headers, received.body + b" ")
