"""Reads for shows, pins, chat and moderation, and the one place payloads are shaped.

Every payload here is plain JSON (str, int, float, bool, None, list, dict): money as
decimal strings, times as ISO 8601 UTC with a trailing ``Z``. REST answers, broadcast
events (`pin.changed`, `chat.message`, ...) and the WebSocket snapshot all use these
functions, so a client sees one shape for one thing wherever it comes from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from catalog.models import Product, ShopStaff, Variant
from catalog.selectors import shops_for_user, user_can_manage_shop
from core.errors import Forbidden, NotFound
from streams import hooks
from streams.audience import socket_hears_hosts
from streams.models import ChatMessage, LineupItem, ModerationAction, Pin, Show, ShowModerator
from streams.presence import viewer_count

Role = Literal["host", "moderator", "viewer", "anonymous"]

CHAT_HISTORY_PAGE_SIZE = 50
SNAPSHOT_MESSAGES = 50


# --- formatting ---------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, the same form DRF's DateTimeField renders."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# --- roles and visibility -----------------------------------------------------------------


def user_is_show_host(*, user: Any, show: Show) -> bool:
    """Hosts of a show are its shop's owner and staff."""
    return user_can_manage_shop(user=user, shop=show.shop)


def user_show_role(*, user: Any, show: Show) -> Role:
    """The caller's role in `show`: ``host``, ``moderator``, ``viewer`` or ``anonymous``."""
    if user is None or not user.is_authenticated:
        return "anonymous"
    if user_is_show_host(user=user, show=show):
        return "host"
    if ShowModerator.objects.filter(show_id=show.pk, user_id=user.pk).exists():
        return "moderator"
    return "viewer"


def show_with_role(*, show_id: int, user: Any, lock: bool = False) -> tuple[Show | None, Role]:
    """The show and the user's role in it, in one query (the chat hot path uses this).

    With `lock`, the show row is locked (``FOR UPDATE OF`` the show only).
    """
    qs = Show.objects.select_related("shop")
    authenticated = user is not None and user.is_authenticated
    if authenticated:
        qs = qs.annotate(
            user_is_staff=Exists(
                ShopStaff.objects.filter(shop_id=OuterRef("shop_id"), user_id=user.pk)
            ),
            user_is_moderator=Exists(
                ShowModerator.objects.filter(show_id=OuterRef("pk"), user_id=user.pk)
            ),
        )
    if lock:
        qs = qs.select_for_update(of=("self",))
    show = qs.filter(pk=show_id).first()
    if show is None or not authenticated:
        return show, "anonymous"
    if show.shop.owner_id == user.pk or show.user_is_staff:  # type: ignore[attr-defined]
        return show, "host"
    if show.user_is_moderator:  # type: ignore[attr-defined]
        return show, "moderator"
    return show, "viewer"


def user_hears_hosts(*, show_id: int, user: Any) -> bool:
    """`streams.audience.socket_hears_hosts` for `user` in show `show_id` now (one query;
    the live room asks once, when a signed-in socket joins)."""
    _, role = show_with_role(show_id=show_id, user=user)
    return socket_hears_hosts(role)


def user_show_roles(*, user: Any, shows: list[Show]) -> dict[int, Role]:
    """`user_show_role` for a page of shows in two queries instead of two per show."""
    if user is None or not user.is_authenticated:
        return {show.pk: "anonymous" for show in shows}
    hosted = {shop.pk for shop in shops_for_user(user=user)}
    moderated = set(
        ShowModerator.objects.filter(
            user_id=user.pk, show_id__in=[show.pk for show in shows]
        ).values_list("show_id", flat=True)
    )
    roles: dict[int, Role] = {}
    for show in shows:
        if show.shop_id in hosted:
            roles[show.pk] = "host"
        elif show.pk in moderated:
            roles[show.pk] = "moderator"
        else:
            roles[show.pk] = "viewer"
    return roles


def show_get(*, show_id: int, user: Any) -> Show:
    """The show as `user` may see it; a rehearsal is 404 for anyone but its hosts."""
    show = (
        Show.objects.select_related("shop")
        .prefetch_related(*show_prefetches())
        .filter(pk=show_id)
        .first()
    )
    if show is None or (show.rehearsal and not user_is_show_host(user=user, show=show)):
        raise NotFound("No such show.")
    return show


def shows_visible(*, user: Any, status: str | None = None) -> QuerySet[Show]:
    """Shows listed to `user`: every non-rehearsal show, plus rehearsals of shops they host."""
    qs = Show.objects.select_related("shop")
    if user is not None and user.is_authenticated:
        hosted = Q(shop__owner_id=user.pk) | Q(shop__memberships__user_id=user.pk)
        qs = qs.filter(Q(rehearsal=False) | (Q(rehearsal=True) & hosted)).distinct()
    else:
        qs = qs.filter(rehearsal=False)
    if status is not None:
        qs = qs.filter(status=status)
    return qs.prefetch_related(*show_prefetches())


def show_prefetches() -> list[Prefetch]:
    """What `show_payload` reads, so a page of shows costs a fixed number of queries."""
    return [
        Prefetch(
            "lineup",
            queryset=LineupItem.objects.select_related("product").prefetch_related(
                "product__variants"
            ),
        ),
        Prefetch(
            "pins",
            queryset=Pin.objects.filter(unpinned_at__isnull=True)
            .select_related("product", "auction")
            .prefetch_related("product__variants"),
            to_attr="current_pins",
        ),
    ]


# --- products and pins --------------------------------------------------------------------


def _variants(product: Product) -> list[Variant]:
    return list(product.variants.all())


def _product_card(product: Product) -> dict[str, Any]:
    return {
        "id": product.pk,
        "title": product.title,
        "price": money(product.price),
        "currency": product.currency,
        "image_url": product.image_url,
    }


def product_summary_payload(product: Product) -> dict[str, Any]:
    """A product as a lineup entry: enough for a card."""
    variants = _variants(product)
    return {
        **_product_card(product),
        "stock_available": sum(v.stock_available for v in variants),
    }


def product_payload(product: Product) -> dict[str, Any]:
    """A product with its variants and live stock (pin cards, snapshots)."""
    variants = _variants(product)
    return {
        **_product_card(product),
        "options": product.options,
        "variants": [
            {
                "id": v.pk,
                "sku": v.sku,
                "options": v.options,
                "price": money(v.price if v.price is not None else product.price),
                "stock_available": v.stock_available,
            }
            for v in variants
        ],
        "stock_available": sum(v.stock_available for v in variants),
    }


def pin_payload(pin: Pin | None, *, viewer: Any = None) -> dict[str, Any] | None:
    """A pin as clients see it; ``None`` stays ``None`` (nothing pinned).

    `viewer` is the seam for per-viewer fields: the orders app adds `shipping_fee` for a
    signed-in viewer reading the current pin (`streams.hooks.pin_shipping_fee`).
    Broadcast events pass no viewer.
    """
    if pin is None:
        return None
    product = pin.product
    payload = {
        "id": pin.pk,
        "show": pin.show_id,
        "product": product_payload(product),
        "price": money(pin.price if pin.price is not None else product.price),
        "list_price": money(product.price),
        "currency": product.currency,
        "limit_per_buyer": pin.limit_per_buyer,
        "pinned_at": iso(pin.pinned_at),
        "unpinned_at": iso(pin.unpinned_at),
        "offset_s": round(pin.offset_s, 3),
        "auction": _pin_auction_id(pin),
    }
    if pin.unpinned_at is None and getattr(viewer, "is_authenticated", False):
        payload["shipping_fee"] = money(hooks.pin_shipping_fee(buyer=viewer, pin=pin))
    return payload


def _pin_auction_id(pin: Pin) -> int | None:
    """The auction that pinned this product (auctions app), if any."""
    auction = getattr(pin, "auction", None)  # reverse one-to-one: absent → None
    return None if auction is None else int(auction.pk)


def pin_current(*, show_id: int) -> Pin | None:
    return (
        Pin.objects.filter(show_id=show_id, unpinned_at__isnull=True)
        .select_related("product", "auction")
        .prefetch_related("product__variants")
        .first()
    )


def pin_timeline(*, show: Show) -> QuerySet[Pin]:
    """Every pin of the show, oldest first (the replay's timeline)."""
    return (
        Pin.objects.filter(show=show)
        .select_related("product", "auction")
        .prefetch_related("product__variants")
    )


def stock_payload(pin: Pin | None) -> list[dict[str, Any]]:
    """Live stock of the pinned product, one entry per variant (`stock.changed` shape)."""
    if pin is None:
        return []
    return [
        {"product": pin.product_id, "variant": v.pk, "available": v.stock_available}
        for v in _variants(pin.product)
    ]


# --- shows --------------------------------------------------------------------------------


def _current_pin_of(show: Show) -> Pin | None:
    prefetched = getattr(show, "current_pins", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return pin_current(show_id=show.pk)


def show_status_payload(show: Show) -> dict[str, Any]:
    """`show.status` event data."""
    return {
        "id": show.pk,
        "status": show.status,
        "started_at": iso(show.started_at),
        "ended_at": iso(show.ended_at),
    }


def show_payload(show: Show, *, viewer: Any = None, role: Role | None = None) -> dict[str, Any]:
    """A show for REST answers and snapshots. Hosts and moderators also see the word filter."""
    if role is None:
        role = user_show_role(user=viewer, show=show)
    data: dict[str, Any] = {
        "id": show.pk,
        "shop": show.shop_id,
        "shop_name": show.shop.name,
        "title": show.title,
        "status": show.status,
        "scheduled_at": iso(show.scheduled_at),
        "started_at": iso(show.started_at),
        "ended_at": iso(show.ended_at),
        "playback_url": show.playback_url,
        "rehearsal": show.rehearsal,
        "lineup": [product_summary_payload(item.product) for item in show.lineup.all()],
        "current_pin": pin_payload(_current_pin_of(show), viewer=viewer),
        "viewer_count": viewer_count(show_id=show.pk),
        "slow_mode_s": show.slow_mode_s,
        "created_at": iso(show.created_at),
    }
    if role in ("host", "moderator"):
        data["blocked_words"] = list(show.blocked_words)
    return data


def show_moderators(*, show: Show) -> QuerySet[ShowModerator]:
    return ShowModerator.objects.filter(show=show).select_related("user").order_by("id")


# --- chat ---------------------------------------------------------------------------------


def chat_message_payload(message: ChatMessage) -> dict[str, Any]:
    """`chat.message` event data, also one entry of the chat history."""
    return {
        "id": message.pk,
        "user": {"id": message.user_id, "username": message.user.username},
        "text": message.text,
        "ts": iso(message.created_at),
    }


def chat_visible_messages(*, show_id: int) -> QuerySet[ChatMessage]:
    """Messages viewers see: not removed."""
    return ChatMessage.objects.filter(show_id=show_id, removed_at__isnull=True).select_related(
        "user"
    )


def chat_history_page(
    *, show_id: int, before_id: int | None = None, limit: int = CHAT_HISTORY_PAGE_SIZE
) -> tuple[list[ChatMessage], bool]:
    """Up to `limit` messages older than `before_id` (latest first if None), ascending.

    Returns the page and whether older messages exist.
    """
    qs = chat_visible_messages(show_id=show_id)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    newest_first = list(qs.order_by("-id")[: limit + 1])
    has_older = len(newest_first) > limit
    return list(reversed(newest_first[:limit])), has_older


def chat_recent_payload(*, show_id: int, limit: int = SNAPSHOT_MESSAGES) -> list[dict[str, Any]]:
    page, _ = chat_history_page(show_id=show_id, limit=limit)
    return [chat_message_payload(m) for m in page]


# --- moderation ---------------------------------------------------------------------------

RESTRICTING = (
    ModerationAction.Action.BAN,
    ModerationAction.Action.TIMEOUT,
    ModerationAction.Action.UNBAN,
)


def user_restriction(*, show_id: int, user_id: int) -> ModerationAction | None:
    """The ban or running timeout in force for `user_id` in the show, if any.

    Only an explicit unban or its own expiry ends a restriction, and a shorter action
    never shortens a longer one: since the latest unban, any ban outranks every timeout
    (the latest ban is returned, for its reason); without one, the running timeout that
    ends last. So a timeout recorded after a ban (two moderators acting at once) does
    not lift the ban, and a short timeout does not cut a longer one short.
    """
    now = timezone.now()
    longest: ModerationAction | None = None
    rows = ModerationAction.objects.filter(
        show_id=show_id, target_user_id=user_id, action__in=RESTRICTING
    ).order_by("-id")
    for row in rows:
        if row.action == ModerationAction.Action.UNBAN:
            break
        if row.action == ModerationAction.Action.BAN:
            return row
        ends = row.until
        if ends is not None and ends > now and (longest is None or ends > longest.until):  # type: ignore[operator]
            longest = row
    return longest


def show_user_restriction(*, show_id: int, user: Any, role: Role) -> ModerationAction | None:
    """Whether `user` is read-only in the show: the restriction in force, or None.

    The one rule every write in a show asks (chat, reactions, moderation frames; see
    docs/shows-and-chat.md "Read-only"): hosts are never restricted (nobody can time out
    or ban them in their show); anyone else, moderators included, is while a ban or
    timeout is in force. Anonymous viewers are read-only anyway and have none.
    """
    if role in ("host", "anonymous"):
        return None
    return user_restriction(show_id=show_id, user_id=user.pk)


def moderation_action_payload(action: ModerationAction) -> dict[str, Any]:
    """A moderation record (the answer to whoever took it, and to staff)."""
    return {
        "id": action.pk,
        "show": action.show_id,
        "action": action.action,
        "actor": (
            {"id": action.actor_id, "username": action.actor.username}
            if action.actor is not None
            else None
        ),
        "user": {"id": action.target_user_id, "username": action.target_user.username},
        "message": action.message_id,
        "reason": action.reason,
        "until": iso(action.until),
        "created_at": iso(action.created_at),
    }


def moderation_notice_payload(action: ModerationAction) -> dict[str, Any]:
    """What the affected person reads (`moderation.notice` and /me/moderation/).

    The moderator's identity is not disclosed to the person they acted on.
    """
    return {
        "id": action.pk,
        "show": {"id": action.show_id, "title": action.show.title},
        "action": action.action,
        "reason": action.reason,
        "until": iso(action.until),
        "message": (
            {"id": action.message_id, "text": action.message.text}
            if action.message is not None
            else None
        ),
        "created_at": iso(action.created_at),
    }


def moderation_actions_affecting(*, user: Any) -> QuerySet[ModerationAction]:
    """Every action taken on `user` or their messages, for /me/moderation/."""
    return ModerationAction.objects.filter(target_user_id=user.pk).select_related("show", "message")


# --- the live room ------------------------------------------------------------------------


def show_snapshot(*, show_id: int, user: Any) -> dict[str, Any]:
    """Data for `show.snapshot` (the live room adds `viewer_count` and `seq`).

    Raises `NotFound` when there is no such show and `Forbidden` for a rehearsal the user
    does not host (the socket closes with 4404 / 4403).
    """
    show = (
        Show.objects.select_related("shop")
        .prefetch_related(*show_prefetches())
        .filter(pk=show_id)
        .first()
    )
    if show is None:
        raise NotFound("No such show.")
    role = user_show_role(user=user, show=show)
    if show.rehearsal and role != "host":
        raise Forbidden("This show is a rehearsal; only its hosts may join.")
    pin = _current_pin_of(show)
    return {
        "show": show_payload(show, viewer=user, role=role),
        "current_pin": pin_payload(pin, viewer=user),
        "stock": stock_payload(pin),
        "recent_messages": chat_recent_payload(show_id=show.pk),
        "role": role,
        "moderation": _own_restriction_payload(show=show, user=user, role=role),
        "auction": hooks.running_auction(show_id=show.pk),  # auctions
    }


def _own_restriction_payload(*, show: Show, user: Any, role: Role) -> dict[str, Any] | None:
    """The viewer's own ban or running timeout here, so a reconnecting client stays muted."""
    restriction = show_user_restriction(show_id=show.pk, user=user, role=role)
    if restriction is None:
        return None
    return {
        "action": restriction.action,
        "reason": restriction.reason,
        "until": iso(restriction.until),
    }
