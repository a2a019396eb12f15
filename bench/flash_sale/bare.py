"""The floor of the flash-sale benchmark: a bare DRF no-op (no middleware, no database, no
authentication, no throttles), as its own settings module, urlconf and apps.

    DJANGO_SETTINGS_MODULE=bench.flash_sale.bare
    uvicorn bench.flash_sale.bare:asgi_application      (the product's ASGI server)
    gunicorn bench.flash_sale.bare:wsgi_application     (the product's WSGI server)

`bench/flash_sale/run.py` serves it with the same server and worker count as the product
and reports every product figure as a ratio to it (STYLE.md: measure against the floor).
"""

from __future__ import annotations

import os
from typing import Any

# --- settings (this module is the settings module) -----------------------------------------
DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY") or "bench-bare-not-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["rest_framework"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = __name__
DATABASES: dict[str, Any] = {}
USE_TZ = True
LOGGING_CONFIG = None
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

os.environ["DJANGO_SETTINGS_MODULE"] = __name__

# --- the view and its URL ------------------------------------------------------------------
from django.urls import path  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class BareNoopApi(APIView):
    def post(self, request: Request) -> Response:
        _ = request.data  # parse the body, as the product's no-op and buy do
        return Response({"ok": True}, status=201)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # The product gets Content-Length from CommonMiddleware; without it the servers
        # answer chunked (uvicorn) or close the connection (gunicorn), which is not the
        # keep-alive floor we want to measure.
        response = super().finalize_response(request, response, *args, **kwargs)
        response.render()
        response["Content-Length"] = str(len(response.content))
        return response


urlpatterns = [
    path("api/bench/noop/", BareNoopApi.as_view()),
    path("healthz", BareNoopApi.as_view()),
]


# --- the apps (built lazily: Django reads this module as its settings first) ---------------
def __getattr__(name: str) -> Any:
    if name == "asgi_application":
        from django.core.asgi import get_asgi_application

        globals()[name] = get_asgi_application()
        return globals()[name]
    if name == "wsgi_application":
        from django.core.wsgi import get_wsgi_application

        globals()[name] = get_wsgi_application()
        return globals()[name]
    raise AttributeError(name)
