"""WebSocket tickets: REST issue, single use, expiry, binding (SPEC "REST", "WebSocket")."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from catalog.models import Shop
from streams import fanout
from streams.models import Show
from tests.factories import ShowFactory, UserFactory
from tests.helpers import assert_error
from tests.streams.livekit import hubs_closed, room  # noqa: F401


def ticket_url(show_id: int) -> str:
    return f"/api/v1/shows/{show_id}/ws-ticket/"


@pytest.fixture
def live_show(db: None):  # type: ignore[no-untyped-def]
    return ShowFactory(status="live", started_at=timezone.now())


def issue(client_for, user, show_id: int) -> str:  # type: ignore[no-untyped-def]
    response = client_for(user).post(ticket_url(show_id))
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"ticket"}
    return str(response.json()["ticket"])


def test_ticket_needs_authentication(api_client, live_show: Show) -> None:  # type: ignore[no-untyped-def]
    assert_error(api_client.post(ticket_url(live_show.pk)), 401, "not_authenticated")


def test_ticket_for_an_unknown_show_is_404(client_for, user) -> None:  # type: ignore[no-untyped-def]
    assert_error(client_for(user).post(ticket_url(424242)), 404, "not_found")


def test_ticket_for_a_rehearsal_is_404_to_a_viewer(client_for, user) -> None:  # type: ignore[no-untyped-def]
    show = ShowFactory(rehearsal=True)
    assert_error(client_for(user).post(ticket_url(show.pk)), 404, "not_found")


def test_tickets_are_unguessable_and_distinct(client_for, user, live_show: Show) -> None:  # type: ignore[no-untyped-def]
    first, second = issue(client_for, user, live_show.pk), issue(client_for, user, live_show.pk)
    assert first != second
    assert len(first) >= 40


@pytest.fixture
def ticket_holder(transactional_db, client_for):  # type: ignore[no-untyped-def]
    user = UserFactory()
    show = ShowFactory(status="live", started_at=timezone.now())
    return user, show, issue(client_for, user, show.pk)


async def user_hears_private_event(r, user_id: int) -> bool:  # type: ignore[no-untyped-def]
    await r.send("ping")
    await r.event_of("pong")
    await database_sync_to_async(fanout.publish_user_event)(
        user_id=user_id, type="order.updated", data={"id": 5}
    )
    return (await r.event_of("order.updated"))["data"] == {"id": 5}


@pytest.mark.usefixtures("hubs_closed")
async def test_ticket_authenticates_the_socket(ticket_holder) -> None:  # type: ignore[no-untyped-def]
    user, show, ticket = ticket_holder
    async with room(show.pk, query=f"ticket={ticket}") as r:
        assert r.snapshot is not None
        assert await user_hears_private_event(r, user.pk)


@pytest.mark.usefixtures("hubs_closed")
async def test_ticket_is_single_use(ticket_holder) -> None:  # type: ignore[no-untyped-def]
    _user, show, ticket = ticket_holder
    async with room(show.pk, query=f"ticket={ticket}") as first:
        assert first.snapshot is not None
    async with room(show.pk, query=f"ticket={ticket}", expect_snapshot=False) as second:
        assert await second.closed_with() == 4401


@pytest.mark.usefixtures("hubs_closed")
async def test_ticket_expires(ticket_holder, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WS_TICKET_TTL_SECONDS = 1
    user = await database_sync_to_async(UserFactory)()
    show = ticket_holder[1]
    from streams.tickets import ws_ticket_issue

    ticket = await database_sync_to_async(ws_ticket_issue)(user=user, show_id=show.pk)
    await asyncio.sleep(1.3)
    async with room(show.pk, query=f"ticket={ticket}", expect_snapshot=False) as r:
        assert await r.closed_with() == 4401


@pytest.mark.usefixtures("hubs_closed")
async def test_ticket_is_bound_to_its_show(ticket_holder) -> None:  # type: ignore[no-untyped-def]
    _user, show, ticket = ticket_holder
    other = await database_sync_to_async(ShowFactory)(shop=await _shop_of(show))
    async with room(other.pk, query=f"ticket={ticket}", expect_snapshot=False) as r:
        assert await r.closed_with() == 4401


@pytest.mark.usefixtures("hubs_closed")
async def test_made_up_ticket_is_refused(ticket_holder) -> None:  # type: ignore[no-untyped-def]
    show = ticket_holder[1]
    async with room(show.pk, query="ticket=" + "A" * 43, expect_snapshot=False) as r:
        assert await r.closed_with() == 4401


@pytest.mark.usefixtures("hubs_closed")
async def test_host_joins_a_rehearsal_with_a_ticket(transactional_db, client_for) -> None:  # type: ignore[no-untyped-def]
    show = await database_sync_to_async(ShowFactory)(rehearsal=True)
    owner = await _owner_of(show)
    ticket = await database_sync_to_async(issue)(client_for, owner, show.pk)
    async with room(show.pk, query=f"ticket={ticket}") as r:
        assert r.snapshot is not None
        assert r.snapshot["show"]["id"] == show.pk


async def _shop_of(show: Show) -> Shop:
    return await database_sync_to_async(lambda: show.shop)()


async def _owner_of(show: Show):  # type: ignore[no-untyped-def]
    return await database_sync_to_async(lambda: show.shop.owner)()
