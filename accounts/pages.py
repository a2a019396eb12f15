"""Session pages: sign-in (Django's view, behind the sign-in limits) and sign-up."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework.authtoken.models import Token

from accounts.signin import SignInThrottled, signin_attempt_check, signin_refusal

BACKEND = "accounts.backends.ThrottledModelBackend"


class _ThrottleMessageMixin:
    """Says "too many attempts" instead of "wrong password" when the limits refused the
    attempt (the backend refused it; this only words the answer)."""

    request: HttpRequest | None

    def clean(self) -> Any:
        try:
            return super().clean()  # type: ignore[misc]
        except ValidationError:
            refusal = signin_refusal(self.request) if self.request is not None else None
            if refusal is not None:
                raise ValidationError(refusal.message, code="throttled") from None
            raise


class SignInForm(_ThrottleMessageMixin, AuthenticationForm):
    pass


class AdminSignInForm(_ThrottleMessageMixin, AdminAuthenticationForm):
    pass


class SignInView(auth_views.LoginView):
    form_class = SignInForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if signin_refusal(self.request) is not None:
            response.status_code = 429
        return response


def signup(request: HttpRequest) -> HttpResponse:
    form: UserCreationForm
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    status = 200
    if request.method == "POST":
        form = UserCreationForm(request.POST)
        try:
            # A password presented on sign-up counts like any other (accounts.signin).
            signin_attempt_check(request=request, username=request.POST.get("username"))
        except SignInThrottled as refusal:
            form.add_error(None, refusal.message)
            status = 429
        else:
            if form.is_valid():
                user = form.save()
                Token.objects.get_or_create(user=user)
                login(request, user, backend=BACKEND)
                return redirect(next_url)
    else:
        form = UserCreationForm()
    context = {"form": form, "next": next_url}
    return render(request, "accounts/signup.html", context, status=status)
