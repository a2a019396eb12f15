"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by uvicorn)."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from livecommerce.routing import websocket_application  # noqa: E402
from streams.hub import close_hub  # noqa: E402


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """On shutdown, close the live room's hub: this process's viewers stop counting at
    once instead of after the presence TTL."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_hub()
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {"http": django_asgi_app, "websocket": websocket_application, "lifespan": lifespan}
)
