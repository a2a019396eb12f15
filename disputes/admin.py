"""Staff decide disputes in the admin: pick a decision and write the reason; saving calls
the same service as `POST /api/v1/staff/disputes/{id}/decision/`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from core.errors import ApiError
from disputes import services
from disputes.models import Dispute


class DisputeDecisionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[("", "— no decision —"), ("refund", "Refund the buyer"), ("reject", "Reject")],
        required=False,
    )
    decision_reason = forms.CharField(
        widget=forms.Textarea, required=False, max_length=2000, help_text="Shown to both sides."
    )

    class Meta:
        model = Dispute
        fields: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") and not (data.get("decision_reason") or "").strip():
            self.add_error("decision_reason", "A decision needs a reason.")
        return data


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    form = DisputeDecisionForm
    list_display = ["id", "order", "shop", "buyer", "reason", "status", "seller_deadline"]
    list_filter = ["status", "reason", "resolution"]
    search_fields = ["buyer__username", "order__id"]
    readonly_fields = [f.name for f in Dispute._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Dispute, form: Any, change: bool) -> None:
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        try:
            services.dispute_decide(
                actor=request.user,
                dispute_id=obj.pk,
                decision=decision,
                reason=form.cleaned_data["decision_reason"].strip(),
            )
        except ApiError as exc:
            messages.error(request, exc.message)
