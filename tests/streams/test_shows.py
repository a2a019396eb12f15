"""Shows over REST: create, list, detail, edit, start/end, and who may do what."""

from __future__ import annotations

import pytest
from django.utils import timezone

from streams.models import LineupItem, Show
from tests.factories import ProductFactory, ShowFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

LIST = "/api/v1/shows/"


def url(show: Show, action: str = "") -> str:
    return f"/api/v1/shows/{show.pk}/{action + '/' if action else ''}"


def test_host_creates_a_show_with_a_lineup(client_for, host, shop, product):
    second = ProductFactory(shop=shop, title="Teapot")
    r = client_for(host).post(
        LIST,
        {
            "shop": shop.pk,
            "title": "Spring drop",
            "scheduled_at": "2030-04-01T18:00:00Z",
            "playback_url": "https://video.example.com/s/1.m3u8",
            "lineup": [second.pk, product.pk],
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "scheduled"
    assert body["scheduled_at"] == "2030-04-01T18:00:00Z"
    assert (body["started_at"], body["ended_at"], body["current_pin"]) == (None, None, None)
    assert [p["title"] for p in body["lineup"]] == ["Teapot", "Mug"]
    assert body["lineup"][1] == {
        "id": product.pk,
        "title": "Mug",
        "price": "19.99",
        "currency": "USD",
        "image_url": "",
        "stock_available": 5,
    }
    assert body["viewer_count"] == 0
    assert body["rehearsal"] is False


def test_staff_may_create_a_show(client_for, staff, shop):
    r = client_for(staff).post(
        LIST, {"shop": shop.pk, "title": "T", "scheduled_at": "2030-01-01T00:00:00Z"}, format="json"
    )
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("other_seller", 403, "permission_denied"),
        ("buyer", 403, "permission_denied"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_only_hosts_create_shows(client_as, shop, who, status, code):
    r = client_as(who).post(
        LIST, {"shop": shop.pk, "title": "T", "scheduled_at": "2030-01-01T00:00:00Z"}, format="json"
    )
    assert_error(r, status, code)
    assert not Show.objects.filter(title="T").exists()


def test_lineup_product_of_another_shop_is_invalid(client_for, host, shop):
    foreign = ProductFactory()
    r = client_for(host).post(
        LIST,
        {
            "shop": shop.pk,
            "title": "T",
            "scheduled_at": "2030-01-01T00:00:00Z",
            "lineup": [foreign.pk],
        },
        format="json",
    )
    assert "lineup" in assert_error(r, 400, "invalid")["details"]
    assert not Show.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "T", "scheduled_at": "2030-01-01T00:00:00Z"}, "shop"),
        ({"shop": 0, "title": "", "scheduled_at": "2030-01-01T00:00:00Z"}, "title"),
        ({"title": "T", "scheduled_at": "tomorrow"}, "scheduled_at"),
        (
            {
                "title": "T",
                "scheduled_at": "2030-01-01T00:00:00Z",
                "playback_url": "javascript:alert(1)",
            },
            "playback_url",
        ),
        ({"title": "T", "scheduled_at": "2030-01-01T00:00:00Z", "lineup": "1,2"}, "lineup"),
    ],
)
def test_bad_show_input_is_invalid(client_for, host, shop, body, field):
    body = {"shop": shop.pk, **body} if field != "shop" else body
    r = client_for(host).post(LIST, body, format="json")
    assert field in assert_error(r, 400, "invalid")["details"]
    assert not Show.objects.exists()


def test_duplicate_lineup_product_is_invalid(client_for, host, shop, product):
    r = client_for(host).post(
        LIST,
        {
            "shop": shop.pk,
            "title": "T",
            "scheduled_at": "2030-01-01T00:00:00Z",
            "lineup": [product.pk, product.pk],
        },
        format="json",
    )
    assert_error(r, 400, "invalid")


def test_unknown_shop_is_invalid(client_for, host):
    r = client_for(host).post(
        LIST, {"shop": 987654, "title": "T", "scheduled_at": "2030-01-01T00:00:00Z"}, format="json"
    )
    assert "shop" in assert_error(r, 400, "invalid")["details"]


def test_malformed_json_is_a_parse_error(client_for, host):
    r = client_for(host).post(LIST, data="{nope", content_type="application/json")
    assert_error(r, 400, "parse_error")


def test_list_filters_by_status(api_client, shop):
    live = ShowFactory(shop=shop, status="live", started_at=timezone.now())
    ShowFactory(shop=shop)
    ended = ShowFactory(shop=shop, status="ended")
    assert [s["id"] for s in api_client.get(LIST, {"status": "live"}).json()["results"]] == [
        live.pk
    ]
    assert [s["id"] for s in api_client.get(LIST, {"status": "ended"}).json()["results"]] == [
        ended.pk
    ]
    assert len(api_client.get(LIST).json()["results"]) == 3


def test_invalid_status_filter_is_400(api_client):
    assert (
        "status"
        in assert_error(api_client.get(LIST, {"status": "paused"}), 400, "invalid")["details"]
    )


def test_list_is_cursor_paginated(api_client, shop):
    ShowFactory.create_batch(3, shop=shop)
    first = api_client.get(LIST, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api_client.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    ids = [s["id"] for s in first["results"] + second["results"]]
    assert len(set(ids)) == 3


def test_list_query_count_does_not_grow_with_shows(
    client_for, viewer, shop, django_assert_max_num_queries
):
    for _ in range(6):
        show = ShowFactory(shop=shop)
        for product in ProductFactory.create_batch(2, shop=shop):
            LineupItem.objects.create(show=show, product=product)
    with django_assert_max_num_queries(12):
        r = client_for(viewer).get(LIST)
    assert len(r.json()["results"]) == 6


def test_rehearsals_are_listed_only_for_their_hosts(
    client_for, api_client, host, viewer, other_seller, shop
):
    rehearsal = ShowFactory(shop=shop, rehearsal=True)
    public = ShowFactory(shop=shop)
    assert {s["id"] for s in client_for(host).get(LIST).json()["results"]} == {
        rehearsal.pk,
        public.pk,
    }
    for client in (client_for(viewer), client_for(other_seller), api_client):
        assert [s["id"] for s in client.get(LIST).json()["results"]] == [public.pk]


def test_rehearsal_detail_is_404_for_non_hosts(client_for, api_client, host, viewer, shop):
    rehearsal = ShowFactory(shop=shop, rehearsal=True)
    assert client_for(host).get(url(rehearsal)).status_code == 200
    assert_error(client_for(viewer).get(url(rehearsal)), 404, "not_found")
    assert_error(api_client.get(url(rehearsal)), 404, "not_found")


def test_detail_of_unknown_show_is_404(api_client):
    assert_error(api_client.get("/api/v1/shows/999999/"), 404, "not_found")


def test_anyone_reads_a_show(api_client, scheduled_show):
    body = api_client.get(url(scheduled_show)).json()
    assert body["id"] == scheduled_show.pk
    assert "blocked_words" not in body


# --- start / end --------------------------------------------------------------------------


def test_start_then_end(
    client_for, host, scheduled_show, product, events, django_capture_on_commit_callbacks
):
    client = client_for(host)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(url(scheduled_show, "start"))
    assert started.status_code == 200
    assert started.json()["status"] == "live" and started.json()["started_at"]
    client.post(url(scheduled_show, "pins"), {"product": product.pk}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        ended = client.post(url(scheduled_show, "end"))
    assert ended.status_code == 200
    body = ended.json()
    assert body["status"] == "ended" and body["ended_at"] and body["current_pin"] is None
    statuses = events.of_type("show.status")
    assert [e["status"] for e in statuses] == ["live", "ended"]
    assert statuses[1] == {
        "id": scheduled_show.pk,
        "status": "ended",
        "started_at": body["started_at"],
        "ended_at": body["ended_at"],
    }
    assert events.of_type("pin.changed")[-1] == {"pin": None}


@pytest.mark.parametrize(
    ("status", "action"),
    [("live", "start"), ("ended", "start"), ("scheduled", "end"), ("ended", "end")],
)
def test_wrong_state_is_409(client_for, host, shop, status, action):
    show = ShowFactory(shop=shop, status=status)
    assert_error(client_for(host).post(url(show, action)), 409, "invalid_state")
    show.refresh_from_db()
    assert show.status == status


EXPECTED = {
    "host": 200,
    "staff": 200,
    "moderator": 403,
    "other_seller": 403,
    "buyer": 403,
    "anonymous": 401,
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_who_may_start_and_end(client_as, who, live_show, shop):
    scheduled = ShowFactory(shop=shop)
    client = client_as(who)
    for show, action, before in ((scheduled, "start", "scheduled"), (live_show, "end", "live")):
        r = client.post(url(show, action))
        assert r.status_code == EXPECTED[who], r.content
        show.refresh_from_db()
        if EXPECTED[who] != 200:
            assert show.status == before


# --- edits and chat settings --------------------------------------------------------------


def test_host_edits_a_scheduled_show(client_for, host, scheduled_show, product):
    r = client_for(host).patch(
        url(scheduled_show),
        {"title": "New title", "lineup": [product.pk], "slow_mode_s": 5},
        format="json",
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["title"], [p["id"] for p in body["lineup"]], body["slow_mode_s"]) == (
        "New title",
        [product.pk],
        5,
    )


def test_lineup_cannot_change_once_live(client_for, host, live_show, product):
    assert_error(
        client_for(host).patch(url(live_show), {"lineup": [product.pk]}, format="json"),
        409,
        "invalid_state",
    )
    assert not live_show.lineup.exists()


def test_buyer_cannot_edit_a_show(client_for, viewer, scheduled_show):
    assert_error(
        client_for(viewer).patch(url(scheduled_show), {"title": "mine"}, format="json"),
        403,
        "permission_denied",
    )
    scheduled_show.refresh_from_db()
    assert scheduled_show.title != "mine"


def test_chat_settings_by_a_moderator(
    client_for, moderator, live_show, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = client_for(moderator).post(
            url(live_show, "chat-settings"),
            {"slow_mode_s": 10, "blocked_words": ["scam", "SCAM", " fake "]},
            format="json",
        )
    assert r.status_code == 200
    assert (r.json()["slow_mode_s"], r.json()["blocked_words"]) == (10, ["scam", "fake"])
    assert events.of_type("chat.settings") == [{"slow_mode_s": 10}]


@pytest.mark.parametrize(
    "body",
    [
        {"slow_mode_s": -1},
        {"slow_mode_s": 3601},
        {"blocked_words": "scam"},
        {"blocked_words": ["x" * 51]},
        {"blocked_words": [""]},
    ],
)
def test_bad_chat_settings_are_invalid(client_for, host, live_show, body):
    assert_error(
        client_for(host).post(url(live_show, "chat-settings"), body, format="json"), 400, "invalid"
    )
    live_show.refresh_from_db()
    assert (live_show.slow_mode_s, live_show.blocked_words) == (0, [])


def test_buyer_cannot_change_chat_settings(client_for, viewer, live_show):
    r = client_for(viewer).post(url(live_show, "chat-settings"), {"slow_mode_s": 10}, format="json")
    assert_error(r, 403, "permission_denied")


# --- moderators ---------------------------------------------------------------------------


def test_host_names_and_removes_a_moderator(client_for, host, live_show, viewer):
    client = client_for(host)
    r = client.post(url(live_show, "moderators"), {"username": "viewer"}, format="json")
    assert r.status_code == 201
    assert r.json()["user"] == {"id": viewer.pk, "username": "viewer"}
    assert (
        client.post(url(live_show, "moderators"), {"username": "viewer"}, format="json").status_code
        == 200
    )
    listed = client.get(url(live_show, "moderators")).json()["results"]
    assert viewer.pk in [m["user"]["id"] for m in listed]
    assert (
        client.delete(
            url(live_show, "moderators"), {"username": "viewer"}, format="json"
        ).status_code
        == 204
    )
    assert not live_show.moderators.filter(user=viewer).exists()
    assert_error(client.delete(url(live_show, "moderators") + "?username=viewer"), 404, "not_found")


def test_a_moderator_is_named_by_username_in_any_case(client_for, host, live_show, viewer):
    client = client_for(host)
    r = client.post(url(live_show, "moderators"), {"username": "VIEWER"}, format="json")
    assert r.status_code == 201
    assert r.json()["user"] == {"id": viewer.pk, "username": "viewer"}
    r = client.delete(url(live_show, "moderators"), {"username": "Viewer"}, format="json")
    assert r.status_code == 204


def test_unknown_username_is_invalid(client_for, host, live_show):
    r = client_for(host).post(url(live_show, "moderators"), {"username": "ghost"}, format="json")
    assert "username" in assert_error(r, 400, "invalid")["details"]


@pytest.mark.parametrize("who", ["moderator", "other_seller", "buyer", "anonymous"])
def test_only_hosts_name_moderators(client_as, who, live_show):
    from tests.factories import UserFactory

    target = UserFactory(username="candidate")
    r = client_as(who).post(url(live_show, "moderators"), {"username": "candidate"}, format="json")
    assert r.status_code == (401 if who == "anonymous" else 403)
    assert not live_show.moderators.filter(user=target).exists()
    r = client_as(who).delete(url(live_show, "moderators"), {"username": "mod"}, format="json")
    assert r.status_code == (401 if who == "anonymous" else 403)
    assert live_show.moderators.filter(user__username="mod").exists()


def test_an_ended_show_cannot_be_renamed(client_for, host, shop):
    show = ShowFactory(shop=shop, status="ended")
    assert_error(
        client_for(host).patch(url(show), {"title": "later"}, format="json"), 409, "invalid_state"
    )
    show.refresh_from_db()
    assert show.title != "later"
