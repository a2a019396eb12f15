"""The dashboard's webhooks section: the owner sees endpoints, why one is disabled, the
delivery log and redeliver buttons; staff see none of it."""

from __future__ import annotations

import pytest

from tests.factories import ShopStaffFactory
from webhooks.models import Endpoint
from webhooks.services import endpoint_create, event_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(shop, settings):  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOW_PRIVATE = True
    made = endpoint_create(shop=shop, url="http://127.0.0.1:9/erp-hook", events=["order.paid"])
    event_record(shop_id=shop.pk, type="order.paid", data={"id": 1})
    return made


def test_the_owner_sees_endpoints_deliveries_and_redeliver(web_for, shop, endpoint):
    html = web_for(shop.owner).get("/dashboard/").content.decode()
    assert 'id="webhooks"' in html and "http://127.0.0.1:9/erp-hook" in html
    delivery = endpoint.deliveries.get()
    assert f'data-delivery="{delivery.pk}"' in html and "order.paid" in html
    assert f'data-redeliver="{delivery.pk}"' in html
    assert endpoint.secret not in html


def test_a_disabled_endpoint_shows_its_reason_and_an_enable_button(web_for, shop, endpoint):
    Endpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_reason="Disabled automatically: every delivery failed for 5.0 days"
    )
    html = web_for(shop.owner).get("/dashboard/").content.decode()
    assert "every delivery failed for 5.0 days" in html
    assert f'data-webhook-enable="{endpoint.pk}"' in html


def test_staff_do_not_see_the_webhooks_section(web_for, shop, endpoint):
    staff = ShopStaffFactory(shop=shop).user
    html = web_for(staff).get(f"/dashboard/?shop={shop.pk}").content.decode()
    assert 'id="webhooks"' not in html and "erp-hook" not in html


def test_the_redeliver_button_s_request_works_with_the_session(web_for, shop, endpoint):
    client = web_for(shop.owner)
    delivery = endpoint.deliveries.get()
    r = client.post(
        f"/api/v1/shops/{shop.pk}/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/"
    )
    assert r.status_code == 201 and r.json()["redelivery_of"] == delivery.pk
