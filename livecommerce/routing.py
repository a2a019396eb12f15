"""WebSocket routing: Origin rule, then session authentication, then the live room.

A present `Origin` must match ALLOWED_HOSTS; a missing one is allowed (apps, scripts) and
such clients authenticate with a ticket (see streams/ws_auth.py, docs/live-room.md).
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter

from streams.routing import websocket_urlpatterns
from streams.ws_auth import origin_validator

websocket_application = origin_validator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
