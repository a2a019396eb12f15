"""Two staff deciding one appeal at once, and a person appealing twice at once, against
the real PostgreSQL: the case row lock lets exactly one through."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from core.errors import ApiError
from streams.models import ModerationAction
from streams.services import moderation_apply
from tests.factories import ShopFactory, ShowFactory, UserFactory
from trust.models import Appeal, Case, CaseEvent
from trust.services import appeal_create, appeal_decide

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment in threads (each its own connection)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except ApiError as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture
def banned() -> dict[str, Any]:
    host = UserFactory()
    show = ShowFactory(shop=ShopFactory(owner=host), status="live")
    viewer = UserFactory()
    record = moderation_apply(
        show_id=show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="Spam"
    )
    return {"viewer": viewer, "case": Case.objects.get(moderation_action=record)}


def test_two_appeals_at_once_make_one(banned):
    case, viewer = banned["case"], banned["viewer"]
    results = race(
        lambda: appeal_create(case_id=case.pk, user=viewer, text="first"),
        lambda: appeal_create(case_id=case.pk, user=viewer, text="second"),
    )
    errors = [r for r in results if isinstance(r, ApiError)]
    assert len(errors) == 1 and errors[0].code == "appeal_exists"
    assert Appeal.objects.count() == 1
    assert CaseEvent.objects.filter(kind="appealed").count() == 1


def test_two_staff_deciding_at_once_lift_once(banned):
    case, viewer = banned["case"], banned["viewer"]
    appeal_create(case_id=case.pk, user=viewer, text="please")
    staff = [UserFactory(is_staff=True), UserFactory(is_staff=True)]
    results = race(
        *(
            (lambda s=s: appeal_decide(case_id=case.pk, staff=s, decision="overturn", reason="ok"))
            for s in staff
        )
    )
    errors = [r for r in results if isinstance(r, ApiError)]
    assert len(errors) == 1 and errors[0].code == "invalid_state"
    assert ModerationAction.objects.filter(action="unban").count() == 1
    assert list(case.events.values_list("kind", flat=True)) == [
        "opened",
        "appealed",
        "decided",
        "lifted",
    ]
