from django.urls import path

from support import views

app_name = "support"

urlpatterns = [
    path("help/", views.help_index, name="help"),
    path("help/<slug:slug>/", views.help_article, name="help-article"),
    path("support/tickets/<int:ticket_id>/", views.ticket_page, name="ticket"),
]
