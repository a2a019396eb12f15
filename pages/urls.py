from django.urls import path

from pages import views

app_name = "pages"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("shows/<int:show_id>/", views.show_page, name="show"),
    path("studio/shows/<int:show_id>/", views.studio_page, name="studio"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("account/cases/", views.account_cases, name="account-cases"),
    path("orders/", views.my_orders, name="orders"),
    path("dashboard/shows/<int:show_id>/", views.show_analytics_page, name="show-analytics"),
]
