"""`show_snapshot` and `user_show_role`: what the live room sends on connect."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from core.errors import ApiError
from streams.models import ChatMessage, Show
from streams.selectors import (
    chat_message_payload,
    pin_payload,
    show_snapshot,
    show_with_role,
    user_show_role,
)
from streams.services import chat_send, moderation_apply, pin_product
from tests.factories import ShowFactory

pytestmark = pytest.mark.django_db


def test_roles(live_show, host, staff, moderator, viewer, other_seller):
    assert user_show_role(user=host, show=live_show) == "host"
    assert user_show_role(user=staff, show=live_show) == "host"
    assert user_show_role(user=moderator, show=live_show) == "moderator"
    assert user_show_role(user=viewer, show=live_show) == "viewer"
    assert user_show_role(user=other_seller, show=live_show) == "viewer"
    assert user_show_role(user=AnonymousUser(), show=live_show) == "anonymous"


def test_one_query_role_lookup_agrees(
    live_show, host, staff, moderator, viewer, other_seller, django_assert_num_queries
):
    for user in (host, staff, moderator, viewer, other_seller, AnonymousUser()):
        with django_assert_num_queries(1):
            show, role = show_with_role(show_id=live_show.pk, user=user)
        assert show == live_show
        assert role == user_show_role(user=user, show=live_show)
    assert show_with_role(show_id=0, user=host) == (None, "anonymous")


def test_snapshot_carries_show_pin_stock_and_recent_messages(live_show, host, viewer, product):
    pin = pin_product(user=host, show_id=live_show.pk, product_id=product.pk)
    messages = [
        chat_send(show_id=live_show.pk, user=u, text=f"m{i}") for i, u in enumerate([viewer, host])
    ]
    snap = show_snapshot(show_id=live_show.pk, user=AnonymousUser())
    assert snap["show"]["id"] == live_show.pk
    assert snap["show"]["status"] == "live"
    assert snap["current_pin"] == pin_payload(pin) == snap["show"]["current_pin"]
    variant = product.variants.get()
    assert snap["stock"] == [{"product": product.pk, "variant": variant.pk, "available": 5}]
    assert snap["recent_messages"] == [chat_message_payload(m) for m in messages]
    assert snap["role"] == "anonymous"


def test_snapshot_keeps_the_latest_50_messages_in_order_without_removed(live_show, host, viewer):
    sent = [
        ChatMessage.objects.create(show=live_show, user=viewer, text=f"m{i}") for i in range(53)
    ]
    moderation_apply(
        show_id=live_show.pk,
        actor=host,
        action="remove_message",
        message_id=sent[-1].pk,
        reason="oops",
    )
    ids = [m["id"] for m in show_snapshot(show_id=live_show.pk, user=viewer)["recent_messages"]]
    assert ids == [m.pk for m in sent[2:52]]


def test_snapshot_without_pin(live_show, viewer):
    snap = show_snapshot(show_id=live_show.pk, user=viewer)
    assert (snap["current_pin"], snap["stock"], snap["recent_messages"]) == (None, [], [])


def test_snapshot_of_unknown_show_is_not_found(viewer):
    with pytest.raises(ApiError) as info:
        show_snapshot(show_id=424242, user=viewer)
    assert info.value.code == "not_found"


def test_snapshot_of_a_rehearsal_is_forbidden_to_non_hosts(shop, viewer, host):
    show = ShowFactory(shop=shop, rehearsal=True, status=Show.Status.LIVE)
    with pytest.raises(ApiError) as info:
        show_snapshot(show_id=show.pk, user=viewer)
    assert info.value.code == "permission_denied"
    assert show_snapshot(show_id=show.pk, user=host)["role"] == "host"


def test_blocked_words_are_shown_only_to_hosts_and_moderators(live_show, host, moderator, viewer):
    Show.objects.filter(pk=live_show.pk).update(blocked_words=["scam"])
    assert show_snapshot(show_id=live_show.pk, user=host)["show"]["blocked_words"] == ["scam"]
    assert show_snapshot(show_id=live_show.pk, user=moderator)["show"]["blocked_words"] == ["scam"]
    assert "blocked_words" not in show_snapshot(show_id=live_show.pk, user=viewer)["show"]
