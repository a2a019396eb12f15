"""The payment provider interface.

Contract every provider honours (the services rely on it):
- `capture` and `refund` are idempotent per `idempotency_key`: a repeat with the same key
  returns the first result and moves no money twice. The checkout uses
  ``order-<id>`` for captures and ``refund-<id>`` for refunds, so a retried task, a
  redelivered message or a recovered order can never charge twice.
- A definite "no" (declined card, insufficient funds) is a `CaptureResult` with
  ``succeeded=False``; a failure to get an answer (timeout, provider down) raises
  `ProviderError`, which the caller may retry with the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orders.models import Order


class ProviderError(Exception):
    """The provider could not be reached or failed; retrying with the same key is safe."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UnknownToken(Exception):
    """The token does not name a payment method this provider knows."""


@dataclass(frozen=True)
class CardInfo:
    brand: str
    last4: str


@dataclass(frozen=True)
class CaptureResult:
    succeeded: bool
    reference: str = ""
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class RefundResult:
    reference: str


class PaymentProvider(Protocol):
    name: str

    def describe(self, token: str) -> CardInfo:
        """Brand and last four digits for a token; raises `UnknownToken`."""
        ...

    def capture(self, *, order: Order, amount: Decimal, idempotency_key: str) -> CaptureResult:
        """Charge `amount` to the order's payment token."""
        ...

    def refund(
        self, *, order: Order, amount: Decimal, reference: str, idempotency_key: str
    ) -> RefundResult:
        """Give back `amount` of the capture `reference`."""
        ...
