"""factory_boy factories. Objects with invariants (stock) are built through services."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from catalog.models import Product, Shop, ShopStaff, Variant


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
    """A simple product (one variant) with `stock` units on hand."""

    class Meta:
        model = Product
        skip_postgeneration_save = True

    class Params:
        stock = 10

    shop = factory.SubFactory(ShopFactory)
    handle = factory.Sequence(lambda n: f"product-{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("19.99")
    currency = "USD"
    weight_grams = 250

    @factory.post_generation
    def variant(self, create: bool, extracted: object, **kwargs: object) -> None:
        if not create:
            return
        stock = self._stock if hasattr(self, "_stock") else 10
        Variant.objects.create(
            product=self, shop=self.shop, sku=f"SKU-{self.handle}", stock_on_hand=stock
        )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        stock = kwargs.pop("stock", 10)
        obj = super()._create(model_class, *args, **kwargs)
        obj._stock = stock
        return obj


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
