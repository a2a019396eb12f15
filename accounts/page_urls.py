from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import pages

urlpatterns = [
    path("login/", pages.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", pages.signup, name="signup"),
]
