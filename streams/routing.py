"""WebSocket routes of the live room (SPEC "WebSocket")."""

from django.urls import path

from streams.consumers import ShowConsumer

websocket_urlpatterns = [
    path("ws/shows/<int:show_id>/", ShowConsumer.as_asgi()),
]
