"""Chat history: the latest 50 ascending first, `next` leads to older messages."""

from __future__ import annotations

import pytest
from django.utils import timezone

from streams.models import ChatMessage
from tests.factories import ShowFactory, UserFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def messages_url(show) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/shows/{show.pk}/messages/"


@pytest.fixture
def chatter(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="chatter")


def make_messages(show, user, n: int) -> list[ChatMessage]:  # type: ignore[no-untyped-def]
    return [ChatMessage.objects.create(show=show, user=user, text=f"m{i}") for i in range(n)]


def test_first_page_is_the_latest_50_ascending(api_client, live_show, chatter):
    sent = make_messages(live_show, chatter, 120)
    body = api_client.get(messages_url(live_show)).json()
    assert [m["id"] for m in body["results"]] == [m.pk for m in sent[70:]]
    assert body["results"][0] == {
        "id": sent[70].pk,
        "user": {"id": chatter.pk, "username": "chatter"},
        "text": "m70",
        "ts": sent[70].created_at.isoformat().replace("+00:00", "Z"),
    }


def test_next_walks_back_to_the_first_message(api_client, live_show, chatter):
    sent = make_messages(live_show, chatter, 120)
    seen: list[int] = []
    pages = 0
    next_url: str | None = messages_url(live_show)
    while next_url:
        body = api_client.get(next_url).json()
        ids = [m["id"] for m in body["results"]]
        assert ids == sorted(ids)
        seen = ids + seen
        next_url = body["next"]
        pages += 1
    assert pages == 3
    assert seen == [m.pk for m in sent]


def test_exactly_50_messages_have_no_next(api_client, live_show, chatter):
    make_messages(live_show, chatter, 50)
    body = api_client.get(messages_url(live_show)).json()
    assert (len(body["results"]), body["next"]) == (50, None)


def test_empty_history(api_client, live_show):
    assert api_client.get(messages_url(live_show)).json() == {"results": [], "next": None}


def test_removed_messages_are_left_out(api_client, live_show, chatter, host):
    kept, removed = make_messages(live_show, chatter, 2)
    ChatMessage.objects.filter(pk=removed.pk).update(
        removed_at=timezone.now(), removed_by=host, removal_reason="spam"
    )
    assert [m["id"] for m in api_client.get(messages_url(live_show)).json()["results"]] == [kept.pk]


def test_history_is_per_show(api_client, live_show, shop, chatter):
    make_messages(ShowFactory(shop=shop), chatter, 3)
    assert api_client.get(messages_url(live_show)).json()["results"] == []


@pytest.mark.parametrize("before", ["abc", "0", "-5"])
def test_bad_cursor_is_invalid(api_client, live_show, before):
    assert (
        "before"
        in assert_error(
            api_client.get(messages_url(live_show), {"before": before}), 400, "invalid"
        )["details"]
    )


def test_rehearsal_history_is_404_for_viewers(client_for, viewer, shop):
    show = ShowFactory(shop=shop, rehearsal=True, status="live")
    assert_error(client_for(viewer).get(messages_url(show)), 404, "not_found")


def test_text_comes_back_exactly_as_written(api_client, client_for, viewer, live_show):
    text = '<img src=x onerror=alert(1)> & "quotes"'
    r = client_for(viewer).post(messages_url(live_show), {"text": text}, format="json")
    assert r.status_code == 201
    assert api_client.get(messages_url(live_show)).json()["results"][0]["text"] == text


def test_posting_needs_an_account(api_client, live_show):
    assert_error(
        api_client.post(messages_url(live_show), {"text": "hi"}, format="json"),
        401,
        "not_authenticated",
    )
    assert not ChatMessage.objects.exists()


def test_posting_to_a_scheduled_show_is_409(client_for, viewer, scheduled_show):
    r = client_for(viewer).post(messages_url(scheduled_show), {"text": "hi"}, format="json")
    assert_error(r, 409, "show_not_live")


def test_posting_too_long_is_invalid(client_for, viewer, live_show):
    r = client_for(viewer).post(messages_url(live_show), {"text": "x" * 501}, format="json")
    assert_error(r, 400, "invalid")
