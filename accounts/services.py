"""Account writes: registration, API tokens."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts.authentication import token_cache_revoke
from core.errors import Invalid


@transaction.atomic
def user_register(*, username: str, password: str, email: str = "") -> tuple[User, str]:
    """Create a user and their API token. Raises `Invalid` for a taken name or weak password."""
    if User.objects.filter(username__iexact=username).exists():
        raise Invalid("That username is taken.", details={"username": ["That username is taken."]})
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise Invalid(exc.messages[0], details={"password": list(exc.messages)}) from exc
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:
        raise Invalid(
            "That username is taken.", details={"username": ["That username is taken."]}
        ) from exc
    token = Token.objects.create(user=candidate)
    return candidate, token.key


def token_issue(*, user: User) -> str:
    """Return the user's API token, creating it if they have none."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def token_revoke(*, user: User) -> None:
    """Delete the user's token: it stops working at once, also where it was cached
    (`accounts.authentication`). The cache is told first: if Redis is unreachable this
    raises (a 503) and the token is left as it was, never half revoked."""
    for key in Token.objects.filter(user=user).values_list("key", flat=True):
        token_cache_revoke(key=key)
    Token.objects.filter(user=user).delete()
