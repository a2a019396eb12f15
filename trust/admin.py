"""Admin for cases: the staff queue for appeals, and the read-only audit log.

Cases and appeals are read-only here; staff decide through the two actions (a reason is
required, typed in the action bar), which call the same service as the API
(`trust.services.appeal_decide`), so the restriction is lifted, the person told and the
audit log written exactly as over REST.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdminMixin
from core.errors import ApiError
from trust import services
from trust.models import Appeal, Case, CaseEvent


class DecisionActionForm(ActionForm):
    reason = forms.CharField(
        required=False, label="Decision reason", widget=forms.TextInput(attrs={"size": 60})
    )


class AppealInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = Appeal
    extra = 0
    readonly_fields = (
        "text",
        "status",
        "created_at",
        "due_at",
        "escalated_at",
        "decided_at",
        "decided_by",
        "decision_reason",
    )


class CaseEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseEvent
    extra = 0
    readonly_fields = ("kind", "actor", "data", "created_at")


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "rule",
        "subject",
        "actor",
        "status",
        "appeal_status",
        "appeal_due",
        "created_at",
    )
    list_filter = ("kind", "status", "actor", "appeal__status")
    search_fields = ("subject__username", "reason")
    list_select_related = ("subject", "appeal")
    readonly_fields = [f.name for f in Case._meta.fields]
    inlines = [AppealInline, CaseEventInline]
    action_form = DecisionActionForm
    actions = ["overturn_appeal", "uphold_appeal"]

    @admin.display(description="appeal")
    def appeal_status(self, obj: Case) -> str:
        appeal = Appeal.objects.filter(case=obj).first()
        return appeal.status if appeal else "—"

    @admin.display(description="appeal due")
    def appeal_due(self, obj: Case) -> Any:
        appeal = Appeal.objects.filter(case=obj).first()
        return appeal.due_at if appeal and appeal.status == Appeal.Status.PENDING else None

    def _decide(self, request: HttpRequest, queryset: QuerySet[Case], decision: str) -> None:
        reason = request.POST.get("reason", "")
        for case in queryset:
            try:
                services.appeal_decide(
                    case_id=case.pk, staff=request.user, decision=decision, reason=reason
                )
            except ApiError as exc:
                self.message_user(request, f"Case {case.pk}: {exc.message}", messages.ERROR)
            else:
                done = "overturned" if decision == services.Decision.OVERTURN else "upheld"
                self.message_user(request, f"Case {case.pk}: appeal {done}.")

    @admin.action(description="Overturn the appeal (lift the restriction; reason required)")
    def overturn_appeal(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._decide(request, queryset, services.Decision.OVERTURN)

    @admin.action(description="Uphold the appeal (reason required)")
    def uphold_appeal(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._decide(request, queryset, services.Decision.UPHOLD)


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "case", "kind", "actor", "created_at")
    list_filter = ("kind",)
    readonly_fields = ("case", "kind", "actor", "data", "created_at")
