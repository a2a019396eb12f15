"""The sandbox payment provider: deterministic behaviour chosen by the token.

| token | capture |
|---|---|
| `sandbox_ok` | succeeds |
| `sandbox_declined` | declined (`card_declined`) |
| `sandbox_insufficient_funds` | declined (`insufficient_funds`) |
| `sandbox_slow` | succeeds after `SANDBOX_SLOW_SECONDS` (captures and refunds) |
| `sandbox_error` | raises `ProviderError` on every attempt (the caller retries, then fails) |

Its ledger is the `SandboxCharge` table: one row per idempotency key, so a repeated
capture returns the first charge, exactly like a real provider's idempotency.
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from orders.models import Order, SandboxCharge
from orders.payments.base import CaptureResult, CardInfo, ProviderError, RefundResult, UnknownToken

TOKENS: dict[str, CardInfo] = {
    "sandbox_ok": CardInfo(brand="sandbox", last4="4242"),
    "sandbox_declined": CardInfo(brand="sandbox", last4="0002"),
    "sandbox_insufficient_funds": CardInfo(brand="sandbox", last4="9995"),
    "sandbox_slow": CardInfo(brand="sandbox", last4="3220"),
    "sandbox_error": CardInfo(brand="sandbox", last4="0119"),
}

ERROR_TOKEN = "sandbox_error"  # noqa: S105 - a public test token, not a secret
SLOW_TOKEN = "sandbox_slow"  # noqa: S105

_DECLINES = {
    "sandbox_declined": ("card_declined", "The card was declined."),
    "sandbox_insufficient_funds": ("insufficient_funds", "The card has insufficient funds."),
}


class SandboxProvider:
    name = "sandbox"

    def describe(self, token: str) -> CardInfo:
        try:
            return TOKENS[token]
        except KeyError:
            raise UnknownToken(token) from None

    def capture(self, *, order: Order, amount: Decimal, idempotency_key: str) -> CaptureResult:
        token = order.payment_token
        if token not in TOKENS:
            return CaptureResult(False, code="unknown_token", message="Unknown payment token.")
        if token == ERROR_TOKEN:
            raise ProviderError("provider_error", "The sandbox provider failed (sandbox_error).")
        if token in _DECLINES:
            code, message = _DECLINES[token]
            return CaptureResult(False, code=code, message=message)
        if token == SLOW_TOKEN:
            time.sleep(settings.SANDBOX_SLOW_SECONDS)
        charge = self._record(
            key=idempotency_key,
            kind=SandboxCharge.Kind.CAPTURE,
            token=token,
            amount=amount,
            currency=order.currency,
        )
        return CaptureResult(True, reference=charge.reference)

    def refund(
        self, *, order: Order, amount: Decimal, reference: str, idempotency_key: str
    ) -> RefundResult:
        if order.payment_token == SLOW_TOKEN:
            time.sleep(settings.SANDBOX_SLOW_SECONDS)
        charge = self._record(
            key=idempotency_key,
            kind=SandboxCharge.Kind.REFUND,
            token=order.payment_token,
            amount=amount,
            currency=order.currency,
        )
        return RefundResult(reference=charge.reference)

    def _record(
        self, *, key: str, kind: str, token: str, amount: Decimal, currency: str
    ) -> SandboxCharge:
        """The first row for `key` wins; a repeat (even a concurrent one) returns it."""
        existing = SandboxCharge.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return SandboxCharge.objects.create(
                    idempotency_key=key, kind=kind, token=token, amount=amount, currency=currency
                )
        except IntegrityError:
            return SandboxCharge.objects.get(idempotency_key=key)
