"""Live auctions: one unit of one product of a live show, sold to the highest bidder.

Database guarantees (the services rely on them, see auctions/services.py):

- one running auction per show (a partial unique index);
- bids are decided one at a time under the auction row's lock, and every accepted bid is
  a durable `Bid` row committed with the auction's new price (nothing lives only in Redis);
- an auction closes once: the close is a guarded ``UPDATE ... WHERE status = 'running'``;
- one strike per auction order (a unique order).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product, Variant
from orders.models import Hold, Order
from streams.models import Pin, Show


class Auction(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SOLD = "sold"
        NO_SALE = "no_sale"
        CANCELLED = "cancelled"

    MIN_DURATION_S = 5
    MAX_DURATION_S = 600

    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="auctions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="auctions")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="auctions")
    pin = models.OneToOneField(
        Pin, null=True, blank=True, on_delete=models.SET_NULL, related_name="auction"
    )
    # The unit being auctioned: a hold (owned by the host who started the auction until
    # the close hands it to the winner or releases it).
    hold = models.OneToOneField(
        Hold, null=True, blank=True, on_delete=models.SET_NULL, related_name="auction"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    currency = models.CharField(max_length=3)
    starting_bid = models.DecimalField(max_digits=10, decimal_places=2)
    reserve = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    duration_s = models.PositiveIntegerField()
    sudden_death = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    current_bid = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    bid_count = models.PositiveIntegerField(default=0)
    # Bids decided so far (accepted or not): orders equal maximums, earlier leads.
    decisions = models.PositiveIntegerField(default=0)
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="auction"
    )
    # The runner-up's offer when the winner did not pay.
    second_chance = models.OneToOneField(
        Hold, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set once when an unpaid win has been handled (strike and second chance).
    unpaid_handled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["show"], condition=Q(status="running"), name="auction_one_running_per_show"
            ),
            models.CheckConstraint(
                condition=Q(starting_bid__gt=0), name="auction_starting_bid_positive"
            ),
            models.CheckConstraint(
                condition=(Q(status="running") & Q(closed_at__isnull=True))
                | (~Q(status="running") & Q(closed_at__isnull=False)),
                name="auction_closed_at_iff_closed",
            ),
        ]
        indexes = [
            models.Index(
                fields=["ends_at"], condition=Q(status="running"), name="auction_running_due"
            )
        ]

    def __str__(self) -> str:
        return f"auction {self.pk} of {self.product_id} ({self.status})"


class Bid(models.Model):
    """One accepted price, in the order the one writer accepted it (id order). `proxy`:
    placed by the server for the bidder's maximum. Rows are never changed or deleted."""

    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, related_name="bids")
    bidder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auction_bids"
    )
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    proxy = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Accepted bids strictly rise, so one amount is accepted once per auction.
            models.UniqueConstraint(fields=["auction", "amount"], name="bid_amount_once"),
        ]

    def __str__(self) -> str:
        return f"bid {self.amount} by {self.bidder_id} on {self.auction_id}"


class ProxyBid(models.Model):
    """A bidder's maximum in one auction. `placed_seq` orders equal maximums (earlier leads)."""

    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, related_name="proxies")
    bidder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    max_amount = models.DecimalField(max_digits=10, decimal_places=2)
    placed_seq = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["auction", "bidder"], name="proxybid_one_per_bidder")
        ]

    def __str__(self) -> str:
        return f"max {self.max_amount} by {self.bidder_id} on {self.auction_id}"


class PreBid(models.Model):
    """A maximum left on a lineup product before its auction; it becomes the bidder's
    proxy bid the instant that product's auction starts in the show."""

    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="prebids")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    bidder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    max_amount = models.DecimalField(max_digits=10, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now)
    # The auction it became a proxy bid in (set once, at that auction's start).
    used_in = models.ForeignKey(
        Auction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["show", "product", "bidder"],
                condition=Q(used_in__isnull=True),
                name="prebid_one_open_per_bidder",
            )
        ]

    def __str__(self) -> str:
        return f"prebid {self.max_amount} by {self.bidder_id} on {self.product_id}"


class Strike(models.Model):
    """An auction won and not paid. Three within `STRIKE_WINDOW_DAYS` block bidding."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auction_strikes"
    )
    auction = models.OneToOneField(Auction, on_delete=models.CASCADE, related_name="strike")
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="strike_user_recent")]

    def __str__(self) -> str:
        return f"strike {self.user_id} for auction {self.auction_id}"
