"""The authentication backend: Django's ModelBackend behind the sign-in limits.

Every password Django checks — API token, HTML sign-in, admin sign-in, DRF's browsable
login — passes through `authenticate()` and so through this backend, which counts the
attempt first (`accounts.signin`). A throttled attempt is refused without checking the
password; the refusal is left on the request for the view to answer 429 / show why.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.signin import (
    SignInThrottled,
    signin_attempt_check,
    signin_note_refusal,
    signin_note_success,
)


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None or password is None:
            # No client to count (a management command, a test's `Client.login`).
            return super().authenticate(request, username=username, password=password, **kwargs)
        try:
            signin_attempt_check(request=request, username=username)
        except SignInThrottled as refusal:
            signin_note_refusal(request=request, refusal=refusal)
            # Stops `authenticate()` trying other backends; it answers None.
            raise PermissionDenied(refusal.message) from refusal
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            signin_note_success(request=request, username=user.get_username())
        return user
