from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import healthz, readyz

# Django tries routes in order: the flash sale's (buy, holds; then pins and shows) first.
# No two of these apps share a route, so the order decides nothing else.
api_v1 = [
    path("", include("orders.urls")),
    path("", include("streams.urls")),
    path("", include("accounts.urls")),
    path("", include("catalog.urls")),
    path("", include("trust.urls")),
    path("", include("disputes.urls")),
    path("", include("support.urls")),
    path("", include("auctions.urls")),
    path("", include("webhooks.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.page_urls")),
    path("", include("support.page_urls")),
    path("", include("pages.urls")),
]

handler400 = "core.errors.handler400"
handler404 = "core.errors.handler404"
handler500 = "core.errors.handler500"
