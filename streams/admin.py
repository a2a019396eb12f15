"""Admin for shows, chat and moderation.

Chat messages and moderation actions are records: staff read them (support, appeals)
but do not edit them here, because edits in the admin would skip the services' checks
and the events viewers rely on. Moderation goes through the API or the live room.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from core.admin import ReadOnlyAdminMixin
from streams.models import ChatMessage, LineupItem, ModerationAction, Pin, Show, ShowModerator


class LineupItemInline(admin.TabularInline):
    model = LineupItem
    extra = 0
    raw_id_fields = ["product"]


class PinInline(admin.TabularInline):
    model = Pin
    extra = 0
    fields = ("product", "price", "limit_per_buyer", "pinned_at", "unpinned_at", "offset_s")
    readonly_fields = (
        "product",
        "price",
        "limit_per_buyer",
        "pinned_at",
        "unpinned_at",
        "offset_s",
    )
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ShowModeratorInline(admin.TabularInline):
    model = ShowModerator
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Show)
class ShowAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "shop", "status", "rehearsal", "scheduled_at", "started_at"]
    list_filter = ["status", "rehearsal"]
    search_fields = ["title", "shop__name"]
    raw_id_fields = ["shop"]
    readonly_fields = ["status", "started_at", "ended_at", "last_seq", "created_at"]
    inlines = [LineupItemInline, PinInline, ShowModeratorInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(ChatMessage)
class ChatMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "show", "user", "text", "created_at", "removed_at"]
    list_filter = [("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["text", "user__username"]
    list_select_related = ["show", "user"]


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "show", "action", "target_user", "actor", "reason", "until", "created_at"]
    list_filter = ["action"]
    search_fields = ["reason", "target_user__username", "actor__username"]
    list_select_related = ["show", "target_user", "actor"]
