"""Admin for the platform plumbing (idempotency records are read-only evidence), and the
read-only mixin every app's admin uses for records staff read but must not edit."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.models import IdempotencyRecord


class ReadOnlyAdminMixin:
    """No add, change or delete in the admin (a `ModelAdmin` or an inline): for records
    whose writes go through services, with their checks and events."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "method",
        "path",
        "key",
        "status",
        "response_status",
        "created_at",
    )
    list_filter = ("status", "method")
    search_fields = ("key", "path", "user__username")
    list_select_related = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
