from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # In ready(): the admin site and accounts.pages (forms on the auth models) need
        # the app registry loaded.
        from django.contrib import admin

        from accounts.pages import AdminSignInForm

        # The admin's sign-in words a throttled attempt like our own page does (the
        # limits themselves are in the authentication backend, for every door).
        admin.site.login_form = AdminSignInForm
