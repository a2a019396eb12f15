"""Payment providers behind one interface (`base.PaymentProvider`).

`get_provider()` returns the configured provider (`settings.PAYMENT_PROVIDER`); the
built-in sandbox (`sandbox.SandboxProvider`) is part of the product, for development,
demos and tests.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from orders.payments.base import PaymentProvider


@lru_cache(maxsize=4)
def _load(path: str) -> PaymentProvider:
    provider: PaymentProvider = import_string(path)()
    return provider


def get_provider() -> PaymentProvider:
    return _load(settings.PAYMENT_PROVIDER)
