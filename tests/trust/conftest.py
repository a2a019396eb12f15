"""Fixtures for trust: a live show with its host, a banned viewer, staff."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from streams.models import Show, ShowModerator
from streams.services import moderation_apply
from tests.factories import ShopFactory, ShopStaffFactory, ShowFactory, UserFactory
from trust.models import Case


@pytest.fixture
def host(db: Any) -> Any:
    return UserFactory(username="showhost_ann")


@pytest.fixture
def shop(host: Any) -> Any:
    return ShopFactory(owner=host)


@pytest.fixture
def shop_staff(shop: Any) -> Any:
    return ShopStaffFactory(shop=shop, user=UserFactory(username="shopstaff")).user


@pytest.fixture
def live_show(shop: Any) -> Any:
    return ShowFactory(shop=shop, status=Show.Status.LIVE, started_at=timezone.now())


@pytest.fixture
def moderator(live_show: Show) -> Any:
    user = UserFactory(username="mod")
    ShowModerator.objects.create(show=live_show, user=user)
    return user


@pytest.fixture
def viewer(db: Any) -> Any:
    return UserFactory(username="viewer")


@pytest.fixture
def stranger(db: Any) -> Any:
    return UserFactory(username="stranger")


@pytest.fixture
def other_host(db: Any) -> Any:
    """The owner of another shop (a host, but not of this show)."""
    return ShopFactory(owner=UserFactory(username="otherhost")).owner


@pytest.fixture
def platform_staff(db: Any) -> Any:
    user = UserFactory(username="platformstaff")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def ban_case(live_show: Show, host: Any, viewer: Any) -> Case:
    """The viewer banned by the host in the live show, through the moderation service."""
    record = moderation_apply(
        show_id=live_show.pk, actor=host, action="ban", target_user_id=viewer.pk, reason="Slurs"
    )
    return Case.objects.get(moderation_action=record)
