"""Staff work the support queue in the admin: open tickets by priority and due time,
escalated ones flagged; a reply written here goes through `ticket_reply`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from core.errors import ApiError
from support import services
from support.models import Article, Ticket, TicketReply


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "topic", "updated_at"]
    search_fields = ["title", "slug", "keywords"]
    # Articles are files in support/articles/: edit them there (loaded at migrate).
    readonly_fields = [f.name for f in Article._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class TicketReplyInline(admin.TabularInline):
    model = TicketReply
    extra = 0
    can_delete = False
    readonly_fields = ["author", "from_staff", "text", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TicketReplyForm(forms.ModelForm):
    staff_reply = forms.CharField(
        widget=forms.Textarea, required=False, max_length=5000, help_text="Sent to the seller."
    )

    class Meta:
        model = Ticket
        fields: list[str] = []


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketReplyForm
    inlines = [TicketReplyInline]
    list_display = [
        "id",
        "subject",
        "requester",
        "category",
        "priority",
        "status",
        "due_at",
        "escalated",
    ]
    list_filter = ["status", "priority", "escalated", "category"]
    search_fields = ["subject", "requester__username"]
    ordering = ["status", "-escalated", "priority_rank", "due_at"]
    readonly_fields = [f.name for f in Ticket._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        text = (form.cleaned_data.get("staff_reply") or "").strip()
        if not text:
            return
        try:
            services.ticket_reply(author=request.user, ticket_id=obj.pk, text=text)
        except ApiError as exc:
            messages.error(request, exc.message)
