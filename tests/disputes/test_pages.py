"""Pages: the buyer's orders with dispute status and deadline; the dashboard's Disputes
section with the deadline and the answer form; Mark delivered in the shipments script."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from disputes import services

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_orders_page_offers_a_dispute_on_a_paid_order(sold):
    order = sold("paid")
    html = logged_in(order.buyer).get("/orders/").content.decode()
    assert f'data-order="{order.pk}"' in html
    assert f"/api/v1/orders/{order.pk}/disputes/" in html


def test_orders_page_shows_the_dispute_status_and_seller_deadline(sold):
    order = sold("delivered")
    dispute = services.dispute_open(
        buyer=order.buyer, order_id=order.pk, reason="damaged", text="Broken"
    )
    html = logged_in(order.buyer).get("/orders/").content.decode()
    assert "Awaiting Seller" in html
    assert dispute.seller_deadline.strftime("%Y-%m-%d %H:%M") in html
    assert f"/api/v1/orders/{order.pk}/disputes/" not in html  # one open at a time


def test_orders_page_shows_nothing_of_other_buyers(sold):
    order = sold("paid")
    html = logged_in(sold("paid").buyer).get("/orders/").content.decode()
    assert f'data-order="{order.pk}"' not in html


def test_orders_page_needs_sign_in():
    assert Client().get("/orders/").status_code == 302


def test_dashboard_disputes_section_has_the_deadline_and_answer_form(sold, clock):
    order = sold("shipped")
    dispute = services.dispute_open(
        buyer=order.buyer, order_id=order.pk, reason="not_received", text="Still waiting"
    )
    html = logged_in(order.shop.owner).get("/dashboard/").content.decode()
    assert 'id="disputes"' in html
    assert "Still waiting" in html
    assert dispute.seller_deadline.strftime("%Y-%m-%d %H:%M") in html
    assert f"/api/v1/disputes/{dispute.pk}/respond/" in html
    clock.advance(49 * 3600)
    html = logged_in(order.shop.owner).get("/dashboard/").content.decode()
    assert "overdue" in html


def test_dashboard_script_can_mark_parcels_delivered():
    script = (Path(__file__).resolve().parents[2] / "static/js/dashboard.js").read_text()
    assert "/deliver/" in script
