"""Checkout: holds, orders, payments, saved payment methods and addresses, shipping, waitlist.

The rules these rows obey (SPEC "Invariants") are enforced by `orders/services/` and,
where a database can say it, by constraints here:

- a hold ends at most once: `ended_at` is set exactly when `status` leaves `active`;
- one successful capture per order (a partial unique index on `PaymentAttempt`);
- one refund per order, one open shipment per (buyer, shop, show), one default payment
  method and one default address per user.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product, Shop, Variant
from streams.models import Show


class Hold(models.Model):
    """Units of one variant reserved for one buyer until `expires_at`.

    While a hold is `active` its quantity is counted in `Variant.held`. It ends exactly
    once: `converted` (its order was paid), `expired` or `cancelled` (units released).
    An active hold whose order is in `pending_payment` does not expire.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        CONVERTED = "converted"
        EXPIRED = "expired"
        CANCELLED = "cancelled"

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="holds"
    )
    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="holds")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="holds")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="holds")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # A waitlist offer: a hold created for a waiting buyer when units came back.
    is_offer = models.BooleanField(default=False)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    order = models.OneToOneField(
        "Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="hold"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="hold_quantity_positive"),
            models.CheckConstraint(
                condition=(Q(status="active") & Q(ended_at__isnull=True))
                | (~Q(status="active") & Q(ended_at__isnull=False)),
                name="hold_ended_at_iff_ended",
            ),
        ]
        indexes = [
            # The expiry sweep: active holds without an order, by due time.
            models.Index(
                fields=["expires_at"],
                condition=Q(status="active", order__isnull=True),
                name="hold_active_due",
            ),
            models.Index(fields=["buyer", "show", "product"], name="hold_buyer_show_product"),
        ]

    def __str__(self) -> str:
        return f"hold {self.pk} {self.quantity}x{self.variant_id} ({self.status})"

    def status_at(self, now: datetime) -> str:
        """The status a reader sees: an active hold past `expires_at` reads `expired` at
        once, before the sweep releases it, unless its order's payment is pending."""
        if self.status == self.Status.ACTIVE and self.order_id is None and self.expires_at <= now:
            return self.Status.EXPIRED
        return self.status


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment"
        PAID = "paid"
        SHIPPED = "shipped"
        DELIVERED = "delivered"
        PAYMENT_FAILED = "payment_failed"
        CANCELLED = "cancelled"
        REFUNDED = "refunded"

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders")
    show = models.ForeignKey(Show, on_delete=models.PROTECT, related_name="orders")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="orders")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="orders")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_fee = models.DecimalField(max_digits=10, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, db_index=True
    )
    # What the provider charges (a sandbox token or a saved method's token), copied so a
    # deleted payment method does not change an order in flight.
    payment_token = models.CharField(max_length=100)
    payment_method = models.ForeignKey(
        "PaymentMethod", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipping_address = models.JSONField(default=dict)
    shipment = models.ForeignKey(
        "Shipment", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    failure_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Set once when the order's units go back on hand (cancel or refund with restock).
    restocked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(shipping_fee__gte=0) & Q(total__gte=0),
                name="order_amounts_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status})"


class PaymentAttempt(models.Model):
    """One call to the payment provider for an order. Rows are never deleted."""

    class Status(models.TextChoices):
        STARTED = "started"
        SUCCEEDED = "succeeded"
        DECLINED = "declined"
        ERROR = "error"
        # The provider answered success for a capture that another attempt already
        # recorded (same idempotency key, so the same charge): nothing was taken twice.
        DUPLICATE = "duplicate"
        # A capture that succeeded after the order had already failed: refunded at once.
        REVERSED = "reversed"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    provider = models.CharField(max_length=40)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    idempotency_key = models.CharField(max_length=100)
    provider_ref = models.CharField(max_length=100, blank=True, default="")
    error_code = models.CharField(max_length=60, blank=True, default="")
    message = models.CharField(max_length=300, blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="payment_attempt_number"),
            # A payment is captured at most once per order.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status="succeeded"),
                name="payment_one_capture_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} for order {self.order_id} ({self.status})"


class Refund(models.Model):
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="refund")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    provider_ref = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # When the provider's answer was recorded; NULL while the refund is decided but not
    # yet settled (orders/services/aftersale.py: the provider is called after commit).
    settled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refund of order {self.order_id}"


class PaymentMethod(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_methods"
    )
    provider = models.CharField(max_length=40)
    token = models.CharField(max_length=100)
    brand = models.CharField(max_length=40)
    last4 = models.CharField(max_length=4)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_default=True), name="payment_method_one_default"
            )
        ]

    def __str__(self) -> str:
        return f"{self.brand} …{self.last4}"


class Address(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses"
    )
    name = models.CharField(max_length=200)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_default=True), name="address_one_default"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.city}"

    def snapshot(self) -> dict[str, str]:
        return {
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "postal_code": self.postal_code,
            "country": self.country,
        }


class ShippingRate(models.Model):
    """A shop's weight-based fee table: the first row whose `max_weight_grams` covers the
    parcel's weight sets the fee; a row with no maximum covers everything heavier."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="shipping_rates")
    max_weight_grams = models.PositiveIntegerField(null=True, blank=True)
    fee = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["shop_id", models.F("max_weight_grams").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "max_weight_grams"], name="shipping_rate_unique_bracket"
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="shipping_rate_fee_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"≤{self.max_weight_grams or '∞'} g: {self.fee}"


class Shipment(models.Model):
    """One parcel per (buyer, shop, show): every order of that buyer from that shop in
    that show joins the open shipment and the parcel pays one fee for its total weight."""

    class Status(models.TextChoices):
        OPEN = "open"
        SHIPPED = "shipped"
        DELIVERED = "delivered"

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shipments"
    )
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="shipments")
    show = models.ForeignKey(Show, on_delete=models.PROTECT, related_name="shipments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    weight_grams = models.PositiveIntegerField(default=0)
    # Sum of the `shipping_fee` of the orders that joined (and were not taken back).
    fee_charged = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    # The parcel's fee for its weight minus `fee_charged`, when an order that carried the
    # fee left (cancelled, refunded or failed) while others stay: shown to the seller
    # before shipping; the buyer's next purchase into this parcel pays it.
    fee_uncollected = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3)
    carrier = models.CharField(max_length=60, blank=True, default="")
    tracking_number = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "shop", "show"],
                condition=Q(status="open"),
                name="shipment_one_open_per_buyer_shop_show",
            ),
            models.CheckConstraint(
                condition=Q(fee_charged__gte=0), name="shipment_fee_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"shipment {self.pk} ({self.status})"


class WaitlistEntry(models.Model):
    """A buyer waiting for units of a sold-out variant; served in join order (id)."""

    class Status(models.TextChoices):
        WAITING = "waiting"
        OFFERED = "offered"
        LEFT = "left"
        # Passed over when its turn came: the buyer already held their per-buyer limit.
        AT_LIMIT = "at_limit"

    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="waitlist")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="waitlist")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    offered_at = models.DateTimeField(null=True, blank=True)
    hold = models.OneToOneField(
        Hold, null=True, blank=True, on_delete=models.SET_NULL, related_name="waitlist_entry"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["show", "variant", "buyer"],
                condition=Q(status="waiting"),
                name="waitlist_one_waiting_entry",
            )
        ]
        indexes = [
            models.Index(
                fields=["variant", "id"], condition=Q(status="waiting"), name="waitlist_queue"
            )
        ]

    def __str__(self) -> str:
        return f"waitlist {self.pk} {self.buyer_id} for {self.variant_id} ({self.status})"


class SandboxCharge(models.Model):
    """The sandbox payment provider's own ledger (what a real provider keeps on its side).

    One row per idempotency key: a repeated capture or refund with the same key returns
    the first result instead of charging again, as real providers do.
    """

    class Kind(models.TextChoices):
        CAPTURE = "capture"
        REFUND = "refund"

    idempotency_key = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    token = models.CharField(max_length=100, blank=True, default="")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sandbox {self.kind} {self.idempotency_key}"

    @property
    def reference(self) -> str:
        return f"sbx_{self.kind}_{self.pk}"
