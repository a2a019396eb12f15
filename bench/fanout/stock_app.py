"""The stock-Channels baseline: one group, `group_send` per message (channels_redis).

Serve with ``uvicorn bench.fanout.stock_app:application``; publish with
``channel_layer.group_send("room", {"type": "room.message", "text": ...})``.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.fanout.stock_settings")
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class RoomConsumer(AsyncWebsocketConsumer):
    groups = ["room"]

    async def room_message(self, event: dict) -> None:
        await self.send(text_data=event["text"])


application = URLRouter([path("ws/room/", RoomConsumer.as_asgi())])
