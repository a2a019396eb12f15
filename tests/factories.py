"""factory_boy factories. Objects with invariants (stock) are built through services."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from catalog.models import Product, Shop, ShopStaff


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-Secret-123")

    @factory.post_generation
    def with_save(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    name = factory.Sequence(lambda n: f"Shop {n}")
    owner = factory.SubFactory(UserFactory)


class ShopStaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShopStaff

    shop = factory.SubFactory(ShopFactory)
    user = factory.SubFactory(UserFactory)


class ProductFactory(factory.django.DjangoModelFactory):
    """A product built through `catalog.services.product_create` (so its initial stock is
    in the ledger). Simple by default: one variant `SKU-<handle>` with `stock` units on
    hand. For variants pass `options=[{"name": "size", "values": ["S", "M"]}]` and
    `variants=[{"sku": "T-S", "options": {"size": "S"}, "stock_on_hand": 3}, ...]`."""

    class Meta:
        model = Product

    shop = factory.SubFactory(ShopFactory)
    handle = factory.Sequence(lambda n: f"product-{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("19.99")
    currency = "USD"
    weight_grams = 250

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        from catalog.services import VariantInput, product_create

        stock = kwargs.pop("stock", 10)
        sku = kwargs.pop("sku", None)
        variants = kwargs.pop("variants", None)
        is_active = kwargs.pop("is_active", True)
        if variants is None:
            kwargs["sku"] = sku or f"SKU-{kwargs['handle']}"
            kwargs["stock_on_hand"] = stock
        else:
            kwargs["variants"] = [
                v if isinstance(v, VariantInput) else VariantInput(**v) for v in variants
            ]
        product = product_create(actor=kwargs["shop"].owner, **kwargs)
        if not is_active:
            Product.objects.filter(pk=product.pk).update(is_active=False)
            product.is_active = False
        return product


def token_for(user: object) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


class ShowFactory(factory.django.DjangoModelFactory):
    """A scheduled show; pass `status="live"` and `started_at` for a live one."""

    class Meta:
        model = "streams.Show"

    shop = factory.SubFactory(ShopFactory)
    title = factory.Sequence(lambda n: f"Show {n}")
    scheduled_at = factory.LazyFunction(timezone.now)


class PinFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "streams.Pin"

    show = factory.SubFactory(ShowFactory)
    product = factory.SubFactory(ProductFactory, shop=factory.SelfAttribute("..show.shop"))
    pinned_at = factory.LazyFunction(timezone.now)
