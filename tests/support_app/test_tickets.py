"""Support tickets: the immediate first answer, priority and due time, queue position,
replies, resolve, escalation through the real beat task with a frozen clock, who sees
what, and bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from support.models import Ticket, TicketReply
from support.tasks import tickets_escalate_overdue
from tests.factories import ShopFactory, ShowFactory, UserFactory
from tests.orders.helpers import paid_order

pytestmark = pytest.mark.django_db

URL = "/api/v1/support/tickets/"


def iso(dt) -> str:  # type: ignore[no-untyped-def]
    return dt.isoformat().replace("+00:00", "Z")


def open_ticket(client, **body):  # type: ignore[no-untyped-def]
    payload = {
        "category": "payouts",
        "subject": "When do I get paid?",
        "body": "I sold a lot in my show yesterday. When does the money reach my bank?",
        **body,
    }
    return client.post(URL, payload, format="json")


def test_a_ticket_is_answered_at_once_from_the_help_articles(client_for, user, clock):
    res = open_ticket(client_for(user))
    assert res.status_code == 201, res.json()
    body = res.json()
    assert body["status"] == "open"
    assert body["priority"] == "normal"
    assert body["due_at"] == iso(clock.now() + timedelta(hours=24))
    assert body["queue_position"] == 1
    assert body["escalated"] is False
    answer = body["first_answer"]
    assert answer["articles"][0]["url"] == "/help/payouts/"
    assert {"id", "title", "url"} <= set(answer["articles"][0])
    assert 1 <= len(answer["articles"]) <= 3
    for article in answer["articles"]:
        assert article["url"] in answer["text"]  # every cited article is in the text


def test_a_question_no_article_matches_still_gets_an_honest_first_answer(client_for, user):
    body = open_ticket(client_for(user), category="other", subject="zzqx", body="qqzv").json()
    assert body["first_answer"]["articles"] == []
    assert "could not find a help article" in body["first_answer"]["text"]
    assert body["priority"] == "low"


@pytest.mark.parametrize(
    ("category", "priority", "hours"),
    [
        ("account_enforcement", "high", 8),
        ("disputes", "high", 8),
        ("orders_shipping", "normal", 24),
        ("other", "low", 72),
    ],
)
def test_priority_and_due_time_follow_the_category(
    client_for, user, clock, category, priority, hours
):
    body = open_ticket(client_for(user), category=category, subject="Question", body="Hello").json()
    assert body["priority"] == priority
    assert body["due_at"] == iso(clock.now() + timedelta(hours=hours))


def test_urgent_words_raise_the_priority(client_for, user):
    body = open_ticket(
        client_for(user),
        category="orders_shipping",
        subject="Need help ASAP",
        body="Buyers cannot check out.",
    ).json()
    assert body["priority"] == "high"
    assert "urgent wording: one step up" in body["priority_reasons"]


def test_a_high_value_order_raises_the_priority(client_for, live_pin, settings):
    settings.SUPPORT_HIGH_VALUE_ORDER = "100.00"
    cheap = paid_order(live_pin(price="5.00"))
    dear = paid_order(live_pin(price="150.00"))
    for order, expected in ((cheap, "normal"), (dear, "high")):
        body = open_ticket(
            client_for(order.buyer), category="orders_shipping", order=order.pk, body="Hi"
        ).json()
        assert (body["order"], body["priority"]) == (order.pk, expected)


def test_a_ticket_about_a_show_that_is_live_now_is_urgent(client_for, live_pin):
    pin = live_pin()
    owner = pin.show.shop.owner
    body = open_ticket(
        client_for(owner), category="live_shows", show=pin.show_id, subject="Chat", body="x"
    ).json()
    assert body["priority"] == "urgent"
    assert body["show"] == pin.show_id


def test_queue_position_counts_open_tickets_ahead_by_priority_then_due(client_for, clock):
    a, b, c = UserFactory(), UserFactory(), UserFactory()
    low = open_ticket(client_for(a), category="other", subject="s", body="b").json()
    clock.advance(60)
    normal = open_ticket(client_for(b), category="orders_shipping", subject="s", body="b").json()
    clock.advance(60)
    high = open_ticket(client_for(c), category="disputes", subject="s", body="b").json()
    # Each went ahead of the lower-priority ones already waiting.
    assert (low["queue_position"], normal["queue_position"], high["queue_position"]) == (1, 1, 1)
    get = lambda who, t: client_for(who).get(f"{URL}{t['id']}/").json()["queue_position"]  # noqa: E731
    assert (get(a, low), get(b, normal), get(c, high)) == (3, 2, 1)
    client_for(c).post(f"{URL}{high['id']}/resolve/")
    assert (get(a, low), get(b, normal), get(c, high)) == (2, 1, None)


def test_the_order_must_be_the_requesters_or_their_shops(client_for, live_pin):
    order = paid_order(live_pin())
    stranger = UserFactory()
    res = open_ticket(client_for(stranger), order=order.pk)
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "not_found"
    assert open_ticket(client_for(order.shop.owner), order=order.pk).status_code == 201
    assert open_ticket(client_for(order.buyer), order=order.pk).status_code == 201
    assert Ticket.objects.filter(requester=stranger).count() == 0


def test_the_show_must_be_their_shops_or_one_they_bought_in(client_for, live_pin):
    order = paid_order(live_pin())
    other_show = ShowFactory(shop=ShopFactory(), scheduled_at=timezone.now())
    buyer = client_for(order.buyer)
    assert open_ticket(buyer, show=other_show.pk).status_code == 404
    assert open_ticket(buyer, show=order.show_id).status_code == 201
    res = open_ticket(buyer, show=other_show.pk, order=order.pk)
    assert res.status_code == 404


def test_order_and_show_must_agree(client_for, live_pin):
    order = paid_order(live_pin())
    show = ShowFactory(shop=order.shop, scheduled_at=timezone.now())
    res = open_ticket(client_for(order.shop.owner), order=order.pk, show=show.pk)
    assert res.status_code == 400
    assert res.json()["error"]["details"] == {"show": ["Not the order's show."]}


@pytest.mark.parametrize(
    "body",
    [
        {"category": "billing"},
        {"subject": ""},
        {"subject": "x" * 201},
        {"body": "x" * 5001},
        {"order": "abc"},
        {"order": 0},
        {"show": 2**70},
        {"category": None},
    ],
)
def test_bad_input_when_opening(client_for, user, body):
    res = open_ticket(client_for(user), **body)
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "invalid"
    assert not Ticket.objects.exists()


def test_signed_in_only(api_client):
    assert open_ticket(api_client).status_code == 401
    assert api_client.get(URL).status_code == 401


def test_lists_own_tickets_and_staff_see_all(client_for):
    a, b, staff = UserFactory(), UserFactory(), UserFactory(is_staff=True)
    ta = open_ticket(client_for(a)).json()
    tb = open_ticket(client_for(b)).json()
    assert [t["id"] for t in client_for(a).get(URL).json()["results"]] == [ta["id"]]
    assert {t["id"] for t in client_for(staff).get(URL).json()["results"]} == {ta["id"], tb["id"]}
    assert client_for(b).get(f"{URL}{ta['id']}/").status_code == 404


def test_staff_reply_answers_the_ticket_and_a_requester_reply_requeues_it(client_for, user, clock):
    ticket = open_ticket(client_for(user)).json()
    staff = UserFactory(is_staff=True)
    res = client_for(staff).post(
        f"{URL}{ticket['id']}/replies/", {"text": "Payouts are arranged by the operator."}
    )
    assert res.status_code == 201
    assert res.json()["from_staff"] is True
    after = client_for(user).get(f"{URL}{ticket['id']}/").json()
    assert (after["status"], after["queue_position"]) == ("answered", None)
    assert after["replies"][0]["text"] == "Payouts are arranged by the operator."

    clock.advance(3600)
    client_for(user).post(f"{URL}{ticket['id']}/replies/", {"text": "Who is the operator?"})
    again = client_for(user).get(f"{URL}{ticket['id']}/").json()
    assert again["status"] == "open"
    assert again["due_at"] == iso(clock.now() + timedelta(hours=24))
    assert [r["from_staff"] for r in again["replies"]] == [True, False]


def test_nobody_else_replies_or_resolves(client_for, user):
    ticket = open_ticket(client_for(user)).json()
    stranger = client_for(UserFactory())
    assert stranger.post(f"{URL}{ticket['id']}/replies/", {"text": "hi"}).status_code == 404
    assert stranger.post(f"{URL}{ticket['id']}/resolve/").status_code == 404
    assert not TicketReply.objects.exists()
    assert Ticket.objects.get().status == "open"


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 5001}, {"text": ["a"]}])
def test_bad_reply(client_for, user, body):
    ticket = open_ticket(client_for(user)).json()
    res = client_for(user).post(f"{URL}{ticket['id']}/replies/", body, format="json")
    assert res.status_code == 400
    assert not TicketReply.objects.exists()


def test_requester_resolves_and_a_resolved_ticket_takes_no_replies(client_for, user, clock):
    ticket = open_ticket(client_for(user)).json()
    res = client_for(user).post(f"{URL}{ticket['id']}/resolve/")
    assert res.status_code == 200
    assert (res.json()["status"], res.json()["resolved_at"]) == ("resolved", iso(clock.now()))
    assert client_for(user).post(f"{URL}{ticket['id']}/resolve/").status_code == 200
    res = client_for(user).post(f"{URL}{ticket['id']}/replies/", {"text": "more"})
    assert res.status_code == 409
    assert res.json()["error"]["code"] == "invalid_state"


def test_unknown_ticket(client_for, user):
    for path in ("", "replies/", "resolve/"):
        method = "get" if not path else "post"
        res = getattr(client_for(user), method)(f"{URL}999999999/{path}", {"text": "x"})
        assert res.status_code == 404


def test_a_ticket_past_due_escalates_once_through_the_beat_task(client_for, user, clock):
    ticket = open_ticket(client_for(user), category="disputes").json()  # high: 8 h
    clock.advance(8 * 3600 - 1)
    assert tickets_escalate_overdue() == 0
    assert client_for(user).get(f"{URL}{ticket['id']}/").json()["escalated"] is False
    clock.advance(2)
    assert tickets_escalate_overdue() == 1
    assert tickets_escalate_overdue() == 0  # beat runs again: nothing more
    seen = client_for(user).get(f"{URL}{ticket['id']}/").json()
    assert seen["escalated"] is True
    assert seen["overdue"] is True
    assert seen["escalated_at"] == iso(clock.now())


def test_answered_and_resolved_tickets_do_not_escalate(client_for, clock):
    a, b = UserFactory(), UserFactory()
    answered = open_ticket(client_for(a)).json()
    resolved = open_ticket(client_for(b)).json()
    client_for(UserFactory(is_staff=True)).post(f"{URL}{answered['id']}/replies/", {"text": "x"})
    client_for(b).post(f"{URL}{resolved['id']}/resolve/")
    clock.advance(100 * 3600)
    assert tickets_escalate_overdue() == 0
    assert not Ticket.objects.filter(escalated=True).exists()


def test_a_high_value_threshold_is_a_decimal_setting(settings):
    assert Decimal(settings.SUPPORT_HIGH_VALUE_ORDER) > 0
