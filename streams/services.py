"""Writes for shows, pins, chat, moderation and reactions.

Each service checks the caller's rights itself (REST views and the WebSocket consumer
both call them), raises `ApiError` with the SPEC code for expected failures, and emits
its viewer-visible event with `streams.events` (delivered after commit).

Lock order: a service that locks rows locks the `Show` row first (``select_for_update``),
then anything under it (pins, messages). Start, end, pin and unpin of one show are thus
serialized by that one row lock, which is what keeps "one current pin" and the pin
timeline consistent under concurrent requests.

Redis keys (all in the configured `REDIS_URL` database, each name prefixed with
`REDIS_KEY_PREFIX` by `core.redis.redis_key`):

- ``streams:chat:rate:{user_id}`` — per-user chat counter: at most `CHAT_RATE_MESSAGES`
  per fixed window of `CHAT_RATE_WINDOW_S` seconds (settings; SET NX EX + INCR in one
  MULTI: `core.throttling.fixed_window_hit`).
- ``streams:chat:slow:{show_id}:{user_id}`` — slow-mode marker, SET NX EX `slow_mode_s`.
- ``streams:reactions:rate:{user_id}`` — per-user reaction counter (same scheme:
  `REACTION_RATE` per `REACTION_RATE_WINDOW_S`).
- ``streams:reactions:{show_id}`` — hash kind → count since the last take;
  `reaction_counts_take` reads and deletes it atomically (MULTI: HGETALL + DEL).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.selectors import user_by_username
from catalog.models import Product, Shop
from catalog.selectors import user_can_manage_shop
from core import generations
from core.errors import ApiError, Forbidden, Invalid, InvalidState, NotFound
from core.redis import get_redis, redis_key
from core.text import check_text as _check_text
from core.throttling import CACHE_ERRORS, fixed_window_hit, warn_cache_down
from streams import hooks
from streams.events import emit_show_event, emit_user_event
from streams.models import ChatMessage, LineupItem, ModerationAction, Pin, Show, ShowModerator
from streams.selectors import (
    Role,
    chat_message_payload,
    iso,
    moderation_notice_payload,
    pin_payload,
    show_status_payload,
    show_user_restriction,
    show_with_role,
    user_restriction,
    user_show_role,
)
from webhooks.services import event_record

User = get_user_model()

REACTION_KINDS: tuple[str, ...] = ("heart", "fire", "clap", "laugh", "wow")
# Counts nobody took (no live room running) disappear on their own.
REACTION_COUNTS_TTL_S = 300

MAX_SLOW_MODE_S = 3600
MAX_BLOCKED_WORDS = 200
MAX_BLOCKED_WORD_LENGTH = 50
MAX_REASON_LENGTH = 500


# --- shared checks ------------------------------------------------------------------------


def require_user(user: Any) -> None:
    """Every write in a show needs a signed-in user: 401 `not_authenticated` otherwise
    (REST views and the live room alike; anonymous viewers only watch)."""
    if user is None or not user.is_authenticated:
        raise _not_authenticated()


def _not_authenticated() -> ApiError:
    return ApiError("not_authenticated", "Sign in to do this.", status=401)


def _show_for(*, show_id: int, user: Any, lock: bool = False) -> tuple[Show, Role]:
    """Load the show (locked if asked) and the user's role; a rehearsal is 404 to non-hosts."""
    show, role = show_with_role(show_id=show_id, user=user, lock=lock)
    if show is None:
        raise NotFound("No such show.")
    if show.rehearsal and role != "host":
        raise NotFound("No such show.")
    return show, role


def _hosted_show(*, user: Any, show_id: int) -> Show:
    """The show, locked, for a write only its hosts may make (401 / 404 / 403 otherwise)."""
    require_user(user)
    show, role = _show_for(show_id=show_id, user=user, lock=True)
    _require_host(role)
    return show


def _require_host(role: Role) -> None:
    if role == "anonymous":
        raise _not_authenticated()
    if role != "host":
        raise Forbidden("Only the show's hosts may do this.")


def reaction_counts_key(show_id: int) -> str:
    return redis_key("streams", "reactions", show_id)


# --- shows --------------------------------------------------------------------------------


def _check_lineup(*, shop: Shop, product_ids: list[int]) -> list[int]:
    if len(set(product_ids)) != len(product_ids):
        raise Invalid(
            "lineup: a product appears twice.", details={"lineup": ["Duplicate product."]}
        )
    found = set(Product.objects.filter(shop=shop, pk__in=product_ids).values_list("pk", flat=True))
    missing = [pid for pid in product_ids if pid not in found]
    if missing:
        msg = f"Products {missing} are not products of this shop."
        raise Invalid(f"lineup: {msg}", details={"lineup": [msg]})
    return product_ids


def _set_lineup(*, show: Show, product_ids: list[int]) -> None:
    LineupItem.objects.filter(show=show).delete()
    LineupItem.objects.bulk_create(
        LineupItem(show=show, product_id=pid, position=i) for i, pid in enumerate(product_ids)
    )


@transaction.atomic
def show_create(
    *,
    user: Any,
    shop_id: int,
    title: str,
    scheduled_at: datetime,
    playback_url: str = "",
    lineup: list[int] | None = None,
    rehearsal: bool = False,
) -> Show:
    """Plan a show for a shop the caller hosts, with an ordered lineup of its products."""
    require_user(user)
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        raise Invalid("shop: no such shop.", details={"shop": ["No such shop."]})
    if not user_can_manage_shop(user=user, shop=shop):
        raise Forbidden("Only the shop's owner and staff may plan its shows.")
    title = _check_text(field="title", value=title, max_length=200)
    product_ids = _check_lineup(shop=shop, product_ids=lineup or [])
    show = Show.objects.create(
        shop=shop,
        title=title,
        scheduled_at=scheduled_at,
        playback_url=playback_url,
        rehearsal=rehearsal,
    )
    _set_lineup(show=show, product_ids=product_ids)
    return show


@transaction.atomic
def show_update(
    *,
    user: Any,
    show_id: int,
    title: str | None = None,
    scheduled_at: datetime | None = None,
    playback_url: str | None = None,
    lineup: list[int] | None = None,
    slow_mode_s: int | None = None,
    blocked_words: list[str] | None = None,
) -> Show:
    """Edit a show (hosts). `None` leaves a field alone.

    The plan (`scheduled_at`, `lineup`) changes only while scheduled; `title` and
    `playback_url` until the show ends; chat settings at any time.
    """
    show = _hosted_show(user=user, show_id=show_id)
    if (scheduled_at is not None or lineup is not None) and show.status != Show.Status.SCHEDULED:
        raise InvalidState("The schedule and lineup can change only before the show starts.")
    if (title is not None or playback_url is not None) and show.status == Show.Status.ENDED:
        raise InvalidState("The show has ended.")
    if title is not None:
        show.title = _check_text(field="title", value=title, max_length=200)
    if scheduled_at is not None:
        show.scheduled_at = scheduled_at
    if playback_url is not None:
        show.playback_url = playback_url
    if lineup is not None:
        _set_lineup(show=show, product_ids=_check_lineup(shop=show.shop, product_ids=lineup))
    show.save()
    if slow_mode_s is not None or blocked_words is not None:
        _apply_chat_settings(show=show, slow_mode_s=slow_mode_s, blocked_words=blocked_words)
    return show


def _apply_chat_settings(
    *, show: Show, slow_mode_s: int | None, blocked_words: list[str] | None
) -> None:
    if slow_mode_s is not None:
        if isinstance(slow_mode_s, bool) or not isinstance(slow_mode_s, int):
            raise Invalid("slow_mode_s must be an integer.", details={"slow_mode_s": ["Integer."]})
        if not 0 <= slow_mode_s <= MAX_SLOW_MODE_S:
            msg = f"Must be between 0 and {MAX_SLOW_MODE_S}."
            raise Invalid(f"slow_mode_s: {msg}", details={"slow_mode_s": [msg]})
        show.slow_mode_s = slow_mode_s
    if blocked_words is not None:
        show.blocked_words = _clean_blocked_words(blocked_words)
    show.save(update_fields=["slow_mode_s", "blocked_words"])
    emit_show_event(show_id=show.pk, type="chat.settings", data={"slow_mode_s": show.slow_mode_s})


def _clean_blocked_words(words: Any) -> list[str]:
    if not isinstance(words, list) or len(words) > MAX_BLOCKED_WORDS:
        msg = f"A list of at most {MAX_BLOCKED_WORDS} words."
        raise Invalid(f"blocked_words: {msg}", details={"blocked_words": [msg]})
    cleaned: list[str] = []
    seen: set[str] = set()
    for word in words:
        word = _check_text(field="blocked_words", value=word, max_length=MAX_BLOCKED_WORD_LENGTH)
        word = word.strip()
        if word.casefold() not in seen:
            seen.add(word.casefold())
            cleaned.append(word)
    return cleaned


@transaction.atomic
def show_chat_settings_set(
    *,
    user: Any,
    show_id: int,
    slow_mode_s: int | None = None,
    blocked_words: list[str] | None = None,
) -> Show:
    """Set slow mode and the word filter (hosts and the show's moderators)."""
    require_user(user)
    show, role = _show_for(show_id=show_id, user=user, lock=True)
    if role not in ("host", "moderator"):
        raise Forbidden("Only the show's hosts and moderators may change chat settings.")
    _apply_chat_settings(show=show, slow_mode_s=slow_mode_s, blocked_words=blocked_words)
    return show


@transaction.atomic
def show_start(*, user: Any, show_id: int) -> Show:
    """Go live (hosts): scheduled → live, sets `started_at`, emits `show.status`."""
    show = _hosted_show(user=user, show_id=show_id)
    if show.status != Show.Status.SCHEDULED:
        raise InvalidState(f"The show is {show.status}; only a scheduled show can start.")
    _show_status_set(show, Show.Status.LIVE, webhook="show.started", started_at=timezone.now())
    return show


@transaction.atomic
def show_end(*, user: Any, show_id: int) -> Show:
    """End the show (hosts): live → ended, closes the current pin, emits `show.status`."""
    show = _hosted_show(user=user, show_id=show_id)
    if show.status != Show.Status.LIVE:
        raise InvalidState(f"The show is {show.status}; only a live show can end.")
    now = timezone.now()
    _show_status_set(show, Show.Status.ENDED, webhook="show.ended", ended_at=now)
    closed = Pin.objects.filter(show=show, unpinned_at__isnull=True).update(unpinned_at=now)
    if closed:
        emit_show_event(show_id=show.pk, type="pin.changed", data={"pin": None})
    generations.show_changed(show_id=show.pk)  # sold-out gate: what the show sells changed
    return show


def _show_status_set(show: Show, status: str, *, webhook: str, **times: datetime) -> None:
    """Move the show to `status` (with its start or end time): the seller's webhook and
    the viewers' `show.status`."""
    show.status = status
    for field, value in times.items():
        setattr(show, field, value)
    show.save(update_fields=["status", *times])
    event_record(shop_id=show.shop_id, type=webhook, data=show_status_payload(show))
    emit_show_event(show_id=show.pk, type="show.status", data=show_status_payload(show))


# --- moderators ---------------------------------------------------------------------------


def _host_show_and_user(*, user: Any, show_id: int, username: Any) -> tuple[Show, Any]:
    """For the hosts' moderator list: the show (locked) and the user `username` names."""
    show = _hosted_show(user=user, show_id=show_id)
    target = user_by_username(username)
    if target is None:
        raise Invalid("username: no such user.", details={"username": ["No such user."]})
    return show, target


@transaction.atomic
def show_moderator_add(*, user: Any, show_id: int, username: str) -> tuple[ShowModerator, bool]:
    """Name a moderator (hosts). Returns (row, created); naming one twice changes nothing."""
    show, target = _host_show_and_user(user=user, show_id=show_id, username=username)
    if user_show_role(user=target, show=show) == "host":
        msg = "Hosts already moderate their shows."
        raise Invalid(f"username: {msg}", details={"username": [msg]})
    row, created = ShowModerator.objects.get_or_create(show=show, user=target)
    return row, created


@transaction.atomic
def show_moderator_remove(*, user: Any, show_id: int, username: str) -> None:
    """Remove a moderator (hosts); 404 when that user is not one."""
    show, target = _host_show_and_user(user=user, show_id=show_id, username=username)
    deleted, _ = ShowModerator.objects.filter(show=show, user=target).delete()
    if not deleted:
        raise NotFound("That user is not a moderator of this show.")


# --- pins ---------------------------------------------------------------------------------


@transaction.atomic
def pin_product(
    *,
    user: Any,
    show_id: int,
    product_id: int,
    price: Decimal | None = None,
    limit_per_buyer: int | None = None,
) -> Pin:
    """Pin a product of the show's shop (hosts), replacing the current pin.

    Allowed while scheduled (to set up, e.g. in a rehearsal) and live; an ended show's
    timeline is final. The show row lock serializes concurrent pins, so the close of the
    old pin and the insert of the new one never interleave with another pin's.
    """
    show = _hosted_show(user=user, show_id=show_id)
    if show.status == Show.Status.ENDED:
        raise InvalidState("The show has ended; its pin timeline is final.")
    product = Product.objects.filter(pk=product_id, shop_id=show.shop_id, is_active=True).first()
    if product is None:
        msg = "No such active product in this show's shop."
        raise Invalid(f"product: {msg}", details={"product": [msg]})
    if price is not None and price < 0:
        raise Invalid("price: must not be negative.", details={"price": ["Must be >= 0."]})
    if limit_per_buyer is not None and limit_per_buyer < 1:
        msg = "Must be at least 1."
        raise Invalid(f"limit_per_buyer: {msg}", details={"limit_per_buyer": [msg]})
    hooks.pin_check(product)  # trust: 409 listing_not_ready on a failed `block` check
    now = timezone.now()
    Pin.objects.filter(show=show, unpinned_at__isnull=True).update(unpinned_at=now)
    offset_s = 0.0
    if show.status == Show.Status.LIVE and show.started_at is not None:
        offset_s = max((now - show.started_at).total_seconds(), 0.0)
    pin = Pin.objects.create(
        show=show,
        product=product,
        price=price,
        limit_per_buyer=limit_per_buyer,
        pinned_at=now,
        offset_s=offset_s,
    )
    pin = Pin.objects.select_related("product").prefetch_related("product__variants").get(pk=pin.pk)
    emit_show_event(show_id=show.pk, type="pin.changed", data={"pin": pin_payload(pin)})
    generations.show_changed(show_id=show.pk)  # sold-out gate: what the show sells changed
    return pin


@transaction.atomic
def pin_clear(*, user: Any, show_id: int) -> Pin:
    """Unpin the current product (hosts); 404 when nothing is pinned. Returns the closed pin."""
    show = _hosted_show(user=user, show_id=show_id)
    pin = Pin.objects.filter(show=show, unpinned_at__isnull=True).first()
    if pin is None:
        raise NotFound("Nothing is pinned.")
    pin.unpinned_at = timezone.now()
    pin.save(update_fields=["unpinned_at"])
    emit_show_event(show_id=show.pk, type="pin.changed", data={"pin": None})
    generations.show_changed(show_id=show.pk)  # sold-out gate: what the show sells changed
    return pin


# --- chat ---------------------------------------------------------------------------------


def _show_open_for(*, show: Show, role: Role) -> bool:
    """Chat and reactions need a live show; a rehearsal's hosts may try them out earlier."""
    if show.status == Show.Status.LIVE:
        return True
    return show.rehearsal and role == "host" and show.status == Show.Status.SCHEDULED


def _blocked_word_in(*, text: str, words: list[str]) -> str | None:
    """The first blocked word found in `text` as a whole word (case-insensitive), if any."""
    if not words:
        return None
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
    )
    found = pattern.search(text)
    return found.group(1) if found else None


def chat_send(*, show_id: int, user: Any, text: Any) -> ChatMessage:
    """Post a chat message and broadcast `chat.message`.

    Checks, in order: signed in, show visible and live, not banned or timed out, text
    valid, word filter, per-user rate limit, per-show slow mode. Hosts and moderators are
    exempt from the filter and slow mode (not from the rate limit); a banned or timed-out
    moderator is read-only like anyone (`check_not_restricted`).
    The text is stored exactly as written.
    """
    require_user(user)
    show, role = _show_for(show_id=show_id, user=user)
    if not _show_open_for(show=show, role=role):
        raise ApiError("show_not_live", "Chat opens when the show goes live.", status=409)
    check_not_restricted(show=show, user=user, role=role)
    staff = role in ("host", "moderator")
    text = _check_text(field="text", value=text, max_length=ChatMessage.MAX_LENGTH)
    if not staff and _blocked_word_in(text=text, words=list(show.blocked_words)):
        raise ApiError(
            "message_blocked",
            "Your message contains a word the host does not allow here.",
            status=400,
        )
    count, ttl = fixed_window_hit(
        key=redis_key("streams", "chat", "rate", user.pk), window_s=settings.CHAT_RATE_WINDOW_S
    )
    if count > settings.CHAT_RATE_MESSAGES:
        raise ApiError(
            "throttled",
            f"You are sending messages too fast; wait {ttl} s.",
            status=429,
            details={"retry_after_s": ttl},
        )
    if show.slow_mode_s and not staff:
        redis = get_redis()
        key = redis_key("streams", "chat", "slow", show.pk, user.pk)
        try:
            first = redis.set(key, 1, nx=True, ex=show.slow_mode_s)
            wait = 0 if first else max(int(redis.ttl(key)), 1)
        except CACHE_ERRORS as exc:  # slow mode is off while Redis is down
            warn_cache_down("chat slow mode", exc)
            wait = 0
        if wait:
            raise ApiError(
                "slow_mode",
                f"Slow mode is on: one message every {show.slow_mode_s} s; wait {wait} s.",
                status=429,
                details={"retry_after_s": wait},
            )
    message = ChatMessage.objects.create(show=show, user=user, text=text)
    emit_show_event(show_id=show.pk, type="chat.message", data=chat_message_payload(message))
    return message


def check_not_restricted(*, show: Show, user: Any, role: Role) -> None:
    """Refuse a write by a user who is read-only in the show (banned or timed out): 403
    `banned` / `timed_out` with the moderator's reason. Every write in a show's room —
    chat, reactions, moderation — calls this; `show_user_restriction` decides."""
    restriction = show_user_restriction(show_id=show.pk, user=user, role=role)
    if restriction is None:
        return
    if restriction.action == ModerationAction.Action.BAN:
        # SPEC: the error's message is the reason the moderator gave.
        raise ApiError(
            "banned",
            restriction.reason,
            status=403,
            details={"reason": restriction.reason, "until": None},
        )
    until = iso(restriction.until)
    raise ApiError(
        "timed_out",
        f"{restriction.reason} (timed out until {until})",
        status=403,
        details={"reason": restriction.reason, "until": until},
    )


# --- moderation ---------------------------------------------------------------------------


def _check_duration(duration_s: Any) -> int:
    if (
        isinstance(duration_s, bool)
        or not isinstance(duration_s, int)
        or not 1 <= duration_s <= ModerationAction.MAX_TIMEOUT_S
    ):
        msg = f"A timeout needs duration_s between 1 and {ModerationAction.MAX_TIMEOUT_S}."
        raise Invalid(msg, details={"duration_s": [msg]})
    return duration_s


@transaction.atomic
def moderation_apply(
    *,
    show_id: int,
    actor: Any,
    action: str,
    target_user_id: int | None = None,
    message_id: int | None = None,
    reason: str,
    duration_s: int | None = None,
) -> ModerationAction:
    """Remove a message, time out, ban or unban in a show (hosts and its moderators).

    Every action carries a reason the affected person reads (`moderation.notice`, and
    /me/moderation/). Hosts cannot be timed out or banned in their show; moderators
    cannot act on hosts or other moderators. `remove_message` targets the message's
    author and broadcasts `chat.removed`.
    """
    require_user(actor)
    if action not in ModerationAction.Action.values:
        msg = f"Unknown action; use one of {', '.join(ModerationAction.Action.values)}."
        raise Invalid(msg, details={"action": [msg]})
    reason = _check_text(field="reason", value=reason, max_length=MAX_REASON_LENGTH)
    show, role = _show_for(show_id=show_id, user=actor)
    if role not in ("host", "moderator"):
        raise Forbidden("Only the show's hosts and moderators may moderate.")
    check_not_restricted(show=show, user=actor, role=role)

    message: ChatMessage | None = None
    target: Any
    if action == ModerationAction.Action.REMOVE_MESSAGE:
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            raise Invalid(
                "message: required for remove_message.", details={"message": ["Required."]}
            )
        message = (
            ChatMessage.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=message_id, show=show)
            .first()
        )
        if message is None:
            msg = "No such message in this show."
            raise Invalid(f"message: {msg}", details={"message": [msg]})
        if message.removed_at is not None:
            raise InvalidState("That message was already removed.")
        target = message.user
    else:
        if isinstance(target_user_id, bool) or not isinstance(target_user_id, int):
            raise Invalid(f"user: required for {action}.", details={"user": ["Required."]})
        found = User.objects.filter(pk=target_user_id).first()
        if found is None:
            raise Invalid("user: no such user.", details={"user": ["No such user."]})
        target = found
        if target.pk == actor.pk:
            raise Invalid("You cannot moderate yourself.", details={"user": ["Yourself."]})

    target_role = user_show_role(user=target, show=show)
    if action != ModerationAction.Action.REMOVE_MESSAGE and target_role == "host":
        raise Forbidden("Hosts cannot be timed out or banned in their own show.")
    if role == "moderator" and target_role in ("host", "moderator") and target.pk != actor.pk:
        raise Forbidden("Moderators cannot act on the show's hosts or other moderators.")

    now = timezone.now()
    until: datetime | None = None
    if action == ModerationAction.Action.TIMEOUT:
        until = now + timedelta(seconds=_check_duration(duration_s))
    if action in (ModerationAction.Action.TIMEOUT, ModerationAction.Action.UNBAN):
        _check_restriction_change(show=show, target=target, action=action, until=until)

    try:
        with transaction.atomic():
            record = ModerationAction.objects.create(
                show=show,
                actor=actor,
                target_user=target,
                action=action,
                reason=reason,
                message=message,
                until=until,
            )
    except IntegrityError as exc:  # the CHECK constraints back up the checks above
        raise Invalid("This moderation action is not valid.") from exc
    if message is not None:
        message.removed_at = now
        message.removed_by = actor
        message.removal_reason = reason
        message.save(update_fields=["removed_at", "removed_by", "removal_reason"])
        emit_show_event(show_id=show.pk, type="chat.removed", data={"id": message.pk})
    notice = moderation_notice_payload(record)
    emit_user_event(user_id=target.pk, type="moderation.notice", data=notice)
    hooks.moderation_applied(record=record)  # trust: a ban or timeout is a case
    return record


def moderation_lift(
    *, show_id: int, target_user_id: int, action_id: int, actor: Any, reason: str
) -> ModerationAction | None:
    """Lift a ban or timeout from outside the show (staff overturning it on appeal),
    through the same `unban` record a host would write, so `user_restriction` — and
    with it chat over REST and WebSocket — lets the person speak again at once.

    Only when the restriction in force is still `action_id`: a later, separate ban has a
    case (and an appeal) of its own. Tells the person with `moderation.notice`. Returns
    the unban, or None when nothing was lifted."""
    current = user_restriction(show_id=show_id, user_id=target_user_id)
    if current is None or current.pk != action_id:
        return None
    record = ModerationAction.objects.create(
        show_id=show_id,
        actor=actor,
        target_user_id=target_user_id,
        action=ModerationAction.Action.UNBAN,
        reason=reason[:MAX_REASON_LENGTH],
    )
    record = ModerationAction.objects.select_related("show", "message").get(pk=record.pk)
    notice = moderation_notice_payload(record)
    emit_user_event(user_id=target_user_id, type="moderation.notice", data=notice)
    return record


def _check_restriction_change(
    *, show: Show, target: Any, action: str, until: datetime | None
) -> None:
    """409 `invalid_state` for a timeout that would not restrict more than what is in
    force (a ban, or a timeout ending later) and for an unban with nothing to lift.

    A shorter action never shortens a longer one (`user_restriction` guarantees it even
    for actions recorded concurrently); refusing it tells the moderator so, instead of
    recording a timeout that would do nothing.
    """
    current = user_restriction(show_id=show.pk, user_id=target.pk)
    if action == ModerationAction.Action.UNBAN:
        if current is None:
            raise InvalidState("That user is neither banned nor timed out in this show.")
        return
    if current is None:
        return
    if current.action == ModerationAction.Action.BAN:
        raise InvalidState(
            "That user is banned in this show; a timeout would not change that (unban first).",
            details={"restriction": "ban"},
        )
    if until is not None and current.until is not None and current.until >= until:
        raise InvalidState(
            f"That user is already timed out until {iso(current.until)}, longer than this timeout.",
            details={"restriction": "timeout", "until": iso(current.until)},
        )


# --- reactions ----------------------------------------------------------------------------


def reaction_send(*, show_id: int, user: Any, kind: Any) -> None:
    """Count one reaction of a known kind in Redis; the live room broadcasts the totals
    as `reaction.burst` (see `reaction_counts_take`)."""
    require_user(user)
    if not isinstance(kind, str) or kind not in REACTION_KINDS:
        msg = f"Unknown reaction; use one of {', '.join(REACTION_KINDS)}."
        raise Invalid(msg, details={"kind": [msg]})
    show, role = _show_for(show_id=show_id, user=user)
    if not _show_open_for(show=show, role=role):
        raise ApiError("show_not_live", "Reactions open when the show goes live.", status=409)
    check_not_restricted(show=show, user=user, role=role)
    count, ttl = fixed_window_hit(
        key=redis_key("streams", "reactions", "rate", user.pk),
        window_s=settings.REACTION_RATE_WINDOW_S,
    )
    if count > settings.REACTION_RATE:
        raise ApiError(
            "throttled",
            f"You are reacting too fast; wait {ttl} s.",
            status=429,
            details={"retry_after_s": ttl},
        )
    pipe = get_redis().pipeline(transaction=True)
    pipe.hincrby(reaction_counts_key(show.pk), kind, 1)
    pipe.expire(reaction_counts_key(show.pk), REACTION_COUNTS_TTL_S)
    pipe.execute()


def reaction_counts_take(*, show_id: int) -> dict[str, int]:
    """Read and reset the show's reaction counts in one step.

    HGETALL and DEL run in one MULTI/EXEC, which Redis executes without interleaving any
    other client's command, so a concurrent HINCRBY lands either in this take or in the
    next one: no reaction is counted twice or lost.
    """
    key = reaction_counts_key(show_id)
    pipe = get_redis().pipeline(transaction=True)
    pipe.hgetall(key)
    pipe.delete(key)
    counts, _ = pipe.execute()
    return {k.decode(): int(v) for k, v in counts.items()}
