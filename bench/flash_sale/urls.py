"""The product's URLs plus `POST /api/bench/noop/`: a DRF view with the same authentication,
permission, parser and renderer as buy, doing nothing. It is the baseline buy is
compared with, and is mounted only by `bench.flash_sale.settings`."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView
from livecommerce.urls import handler404, handler500
from livecommerce.urls import urlpatterns as product_urlpatterns


class NoopApi(ApiView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        _ = request.data  # parse the body as buy does
        return Response({"ok": True}, status=201)


urlpatterns = [path("api/bench/noop/", NoopApi.as_view()), *product_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]
