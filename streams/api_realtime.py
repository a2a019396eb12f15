"""REST for the live room's transport: WebSocket tickets (SPEC "REST")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView
from streams.tickets import ws_ticket_issue


class WsTicketApi(ApiView):
    """POST /api/v1/shows/{id}/ws-ticket/ → 201 {ticket}: single use, valid 60 s."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        ticket = serializers.CharField()

    @extend_schema(request=None, responses={201: OutputSerializer}, operation_id="show_ws_ticket")
    def post(self, request: Request, show_id: int) -> Response:
        ticket = ws_ticket_issue(user=request.user, show_id=show_id)
        return Response(self.OutputSerializer({"ticket": ticket}).data, status=201)
