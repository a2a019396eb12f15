from django.urls import path

from support import api

urlpatterns = [
    path("help/articles/", api.ArticleListApi.as_view(), name="help-articles"),
    path(
        "help/articles/<str:slug_or_id>/",
        api.ArticleDetailApi.as_view(),
        name="help-article-detail",
    ),
    path("support/tickets/", api.TicketListApi.as_view(), name="support-tickets"),
    path(
        "support/tickets/<int:ticket_id>/",
        api.TicketDetailApi.as_view(),
        name="support-ticket-detail",
    ),
    path(
        "support/tickets/<int:ticket_id>/replies/",
        api.TicketReplyApi.as_view(),
        name="support-ticket-replies",
    ),
    path(
        "support/tickets/<int:ticket_id>/resolve/",
        api.TicketResolveApi.as_view(),
        name="support-ticket-resolve",
    ),
]
