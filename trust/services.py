"""Writes for cases: open (every enforcement), appeal, decide, lift, expire, escalate;
and the listing review run on every catalog write.

Every step appends a `CaseEvent` in the same transaction as the change it records, and
the affected person is told with a private `case.updated` event after commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Product
from core.errors import ApiError, InternalError, Invalid, NotFound
from core.text import check_text
from streams.events import emit_user_event
from streams.models import ChatMessage, ModerationAction, Show
from streams.selectors import iso, user_show_role
from streams.services import moderation_lift
from trust.models import Appeal, Case, CaseEvent
from trust.quality import listing_prohibited
from trust.rules import DEFAULT_CHAT_RULE, RULES
from trust.selectors import case_payload, cleared_listing_terms, user_can_see_case

logger = logging.getLogger(__name__)

EVIDENCE_MESSAGES = 5
MAX_REASON_LENGTH = 500
MAX_DECISION_REASON_LENGTH = 1000


def _event(*, case: Case, kind: str, actor: Any = None, **data: Any) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        data=data,
        created_at=timezone.now(),
    )


def _tell(case: Case) -> None:
    """The private `case.updated` event to the person, after commit."""
    data = case_payload(case, viewer=case.subject)
    emit_user_event(user_id=case.subject_id, type="case.updated", data=data)


@transaction.atomic
def case_open(
    *,
    subject: Any,
    kind: str,
    rule: str,
    reason: str,
    evidence: dict[str, Any],
    actor: str,
    actor_user: Any = None,
    show: Show | None = None,
    product: Product | None = None,
    moderation_action: ModerationAction | None = None,
    expires_at: datetime | None = None,
) -> Case:
    """Open a case: the record of one enforcement. Every enforcement calls this, in the
    transaction that enforces, so there is never a restriction without its case.

    For restrictions the case itself owns (`bidding_blocked`, `account_restricted`), the
    case *is* the restriction: `trust.selectors.case_in_force` reads it. For example,
    auctions block a bidder with::

        case_open(subject=user, kind="bidding_blocked", rule="B1", actor="automatic",
                  reason="Three unpaid wins in 90 days.", evidence={"orders": [...]},
                  expires_at=None)
    """
    if kind not in Case.Kind.values:
        raise InternalError(f"unknown case kind {kind!r}")
    if actor not in Case.Actor.values:
        raise InternalError(f"unknown case actor {actor!r}")
    if rule not in RULES:
        raise InternalError(f"unknown rule {rule!r}; add it to trust/rules.py")
    if not reason.strip():
        raise InternalError("a case needs a reason")
    now = timezone.now()
    case = Case.objects.create(
        subject=subject,
        kind=kind,
        rule=rule,
        reason=reason[:MAX_REASON_LENGTH],
        evidence=evidence,
        actor=actor,
        actor_user=actor_user if actor_user is not None else None,
        show=show,
        product=product,
        moderation_action=moderation_action,
        created_at=now,
        expires_at=expires_at,
        appealable_until=now + timedelta(days=settings.APPEAL_WINDOW_DAYS),
    )
    _event(case=case, kind=CaseEvent.Kind.OPENED, actor=actor_user, rule=rule, reason=reason)
    _tell(case)
    return case


def _close(*, case: Case, status: str, event: str, actor: Any = None, **data: Any) -> None:
    case.status = status
    case.closed_at = timezone.now()
    case.save(update_fields=["status", "closed_at"])
    _event(case=case, kind=event, actor=actor, **data)
    _tell(case)


# --- chat moderation ----------------------------------------------------------------------

_CHAT_KINDS = {
    ModerationAction.Action.TIMEOUT: Case.Kind.CHAT_TIMEOUT,
    ModerationAction.Action.BAN: Case.Kind.CHAT_BAN,
}


def _chat_evidence(*, record: ModerationAction) -> dict[str, Any]:
    """What the decision was based on, frozen now: the show, the moment (offset from its
    start) and the person's latest messages there, as they read then."""
    show = record.show
    offset = (
        max((record.created_at - show.started_at).total_seconds(), 0.0)
        if show.started_at is not None
        else None
    )
    messages = ChatMessage.objects.filter(show=show, user_id=record.target_user_id).order_by("-id")[
        :EVIDENCE_MESSAGES
    ]
    return {
        "show": {"id": show.pk, "title": show.title, "shop": show.shop_id},
        "offset_s": offset,
        "moderation_action": record.pk,
        "until": iso(record.until),
        "messages": [
            {
                "id": m.pk,
                "text": m.text,
                "created_at": iso(m.created_at),
                "removed": m.removed_at is not None,
            }
            for m in reversed(messages)
        ],
    }


def case_for_moderation(*, record: ModerationAction) -> Case | None:
    """The case side of a chat moderation action (called once, inside
    `streams.services.moderation_apply`'s transaction).

    A timeout or a ban opens a case. An unban lifts the person's active chat cases in that
    show. Removing a message is not a case: it restricts nothing from then on, and its
    reason is already in /me/moderation/ (a later timeout or ban carries the message in
    its evidence).
    """
    kind = _CHAT_KINDS.get(ModerationAction.Action(record.action))
    if record.action == ModerationAction.Action.UNBAN:
        for case in Case.objects.select_for_update().filter(
            subject_id=record.target_user_id,
            show_id=record.show_id,
            kind__in=list(_CHAT_KINDS.values()),
            status=Case.Status.ACTIVE,
        ):
            _close(
                case=case,
                status=Case.Status.LIFTED,
                event=CaseEvent.Kind.LIFTED,
                actor=record.actor,
                reason=record.reason,
                moderation_action=record.pk,
            )
        return None
    if kind is None:
        return None
    role = user_show_role(user=record.actor, show=record.show) if record.actor else "host"
    return case_open(
        subject=record.target_user,
        kind=kind,
        rule=DEFAULT_CHAT_RULE,
        reason=record.reason,
        evidence=_chat_evidence(record=record),
        actor=Case.Actor.MODERATOR if role == "moderator" else Case.Actor.HOST,
        actor_user=record.actor,
        show=record.show,
        moderation_action=record,
        expires_at=record.until,
    )


# --- appeals ------------------------------------------------------------------------------


@transaction.atomic
def appeal_create(*, case_id: int, user: Any, text: Any) -> Appeal:
    """The person appeals their case: once (409 `appeal_exists`), within the case's
    window (409 `appeal_window_closed`). Others get 404 (they may not see it) or 403 (a
    host who sees it but is not the person)."""
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound("No such case.")
    if case.subject_id != user.pk:
        if user_can_see_case(user=user, case=case):
            raise ApiError(
                "permission_denied", "Only the person the case is about may appeal.", status=403
            )
        raise NotFound("No such case.")
    text = check_text(field="text", value=text, max_length=Appeal.MAX_TEXT_LENGTH)
    if Appeal.objects.filter(case=case).exists():
        raise ApiError("appeal_exists", "This case has already been appealed.", status=409)
    now = timezone.now()
    if now >= case.appealable_until:
        raise ApiError(
            "appeal_window_closed",
            f"The appeal window closed at {iso(case.appealable_until)}.",
            status=409,
            details={"appealable_until": iso(case.appealable_until)},
        )
    appeal = Appeal.objects.create(
        case=case,
        text=text,
        created_at=now,
        due_at=now + timedelta(hours=settings.APPEAL_DECISION_HOURS),
    )
    _event(case=case, kind=CaseEvent.Kind.APPEALED, actor=user, text=text)
    _tell(case)
    return appeal


class Decision:
    """Staff's two answers to an appeal."""

    UPHOLD = "uphold"
    OVERTURN = "overturn"
    CHOICES = (UPHOLD, OVERTURN)


@transaction.atomic
def appeal_decide(*, case_id: int, staff: Any, decision: Any, reason: Any) -> Case:
    """Staff decide a pending appeal, always with a reason the person reads. An overturn
    lifts the restriction at once (`_lift`) and the person is told."""
    if staff is None or not staff.is_authenticated or not staff.is_staff:
        raise NotFound("No such case.")
    if decision not in Decision.CHOICES:
        msg = "Use uphold or overturn."
        raise Invalid(f"decision: {msg}", details={"decision": [msg]})
    reason = check_text(field="reason", value=reason, max_length=MAX_DECISION_REASON_LENGTH)
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound("No such case.")
    appeal = Appeal.objects.select_for_update().filter(case=case).first()
    if appeal is None:
        raise ApiError("invalid_state", "This case has not been appealed.", status=409)
    if appeal.status != Appeal.Status.PENDING:
        raise ApiError("invalid_state", f"The appeal was already {appeal.status}.", status=409)
    appeal.status = (
        Appeal.Status.OVERTURNED if decision == Decision.OVERTURN else Appeal.Status.UPHELD
    )
    appeal.decided_at = timezone.now()
    appeal.decided_by = staff
    appeal.decision_reason = reason
    appeal.save(update_fields=["status", "decided_at", "decided_by", "decision_reason"])
    _event(case=case, kind=CaseEvent.Kind.DECIDED, actor=staff, decision=decision, reason=reason)
    if decision == Decision.OVERTURN:
        lifted = _lift(case=case, staff=staff, reason=reason)
        _close(
            case=case,
            status=Case.Status.OVERTURNED,
            event=CaseEvent.Kind.LIFTED,
            actor=staff,
            reason=reason,
            restriction_lifted=lifted,
        )
    else:
        _tell(case)
    return case


def _lift(*, case: Case, staff: Any, reason: str) -> bool:
    """End what the case restricts, through the restriction's own owner. Returns whether
    something was still in force.

    - chat ban/timeout: an `unban` moderation record, if this case's action is still
      the one in force (a later, separate restriction has a case of its own);
    - listing removed: the listing is active again;
    - listing flagged: the overturned case clears its terms for that product
      (`cleared_listing_terms`), nothing to write;
    - bidding blocked, account restricted: the case itself was the restriction.
    """
    if case.kind in _CHAT_KINDS.values():
        if case.show_id is None or case.moderation_action_id is None:
            return False
        record = moderation_lift(
            show_id=case.show_id,
            target_user_id=case.subject_id,
            action_id=case.moderation_action_id,
            actor=staff,
            reason=f"Overturned on appeal: {reason}",
        )
        return record is not None
    if case.kind == Case.Kind.LISTING_REMOVED and case.product_id is not None:
        return bool(Product.objects.filter(pk=case.product_id).update(is_active=True))
    return case.status == Case.Status.ACTIVE


# --- deadlines (beat) ---------------------------------------------------------------------


def cases_expire_due() -> int:
    """Mark active cases whose `expires_at` passed as expired (a timeout that ran out).
    Idempotent: each case is closed once, under its row lock."""
    done = 0
    now = timezone.now()
    ids = list(
        Case.objects.filter(status=Case.Status.ACTIVE, expires_at__lte=now).values_list(
            "pk", flat=True
        )[:500]
    )
    for case_id in ids:
        with transaction.atomic():
            case = (
                Case.objects.select_for_update(skip_locked=True)
                .filter(pk=case_id, status=Case.Status.ACTIVE, expires_at__lte=now)
                .first()
            )
            if case is not None:
                _close(case=case, status=Case.Status.EXPIRED, event=CaseEvent.Kind.EXPIRED)
                done += 1
    return done


def appeals_escalate_overdue() -> int:
    """Escalate pending appeals past `due_at`: stamped once, logged, and listed first in
    the staff queue (`?appeal=overdue`). Idempotent."""
    done = 0
    now = timezone.now()
    ids = list(
        Appeal.objects.filter(
            status=Appeal.Status.PENDING, escalated_at__isnull=True, due_at__lte=now
        ).values_list("pk", flat=True)[:500]
    )
    for appeal_id in ids:
        with transaction.atomic():
            appeal = (
                Appeal.objects.select_for_update(skip_locked=True)
                .select_related("case")
                .filter(pk=appeal_id, escalated_at__isnull=True, status=Appeal.Status.PENDING)
                .first()
            )
            if appeal is None:
                continue
            appeal.escalated_at = now
            appeal.save(update_fields=["escalated_at"])
            _event(case=appeal.case, kind=CaseEvent.Kind.ESCALATED, due_at=iso(appeal.due_at))
            # Staff's signal besides the queue: one warning per overdue appeal.
            logger.warning(
                "appeal overdue",
                extra={"case_id": appeal.case_id, "due_at": iso(appeal.due_at)},
            )
            done += 1
    return done


# --- listings -----------------------------------------------------------------------------


def _listing_snapshot(product: Product) -> dict[str, Any]:
    return {
        "product": {
            "id": product.pk,
            "shop": product.shop_id,
            "title": product.title,
            "description": product.description,
            "price": f"{product.price:.2f}",
            "currency": product.currency,
            "image_url": product.image_url,
        }
    }


def listing_review(*, products: list[Product], actor: Any = None) -> None:
    """After a catalog write (create, edit, CSV import), act on the listing check that
    needs a person (the others are computed when read, `trust.quality`): a listing using
    prohibited terms is flagged, a
    `listing_flagged` case for the shop owner (once per product and set of terms); a
    flagged listing whose terms are gone has its case lifted."""
    if not products:
        return
    cleared: dict[int, set[str]] = {}
    for shop_id in {p.shop_id for p in products}:
        cleared.update(cleared_listing_terms(shop_id=shop_id))
    active = {
        c.product_id: c
        for c in Case.objects.select_for_update().filter(
            kind=Case.Kind.LISTING_FLAGGED,
            status=Case.Status.ACTIVE,
            product_id__in=[p.pk for p in products],
        )
    }
    for product in products:
        found = listing_prohibited(product, cleared=cleared.get(product.pk, set()))
        case = active.get(product.pk)
        if found and (case is None or sorted(case.evidence.get("terms", [])) != found):
            if case is not None:
                _close(
                    case=case,
                    status=Case.Status.LIFTED,
                    event=CaseEvent.Kind.LIFTED,
                    reason="Superseded: the listing changed.",
                )
            case_open(
                subject=product.shop.owner,
                kind=Case.Kind.LISTING_FLAGGED,
                rule="L1",
                reason=(
                    f"The listing “{product.title[:80]}” uses prohibited terms: "
                    f"{', '.join(found)}. It cannot be pinned or auctioned until they are "
                    "removed."
                ),
                evidence={**_listing_snapshot(product), "terms": found},
                actor=Case.Actor.AUTOMATIC,
                product=product,
            )
        elif not found and case is not None:
            _close(
                case=case,
                status=Case.Status.LIFTED,
                event=CaseEvent.Kind.LIFTED,
                actor=actor,
                reason="The listing no longer uses the prohibited terms.",
            )


@transaction.atomic
def listing_remove(*, product_id: int, staff: Any, rule: str, reason: str) -> Case:
    """Staff take a listing down (it leaves the catalog) with a rule and reason; the
    shop owner gets a `listing_removed` case. An overturn puts it back."""
    if rule not in RULES:
        raise Invalid("rule: unknown rule.", details={"rule": ["Unknown rule."]})
    reason = check_text(field="reason", value=reason, max_length=MAX_REASON_LENGTH)
    product = (
        Product.objects.select_for_update(of=("self",))
        .select_related("shop__owner")
        .filter(pk=product_id, is_active=True)
        .first()
    )
    if product is None:
        raise NotFound("No such active product.")
    evidence = _listing_snapshot(product)
    Product.objects.filter(pk=product.pk).update(is_active=False)
    return case_open(
        subject=product.shop.owner,
        kind=Case.Kind.LISTING_REMOVED,
        rule=rule,
        reason=reason,
        evidence=evidence,
        actor=Case.Actor.STAFF,
        actor_user=staff,
        product=product,
    )
