"""Reads for cases and appeals: who may see a case, the payloads, the staff queue, and
whether a case-owned restriction (bidding, account) is in force.

Visibility (SPEC "Trust"): the person the case is about, the hosts (owner and staff) of
the shop whose show the case happened in, and platform staff. Everyone else gets 404, as
if the case did not exist.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from catalog.selectors import user_can_manage_shop
from core.errors import NotFound
from streams.selectors import iso
from trust.models import Appeal, Case, CaseEvent
from trust.rules import rule_title

KIND_TITLES: dict[str, str] = {
    Case.Kind.CHAT_TIMEOUT: "Chat timeout",
    Case.Kind.CHAT_BAN: "Chat ban",
    Case.Kind.LISTING_REMOVED: "Listing removed",
    Case.Kind.LISTING_FLAGGED: "Listing flagged",
    Case.Kind.BIDDING_BLOCKED: "Bidding blocked",
    Case.Kind.ACCOUNT_RESTRICTED: "Account restricted",
}


def _cases() -> QuerySet[Case]:
    return Case.objects.select_related("appeal", "show", "show__shop", "subject")


def user_can_see_case(*, user: Any, case: Case) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.is_staff or case.subject_id == user.pk:
        return True
    return case.show is not None and user_can_manage_shop(user=user, shop=case.show.shop)


def case_get_visible(*, case_id: int, user: Any) -> Case:
    """The case, if `user` may see it; else 404."""
    case = _cases().filter(pk=case_id).first()
    if case is None or not user_can_see_case(user=user, case=case):
        raise NotFound("No such case.")
    return case


def cases_of_user(*, user: Any) -> QuerySet[Case]:
    """The caller's own cases, newest first."""
    return _cases().filter(subject_id=user.pk)


def cases_staff_queue(*, appeal: str | None = None) -> QuerySet[Case]:
    """Cases for staff; `appeal` = `pending` (carries `appeal_due`, to list the oldest due
    first), `overdue` (pending past due), `decided`, or None (all cases)."""
    qs = _cases()
    if appeal in ("pending", "overdue"):
        qs = qs.filter(appeal__status=Appeal.Status.PENDING).annotate(
            appeal_due=F("appeal__due_at")
        )
        if appeal == "overdue":
            qs = qs.filter(appeal__due_at__lte=timezone.now())
        return qs
    if appeal == "decided":
        return qs.filter(appeal__isnull=False).exclude(appeal__status=Appeal.Status.PENDING)
    return qs


def case_in_force(*, user: Any, kind: str) -> Case | None:
    """The active, unexpired case of `kind` restricting `user`, if any: the rule for
    restrictions a case owns itself (`bidding_blocked`, `account_restricted`). Auctions
    call ``case_in_force(user=bidder, kind="bidding_blocked")`` before taking a bid."""
    if user is None or not user.is_authenticated:
        return None
    now = timezone.now()
    return (
        Case.objects.filter(subject_id=user.pk, kind=kind, status=Case.Status.ACTIVE)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-id")
        .first()
    )


def cleared_listing_terms(*, shop_id: int) -> dict[int, set[str]]:
    """Per product of the shop: the prohibited terms staff cleared by overturning a
    `listing_flagged` case (the quality check stops counting them for that product)."""
    cleared: dict[int, set[str]] = {}
    rows = Case.objects.filter(
        kind=Case.Kind.LISTING_FLAGGED,
        status=Case.Status.OVERTURNED,
        product__shop_id=shop_id,
    ).values_list("product_id", "evidence")
    for product_id, evidence in rows:
        cleared.setdefault(product_id, set()).update(evidence.get("terms", []))
    return cleared


def appeal_payload(appeal: Appeal | None) -> dict[str, Any] | None:
    if appeal is None:
        return None
    return {
        "text": appeal.text,
        "status": appeal.status,
        "created_at": iso(appeal.created_at),
        "due_at": iso(appeal.due_at),
        "escalated": appeal.escalated_at is not None,
        "decided_at": iso(appeal.decided_at),
        "decision_reason": appeal.decision_reason or None,
    }


def _appeal_of(case: Case) -> Appeal | None:
    try:
        return case.appeal
    except Appeal.DoesNotExist:
        return None


def case_payload(case: Case, *, viewer: Any = None) -> dict[str, Any]:
    """A case as its readers see it. Who acted is a role (`actor`), never a name: the
    person is not told which moderator acted (as in `moderation.notice`)."""
    now = timezone.now()
    appeal = _appeal_of(case)
    payload: dict[str, Any] = {
        "id": case.pk,
        "kind": case.kind,
        "title": KIND_TITLES.get(case.kind, case.kind),
        "rule": case.rule,
        "rule_title": rule_title(case.rule),
        "reason": case.reason,
        "evidence": case.evidence,
        "actor": case.actor,
        "status": case.status,
        "created_at": iso(case.created_at),
        "expires_at": iso(case.expires_at),
        "appealable_until": iso(case.appealable_until),
        "can_appeal": bool(
            viewer is not None
            and viewer.pk == case.subject_id
            and appeal is None
            and now < case.appealable_until
        ),
        "appeal": appeal_payload(appeal),
    }
    if viewer is not None and viewer.pk != case.subject_id:
        payload["user"] = {"id": case.subject_id, "username": case.subject.username}
    return payload


def case_events(*, case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=case).select_related("actor")


def case_event_payload(event: CaseEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "actor": event.actor.username if event.actor is not None else None,
        "data": event.data,
        "created_at": iso(event.created_at),
    }
