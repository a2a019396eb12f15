"""WebSocket routing. Origin and authentication rules live in streams (SPEC "WebSocket")."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter

from streams.routing import websocket_urlpatterns

websocket_application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
