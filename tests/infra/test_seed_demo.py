"""`manage.py seed_demo` builds a usable demo and is idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from catalog.models import Product, Shop, ShopStaff, StockAdjustment, Variant
from streams.models import LineupItem, Pin, Show

MODELS = [
    get_user_model(),
    Shop,
    ShopStaff,
    Product,
    Variant,
    StockAdjustment,
    Show,
    LineupItem,
    Pin,
]


def _seed() -> str:
    """As `make run` runs it: with DEBUG on."""
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_with_debug_off() -> None:
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())
    assert _counts() == dict.fromkeys(_counts(), 0)


@pytest.mark.django_db
def test_seed_demo_runs_with_debug_off_when_forced() -> None:
    out = StringIO()
    with override_settings(DEBUG=False):
        call_command("seed_demo", "--force", stdout=out)
    assert "Demo data ready" in out.getvalue()
    assert Show.objects.filter(status=Show.Status.LIVE).exists()


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.mark.django_db
def test_running_seed_demo_twice_creates_nothing_twice() -> None:
    _seed()
    first = _counts()
    _seed()
    assert _counts() == first
    assert first["Product"] == 6
    assert first["Show"] == 2


@pytest.mark.django_db
def test_seed_demo_creates_a_live_show_with_its_lineup_and_a_scheduled_one() -> None:
    _seed()
    live = Show.objects.get(status=Show.Status.LIVE)
    assert live.started_at is not None
    assert live.playback_url == "/static/demo/show.mp4"
    assert live.lineup.count() == 6
    assert live.pins.filter(unpinned_at__isnull=True).count() == 1
    scheduled = Show.objects.get(status=Show.Status.SCHEDULED)
    assert scheduled.scheduled_at > live.scheduled_at


@pytest.mark.django_db
def test_seed_demo_stock_has_ledger_lines_and_mixes_simple_and_variant_products() -> None:
    _seed()
    variant_counts = sorted(p.variants.count() for p in Product.objects.all())
    assert variant_counts[0] == 1  # simple products
    assert variant_counts[-1] > 1  # products with size/colour variants
    for variant in Variant.objects.all():
        assert variant.stock_on_hand > 0
        assert variant.held == 0
        assert sum(a.delta for a in variant.adjustments.all()) == variant.stock_on_hand


@pytest.mark.django_db
def test_seed_demo_users_can_log_in_with_the_printed_password() -> None:
    output = _seed()
    shop = Shop.objects.get(name="Demo Threads")
    assert shop.owner.username == "demo_seller"
    assert shop.memberships.filter(user__username="demo_host").exists()
    user_model = get_user_model()
    for username in ["admin", "demo_seller", "demo_host", "demo_viewer", "demo_viewer2"]:
        assert user_model.objects.get(username=username).check_password("demo-pass-123")
        assert username in output
    assert user_model.objects.get(username="admin").is_superuser


@pytest.mark.django_db
def test_seed_demo_prints_the_pages_of_the_live_show() -> None:
    output = _seed()
    live = Show.objects.get(status=Show.Status.LIVE)
    assert f"http://127.0.0.1:8000/shows/{live.pk}/" in output
    assert f"http://127.0.0.1:8000/studio/shows/{live.pk}/" in output
    for path in ["/dashboard/", "/api/docs/", "/admin/"]:
        assert f"http://127.0.0.1:8000{path}" in output
