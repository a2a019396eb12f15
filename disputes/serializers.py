"""The dispute's output shape, shared by the API and the pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from disputes.models import Dispute
from orders import clock


class DisputeOutput(serializers.ModelSerializer):
    buyer = serializers.CharField(source="buyer.username")
    seller_response = serializers.SerializerMethodField()
    deadline_passed = serializers.SerializerMethodField()

    class Meta:
        model = Dispute
        fields = [
            "id",
            "order",
            "shop",
            "buyer",
            "status",
            "reason",
            "text",
            "seller_deadline",
            "deadline_passed",
            "evidence",
            "seller_response",
            "resolution",
            "resolution_reason",
            "resolved_at",
            "created_at",
        ]

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "action": {"type": "string", "enum": ["refund", "reject"]},
                "reason": {"type": "string"},
                "at": {"type": "string", "format": "date-time"},
            },
        }
    )
    def get_seller_response(self, dispute: Dispute) -> dict[str, Any] | None:
        if not dispute.seller_action:
            return None
        at = dispute.seller_responded_at
        return {
            "action": dispute.seller_action,
            "reason": dispute.seller_reason,
            "at": at.isoformat() if at is not None else None,
        }

    def get_deadline_passed(self, dispute: Dispute) -> bool:
        return dispute.status == Dispute.Status.AWAITING_SELLER and (
            dispute.seller_deadline <= clock.now()
        )
