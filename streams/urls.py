from django.urls import path

from streams import api
from streams.api_realtime import WsTicketApi

urlpatterns = [
    path("shows/", api.ShowListApi.as_view(), name="show-list"),
    path("shows/<int:show_id>/", api.ShowDetailApi.as_view(), name="show-detail"),
    path("shows/<int:show_id>/start/", api.ShowStartApi.as_view(), name="show-start"),
    path("shows/<int:show_id>/end/", api.ShowEndApi.as_view(), name="show-end"),
    path(
        "shows/<int:show_id>/chat-settings/",
        api.ShowChatSettingsApi.as_view(),
        name="show-chat-settings",
    ),
    path(
        "shows/<int:show_id>/moderators/", api.ShowModeratorsApi.as_view(), name="show-moderators"
    ),
    path("shows/<int:show_id>/pins/", api.PinListApi.as_view(), name="show-pins"),
    path("shows/<int:show_id>/pins/current/", api.PinCurrentApi.as_view(), name="show-pin-current"),
    path("shows/<int:show_id>/messages/", api.MessageListApi.as_view(), name="show-messages"),
    path("shows/<int:show_id>/moderation/", api.ModerationApi.as_view(), name="show-moderation"),
    path("me/moderation/", api.MeModerationApi.as_view(), name="me-moderation"),
    path("shows/<int:show_id>/ws-ticket/", WsTicketApi.as_view(), name="show-ws-ticket"),
]
