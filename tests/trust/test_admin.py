"""The admin: staff decide appeals through the same service; cases and the audit log are
read-only there."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from streams.selectors import user_restriction
from trust.models import Appeal, Case, CaseEvent
from trust.services import appeal_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db: Any) -> Client:
    from tests.factories import UserFactory

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def act(client: Client, case: Case, action: str, reason: str) -> Any:
    return client.post(
        "/admin/trust/case/",
        {"action": action, "_selected_action": [case.pk], "reason": reason, "index": 0},
        follow=True,
    )


def test_admin_overturn_lifts_the_ban(admin_client, ban_case, viewer, live_show):
    appeal_create(case_id=ban_case.pk, user=viewer, text="Sorry.")
    r = act(admin_client, ban_case, "overturn_appeal", "First offence, apologised.")
    assert "appeal overturned" in r.content.decode()
    assert Appeal.objects.get().decision_reason == "First offence, apologised."
    assert user_restriction(show_id=live_show.pk, user_id=viewer.pk) is None


def test_admin_decision_needs_a_reason(admin_client, ban_case, viewer):
    appeal_create(case_id=ban_case.pk, user=viewer, text="Sorry.")
    r = act(admin_client, ban_case, "uphold_appeal", "  ")
    assert "reason: this field is required" in r.content.decode()
    assert Appeal.objects.get().status == "pending"


def test_admin_is_read_only(admin_client, ban_case):
    event = CaseEvent.objects.get(case=ban_case)
    assert admin_client.get(f"/admin/trust/case/{ban_case.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/trust/case/{ban_case.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/trust/caseevent/{event.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/trust/caseevent/add/").status_code == 403
    assert CaseEvent.objects.filter(pk=event.pk).exists()
