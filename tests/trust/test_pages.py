"""Pages: "My account → cases and appeals" and the dashboard's listing quality section."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.factories import ProductFactory
from trust.models import Case

pytestmark = pytest.mark.django_db


def web_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_cases_page_needs_sign_in():
    r = Client().get("/account/cases/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_cases_page_lists_my_case_with_reason_evidence_and_appeal_form(viewer, ban_case, live_show):
    html = web_for(viewer).get("/account/cases/").content.decode()
    assert "Chat ban" in html and "Slurs" in html and live_show.title in html
    assert f'data-api-url="/api/v1/cases/{ban_case.pk}/appeal/"' in html
    assert 'href="/account/cases/"' in html  # linked from the navigation


def test_cases_page_shows_the_appeal_and_decision_instead_of_the_form(
    client_for, viewer, ban_case, platform_staff
):
    client_for(viewer).post(f"/api/v1/cases/{ban_case.pk}/appeal/", {"text": "Quote."})
    client_for(platform_staff).post(
        f"/api/v1/staff/cases/{ban_case.pk}/decision/",
        {"decision": "overturn", "reason": "It was a quote."},
    )
    html = web_for(viewer).get("/account/cases/").content.decode()
    assert 'appeal/"' not in html
    assert "overturned" in html and "It was a quote." in html


def test_cases_page_shows_only_my_cases(stranger, ban_case):
    html = web_for(stranger).get("/account/cases/").content.decode()
    assert "Slurs" not in html and "No cases" in html


def test_cases_page_escapes_the_evidence(live_show, host, viewer):
    from streams.services import chat_send, moderation_apply

    chat_send(show_id=live_show.pk, user=viewer, text="<script>alert(1)</script>")
    moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="XSS"
    )
    html = web_for(viewer).get("/account/cases/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_dashboard_shows_listing_quality_with_fixes(shop, host):
    ProductFactory(shop=shop, title="Replica watch, gold tone")
    ProductFactory(
        shop=shop,
        title="Linen shirt, relaxed fit",
        description="Washed linen, mother-of-pearl buttons, true to size.",
        image_url="https://img.example.com/s.jpg",
    )
    html = web_for(host).get("/dashboard/").content.decode()
    assert 'id="quality"' in html
    assert 'data-check="prohibited_terms"' in html and "blocked" in html
    assert 'data-check="image"' in html and "Add a photo." in html
    assert ">100</strong>/100" in html
    assert Case.objects.filter(kind="listing_flagged").count() == 1
