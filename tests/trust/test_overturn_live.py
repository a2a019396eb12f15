"""An overturned ban lets the person chat again at once in the live room they are
connected to, and they are told there (over the real consumer, fan-out and Redis)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from streams.models import Show
from streams.services import moderation_apply
from tests.factories import ShopFactory, ShowFactory, UserFactory
from tests.streams.livekit import app_for_hub, hubs_closed, room, session_headers  # noqa: F401
from trust.models import Case
from trust.services import appeal_create, appeal_decide

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs_closed")]


@pytest.fixture
def s() -> dict[str, Any]:
    host = UserFactory()
    show = ShowFactory(
        shop=ShopFactory(owner=host), status=Show.Status.LIVE, started_at=timezone.now()
    )
    viewer = UserFactory()
    staff = UserFactory(is_staff=True)
    record = moderation_apply(
        show_id=show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="Slurs"
    )
    case = Case.objects.get(moderation_action=record)
    appeal_create(case_id=case.pk, user=viewer, text="It was a quote.")
    return {
        "show": show,
        "viewer": viewer,
        "staff": staff,
        "case": case,
        "headers": session_headers(viewer),
    }


async def test_overturn_unmutes_the_connected_viewer_at_once(s: dict[str, Any]) -> None:
    async with room(s["show"].pk, headers=s["headers"]) as v:
        await v.send("chat.send", {"text": "hello?"})
        err = await v.event_of("error")
        assert err["data"]["code"] == "banned"

        await database_sync_to_async(appeal_decide)(
            case_id=s["case"].pk, staff=s["staff"], decision="overturn", reason="A quote."
        )
        notice = await v.event_of("moderation.notice")
        assert notice["data"]["action"] == "unban"
        assert "A quote." in notice["data"]["reason"]
        assert "seq" not in notice  # private
        updated = await v.event_of("case.updated")
        assert updated["data"]["status"] == "overturned"

        await v.send("chat.send", {"text": "thanks, back again"})
        message = await v.event_of("chat.message")
        assert message["data"]["text"] == "thanks, back again"
