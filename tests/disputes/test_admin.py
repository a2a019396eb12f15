"""Staff decide disputes in the Django admin through the same service as the API."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from disputes import services
from orders.models import Order, SandboxCharge

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-Secret-123")
    client.force_login(admin)
    return client


def rejected(sold):  # type: ignore[no-untyped-def]
    order = sold("delivered")
    dispute = services.dispute_open(buyer=order.buyer, order_id=order.pk, reason="other", text="x")
    services.dispute_respond(
        actor=order.shop.owner, dispute_id=dispute.pk, action="reject", reason="No."
    )
    return order, dispute


def test_dispute_admin_pages_render(admin_client, sold):
    _, dispute = rejected(sold)
    assert admin_client.get("/admin/disputes/dispute/").status_code == 200
    assert admin_client.get(f"/admin/disputes/dispute/{dispute.pk}/change/").status_code == 200


def test_a_staff_refund_decision_in_the_admin_refunds_once(
    admin_client, sold, django_capture_on_commit_callbacks
):
    order, dispute = rejected(sold)
    url = f"/admin/disputes/dispute/{dispute.pk}/change/"
    with django_capture_on_commit_callbacks(execute=True):  # the provider: after commit
        res = admin_client.post(url, {"decision": "refund", "decision_reason": "Photos convince."})
    assert res.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == ("resolved_refunded", "staff_refunded")
    assert dispute.resolution_reason == "Photos convince."
    assert dispute.resolved_by.username == "root"
    assert SandboxCharge.objects.filter(kind="refund").count() == 1
    assert Order.objects.get(pk=order.pk).status == "refunded"
    admin_client.post(url, {"decision": "refund", "decision_reason": "again"})
    assert SandboxCharge.objects.filter(kind="refund").count() == 1


def test_a_decision_without_a_reason_is_refused(admin_client, sold):
    _, dispute = rejected(sold)
    res = admin_client.post(
        f"/admin/disputes/dispute/{dispute.pk}/change/",
        {"decision": "reject", "decision_reason": ""},
    )
    assert res.status_code == 200  # the form again, with its error
    assert "A decision needs a reason." in res.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == "awaiting_staff"
