import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import StockAdjustment, Variant
from catalog.services import InsufficientStock, stock_adjust, stock_adjust_many
from core.errors import Invalid, NotFound
from tests.factories import PinFactory, ProductFactory, ShopStaffFactory, ShowFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def url(product):
    return f"/api/v1/products/{product.pk}/stock-adjustments/"


def two_variant_product(shop):
    return ProductFactory(
        shop=shop,
        options=[{"name": "size", "values": ["S", "M"]}],
        variants=[
            {"sku": "V-S", "options": {"size": "S"}, "stock_on_hand": 4},
            {"sku": "V-M", "options": {"size": "M"}, "stock_on_hand": 6},
        ],
    )


def test_adjustment_adds_ledger_line_and_changes_on_hand(client_for, shop):
    product = ProductFactory(shop=shop, stock=5)
    variant = product.variants.get()
    r = client_for(shop.owner).post(url(product), {"delta": 3, "reason": "Delivery"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["variant"] == variant.pk
    assert (body["delta"], body["on_hand_before"], body["on_hand_after"]) == (3, 5, 8)
    assert body["reason"] == "Delivery"
    assert body["kind"] == "manual"
    assert body["actor"] == {"id": shop.owner.pk, "username": shop.owner.username}
    assert set(body) >= {"id", "created_at"}
    variant.refresh_from_db()
    assert variant.stock_on_hand == 8


def test_staff_can_adjust(client_for, shop):
    member = ShopStaffFactory(shop=shop).user
    product = ProductFactory(shop=shop, stock=5)
    r = client_for(member).post(url(product), {"delta": -2, "reason": "Damaged"})
    assert r.status_code == 201
    assert r.json()["on_hand_after"] == 3


def test_adjustment_below_available_is_409_and_changes_nothing(client_for, shop):
    product = ProductFactory(shop=shop, stock=5)
    Variant.objects.filter(product=product).update(held=3)
    r = client_for(shop.owner).post(url(product), {"delta": -3, "reason": "Count"})
    err = assert_error(r, 409, "insufficient_stock")
    assert err["details"]["available"] == 2
    variant = product.variants.get()
    assert (variant.stock_on_hand, variant.held) == (5, 3)
    assert StockAdjustment.objects.filter(variant=variant).count() == 1  # initial only


def test_adjustment_down_to_exactly_held_is_allowed(client_for, shop):
    product = ProductFactory(shop=shop, stock=5)
    Variant.objects.filter(product=product).update(held=3)
    r = client_for(shop.owner).post(url(product), {"delta": -2, "reason": "Count"})
    assert r.status_code == 201
    assert product.variants.get().stock_available == 0


def test_several_variants_need_variant(client_for, shop):
    product = two_variant_product(shop)
    r = client_for(shop.owner).post(url(product), {"delta": 1, "reason": "x"})
    assert_error(r, 400, "variant_required")
    medium = product.variants.get(sku="V-M")
    r = client_for(shop.owner).post(url(product), {"delta": 1, "reason": "x", "variant": medium.pk})
    assert r.status_code == 201
    medium.refresh_from_db()
    assert medium.stock_on_hand == 7


def test_variant_of_another_product_is_400(client_for, shop):
    product = ProductFactory(shop=shop)
    foreign = ProductFactory(shop=shop).variants.get()
    r = client_for(shop.owner).post(
        url(product), {"delta": 1, "reason": "x", "variant": foreign.pk}
    )
    assert_error(r, 400, "invalid")
    foreign.refresh_from_db()
    assert foreign.stock_on_hand == 10


@pytest.mark.parametrize(
    "body",
    [
        {"delta": 1},
        {"delta": 1, "reason": ""},
        {"delta": 1, "reason": "   "},
        {"delta": 0, "reason": "nothing"},
        {"delta": 1.5, "reason": "x"},
        {"delta": "lots", "reason": "x"},
        {"delta": True, "reason": "x"},
        {"reason": "x"},
        {"delta": 2_000_000_000, "reason": "x"},
    ],
)
def test_bad_adjustment_is_400_and_changes_nothing(client_for, shop, body):
    product = ProductFactory(shop=shop, stock=5)
    assert_error(client_for(shop.owner).post(url(product), body, format="json"), 400, "invalid")
    assert product.variants.get().stock_on_hand == 5
    assert StockAdjustment.objects.count() == 1


def test_on_hand_cannot_exceed_the_maximum(shop):
    product = ProductFactory(shop=shop, stock=999_999_999)
    with pytest.raises(Invalid):
        stock_adjust(
            variant_id=product.variants.get().pk, delta=5, reason="x", actor=None, kind="manual"
        )


def test_ledger_lists_lines_newest_first_and_filters_by_variant(client_for, shop):
    product = two_variant_product(shop)
    small, medium = product.variants.order_by("sku").reverse()
    client = client_for(shop.owner)
    client.post(url(product), {"delta": 2, "reason": "a", "variant": small.pk})
    client.post(url(product), {"delta": -1, "reason": "b", "variant": medium.pk})
    r = client.get(url(product))
    assert r.status_code == 200
    reasons = [line["reason"] for line in r.json()["results"]]
    assert reasons[:2] == ["b", "a"]
    assert len(reasons) == 4  # two initial lines
    only = client.get(url(product) + f"?variant={medium.pk}").json()["results"]
    assert {line["variant"] for line in only} == {medium.pk}


def test_ledger_sum_equals_on_hand(client_for, shop):
    product = ProductFactory(shop=shop, stock=5)
    client = client_for(shop.owner)
    for delta in (3, -4, 10, -2):
        assert client.post(url(product), {"delta": delta, "reason": "r"}).status_code == 201
    variant = product.variants.get()
    assert sum(a.delta for a in variant.adjustments.all()) == variant.stock_on_hand == 12


def test_system_restock_without_actor(shop):
    product = ProductFactory(shop=shop, stock=1)
    entry = stock_adjust(
        variant_id=product.variants.get().pk,
        delta=2,
        reason="Order 12 cancelled",
        actor=None,
        kind=StockAdjustment.Kind.RESTOCK,
    )
    assert (entry.actor, entry.kind, entry.on_hand_after) == (None, "restock", 3)


def test_unknown_variant_is_not_found(db):
    with pytest.raises(NotFound):
        stock_adjust(variant_id=987654, delta=1, reason="x", actor=None, kind="manual")


def test_stock_changed_is_sent_to_live_shows_pinning_the_product(
    shop, show_events, django_capture_on_commit_callbacks
):
    product = ProductFactory(shop=shop, stock=5)
    live = ShowFactory(shop=shop, status="live", started_at=timezone.now())
    PinFactory(show=live, product=product)
    scheduled = ShowFactory(shop=shop)
    PinFactory(show=scheduled, product=product)
    earlier = ShowFactory(shop=shop, status="live", started_at=timezone.now())
    PinFactory(show=earlier, product=product, unpinned_at=timezone.now())
    variant = product.variants.get()
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant.pk, delta=-2, reason="x", actor=None, kind="manual")
    assert show_events.of_type("stock.changed") == [
        (live.pk, {"product": product.pk, "variant": variant.pk, "available": 3})
    ]


def test_refused_adjustment_sends_no_event(shop, show_events, django_capture_on_commit_callbacks):
    product = ProductFactory(shop=shop, stock=1)
    live = ShowFactory(shop=shop, status="live", started_at=timezone.now())
    PinFactory(show=live, product=product)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InsufficientStock):
        stock_adjust(
            variant_id=product.variants.get().pk, delta=-2, reason="x", actor=None, kind="manual"
        )
    assert show_events.events == []


def test_adjust_many_is_all_or_nothing(shop):
    a = ProductFactory(shop=shop, stock=5).variants.get()
    b = ProductFactory(shop=shop, stock=1).variants.get()
    with pytest.raises(InsufficientStock) as exc:
        stock_adjust_many(changes=[(a.pk, 3), (b.pk, -2)], reason="x", actor=None, kind="import")
    assert exc.value.details["variants"] == [b.pk]
    a.refresh_from_db()
    assert a.stock_on_hand == 5
    lines = stock_adjust_many(
        changes=[(a.pk, 3), (b.pk, -1)], reason="x", actor=None, kind="import"
    )
    assert sorted((line.variant_id, line.on_hand_after) for line in lines) == sorted(
        [(a.pk, 8), (b.pk, 0)]
    )


def test_database_refuses_held_above_on_hand(shop):
    """The CHECK constraints are the last line of defence behind the services."""
    variant = ProductFactory(shop=shop, stock=2).variants.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Variant.objects.filter(pk=variant.pk).update(held=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Variant.objects.filter(pk=variant.pk).update(stock_on_hand=-1)
