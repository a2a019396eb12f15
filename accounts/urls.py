from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register/", api.RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", api.TokenApi.as_view(), name="auth-token"),
    path("auth/logout/", api.LogoutApi.as_view(), name="auth-logout"),
]
