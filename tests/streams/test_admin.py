"""The admin pages for shows, chat and moderation render for staff."""

from __future__ import annotations

import pytest

from streams.models import ChatMessage, ModerationAction
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):  # type: ignore[no-untyped-def]
    admin_user = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    return client


def test_admin_pages_render(staff_client, live_show, host, viewer, product):
    live_show.pins.create(product=product, pinned_at=live_show.started_at)
    message = ChatMessage.objects.create(show=live_show, user=viewer, text="hi")
    action = ModerationAction.objects.create(
        show=live_show, actor=host, target_user=viewer, action="ban", reason="r"
    )
    for path in (
        "/admin/streams/show/",
        f"/admin/streams/show/{live_show.pk}/change/",
        "/admin/streams/chatmessage/",
        f"/admin/streams/chatmessage/{message.pk}/change/",
        "/admin/streams/moderationaction/",
        f"/admin/streams/moderationaction/{action.pk}/change/",
    ):
        assert staff_client.get(path, secure=True).status_code == 200, path


def test_moderation_records_cannot_be_edited_in_admin(staff_client, live_show, host, viewer):
    action = ModerationAction.objects.create(
        show=live_show, actor=host, target_user=viewer, action="ban", reason="r"
    )
    r = staff_client.post(
        f"/admin/streams/moderationaction/{action.pk}/change/", {"reason": "x"}, secure=True
    )
    assert r.status_code == 403
    action.refresh_from_db()
    assert action.reason == "r"
