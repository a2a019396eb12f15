"""Hooks: how a lower app calls code that a higher app owns, without importing upwards.

Apps import downwards only (docs/architecture.md, "Layers"). When a rule of a lower app
needs a higher one (pinning needs trust's listing check, a product write needs trust's
review, a pin payload carries orders' shipping fee), the lower app declares a `Hook` in
its `hooks.py` (with a typed registration function and a typed caller), and the higher
app registers its function in `AppConfig.ready()`, which Django runs in every process
(web, ws, Celery worker, management commands, tests).

A hook has exactly one provider and is required: calling it before anyone registered
raises `InternalError` (a 500), so a misconfigured process fails loudly instead of
skipping a rule. Registering a second, different provider is an error too.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from core.errors import InternalError

T = TypeVar("T")


class Hook(Generic[T]):
    """One slot for `T` (a function, or an object with methods), filled once at start."""

    def __init__(self, name: str, *, provider: str) -> None:
        self.name = name
        self.provider = provider  # who registers it, for the error message
        self._impl: T | None = None

    def register(self, impl: T) -> None:
        if self._impl is not None and self._impl is not impl:
            raise InternalError(f"hook {self.name} already has a provider ({self._impl!r})")
        self._impl = impl

    def get(self) -> T:
        if self._impl is None:
            raise InternalError(
                f"hook {self.name} has no provider: {self.provider} registers it in its "
                "AppConfig.ready() (is that app in INSTALLED_APPS?)"
            )
        return self._impl
