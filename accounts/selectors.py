"""Account reads."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Case, IntegerField, Value, When


def user_by_username(username: Any) -> User | None:
    """The user a username names, whatever its case; None when nobody (or not a string).

    The case rule: usernames are stored as written, and a name that differs from a taken
    one only by case cannot be registered (`accounts.services.user_register`), so a name
    typed in any case names one account. Accounts made elsewhere (the admin,
    `createsuperuser`) could still differ only by case: then the exact spelling wins,
    else the oldest account.
    """
    if not isinstance(username, str) or not username:
        return None
    return (
        User.objects.filter(username__iexact=username)
        .order_by(
            Case(
                When(username=username, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            "pk",
        )
        .first()
    )
