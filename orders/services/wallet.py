"""The buyer's wallet: saved payment methods (provider tokens) and shipping addresses,
one of each the default (one-tap buying needs both)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import transaction

from core.errors import Invalid, NotFound
from orders.models import Address, PaymentMethod
from orders.payments import get_provider
from orders.payments.base import UnknownToken

SavedT = TypeVar("SavedT", PaymentMethod, Address)


def _saved_add(model: type[SavedT], *, user: Any, is_default: bool, **fields: Any) -> SavedT:
    """Save one of the user's things; the first saved (or `is_default`) becomes the
    default. The user's row lock serialises their wallet writes (one default, always)."""
    with transaction.atomic():
        get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).first()
        defaults = model.objects.filter(user_id=user.pk, is_default=True)
        has_default = defaults.exists()
        if is_default and has_default:
            defaults.update(is_default=False)
        return model.objects.create(
            user_id=user.pk, **fields, is_default=is_default or not has_default
        )


def _saved_delete(model: type[SavedT], *, user: Any, pk: int, missing: str) -> None:
    """Forget one of the user's things (404 `missing` if not theirs); the newest other
    becomes the default."""
    with transaction.atomic():
        get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).first()
        saved = model.objects.filter(user_id=user.pk, pk=pk).first()
        if saved is None:
            raise NotFound(missing)
        saved.delete()
        if saved.is_default:
            nxt = model.objects.filter(user_id=user.pk).order_by("-id").first()
            if nxt is not None:
                nxt.is_default = True
                nxt.save(update_fields=["is_default"])


def payment_method_add(*, user: Any, token: str, is_default: bool = False) -> PaymentMethod:
    """Save a provider token; the first saved (or `is_default`) becomes the default."""
    try:
        info = get_provider().describe(token)
    except UnknownToken:
        raise Invalid(
            "Unknown payment token.", details={"token": ["Unknown payment token."]}
        ) from None
    return _saved_add(
        PaymentMethod,
        user=user,
        is_default=is_default,
        provider=get_provider().name,
        token=token,
        brand=info.brand,
        last4=info.last4,
    )


def payment_method_delete(*, user: Any, payment_method_id: int) -> None:
    """Forget a saved method (404 if not the user's); the newest other becomes default."""
    _saved_delete(PaymentMethod, user=user, pk=payment_method_id, missing="No such payment method.")


def address_add(*, user: Any, data: dict[str, str], is_default: bool = False) -> Address:
    """Save a shipping address; the first saved (or `is_default`) becomes the default."""
    return _saved_add(Address, user=user, is_default=is_default, **data)


def address_delete(*, user: Any, address_id: int) -> None:
    """Forget a saved address (404 if not the user's); the newest other becomes default."""
    _saved_delete(Address, user=user, pk=address_id, missing="No such address.")
