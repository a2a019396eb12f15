"""A banned viewer appeals from "My account → cases and appeals"; staff overturn it in
the admin; the viewer's open show page unmutes at once and their message goes out."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from streams.models import Show
from streams.services import moderation_apply
from tests.browser.conftest import new_context, screenshot, sign_in
from tests.factories import ShopFactory, ShowFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_banned_viewer_appeals_and_staff_overturn_unmutes_them(browser, server):
    host = UserFactory(username="host")
    show = ShowFactory(
        shop=ShopFactory(owner=host),
        title="Friday drop",
        status=Show.Status.LIVE,
        started_at=timezone.now(),
    )
    bob = UserFactory(username="bob")
    admin = UserFactory(username="trustadmin")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    moderation_apply(
        show_id=show.pk,
        actor=host,
        action="ban",
        target_user_id=bob.pk,
        reason="Repeated spam after a warning",
    )

    bob_ctx = new_context(browser, server)
    viewer = sign_in(bob_ctx, "bob", f"/shows/{show.pk}/")
    expect(viewer.get_by_label("Message")).to_be_disabled()

    cases = bob_ctx.new_page()
    cases.goto("/")
    cases.get_by_role("link", name="Cases & appeals").click()
    expect(cases.get_by_role("heading", name="Chat ban")).to_be_visible()
    expect(cases.get_by_text("Repeated spam after a warning")).to_be_visible()
    cases.get_by_label("Appeal").fill("I posted one link, and it was the shop's own page.")
    cases.get_by_role("button", name="Send appeal").click()
    expect(cases.locator("[data-appeal-status]")).to_have_text("pending")
    screenshot(cases, "account-cases", sizes=("desktop",))

    staff = sign_in(new_context(browser, server), "trustadmin", "/admin/trust/case/")
    staff.locator("input[name=_selected_action]").first.check()
    staff.get_by_label("Decision reason").fill("The link was the shop's own page.")
    staff.locator("select[name=action]").select_option("overturn_appeal")
    staff.get_by_role("button", name="Go").click()
    expect(staff.get_by_text("appeal overturned")).to_be_visible()

    # The open show page hears the unban over its socket and lets bob chat at once.
    expect(viewer.get_by_label("Message")).to_be_enabled()
    viewer.get_by_label("Message").fill("thanks for checking")
    viewer.get_by_role("button", name="Send").click()
    expect(viewer.locator("#messages")).to_contain_text("thanks for checking")

    cases.reload()
    expect(cases.locator("[data-appeal-status]")).to_have_text("overturned")
    expect(cases.get_by_text("The link was the shop's own page.")).to_be_visible()
