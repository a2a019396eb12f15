"""Listing quality: one set of checks, run on create, edit and CSV import (through
`trust.services.listing_review`), for the quality endpoint and the dashboard, and before
pinning or auctioning (`listing_require_ready`).

Each check answers {code, severity, ok, message, fix}. `block` checks are the ones a
listing must pass to go on air; they are chosen so that any honest listing passes them
(a title, no prohibited term). `warn` checks only lower the score. The score is 100 minus
the weight of every failed check (weights sum to 100).

| code | severity | weight | fails when |
|---|---|---|---|
| title_present | block | 10 | the title has fewer than 3 visible characters |
| prohibited_terms | block | 10 | the title or description has a `LISTING_PROHIBITED_TERMS` term |
| title_length | warn | 10 | the title is shorter than 10 or longer than 140 characters |
| title_shouting | warn | 10 | the title is mostly capital letters |
| description | warn | 15 | the description is missing or shorter than 30 characters |
| image | warn | 15 | no image |
| weight | warn | 10 | a variant has no shipping weight |
| price_sanity | warn | 10 | price 0, or < 1/10 or > 10x the shop's median (5+ listings) |
| near_duplicate | warn | 10 | another active listing of the shop has the same normalized title |
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from catalog.models import Product
from core.errors import ApiError
from trust.selectors import cleared_listing_terms

TITLE_MIN_PRESENT = 3
TITLE_MIN, TITLE_MAX = 10, 140
DESCRIPTION_MIN = 30
SHOUTING_MIN_LETTERS = 8
SHOUTING_RATIO = 0.7
PRICE_SANITY_MIN_LISTINGS = 5
PRICE_SANITY_FACTOR = Decimal(10)

WEIGHTS: dict[str, int] = {
    "title_present": 10,
    "prohibited_terms": 10,
    "title_length": 10,
    "title_shouting": 10,
    "description": 15,
    "image": 15,
    "weight": 10,
    "price_sanity": 10,
    "near_duplicate": 10,
}
BLOCKING = frozenset({"title_present", "prohibited_terms"})

_STOP_WORDS = frozenset({"a", "an", "and", "the", "with", "for", "of", "in", "new", "&"})
_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Check:
    code: str
    severity: str
    ok: bool
    message: str
    fix: str


@dataclass(frozen=True)
class Quality:
    product_id: int
    score: int
    ready: bool
    checks: list[Check]
    # The prohibited terms found (not counting those staff cleared on appeal).
    prohibited: list[str]

    @property
    def failed_blocks(self) -> list[Check]:
        return [c for c in self.checks if c.severity == "block" and not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product_id,
            "score": self.score,
            "ready": self.ready,
            "checks": [asdict(c) for c in self.checks],
        }


@dataclass
class ShopContext:
    """What the shop-relative checks compare against: the shop's active listings."""

    prices: dict[int, Decimal]  # product id → price (same currency as the product)
    title_keys: Counter[str]  # normalized title → active listings with it
    key_of: dict[int, str]
    cleared_terms: dict[int, set[str]]  # product id → terms staff cleared on appeal

    @classmethod
    def for_shop(cls, shop_id: int) -> ShopContext:
        rows = list(
            Product.objects.filter(shop_id=shop_id, is_active=True).values_list(
                "pk", "title", "price"
            )
        )
        key_of = {pk: title_key(title) for pk, title, _ in rows}
        return cls(
            prices={pk: price for pk, _, price in rows},
            title_keys=Counter(k for k in key_of.values() if k),
            key_of=key_of,
            cleared_terms=cleared_listing_terms(shop_id=shop_id),
        )


def title_key(title: str) -> str:
    """A title reduced to what makes it the same listing: case, accents, punctuation,
    word order, filler words and a plural 's' do not count."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = set()
    for word in _NON_WORD.split(text):
        if not word or word in _STOP_WORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return " ".join(sorted(words))


def prohibited_terms_in(text: str, *, terms: list[str] | None = None) -> list[str]:
    """The configured prohibited terms found in `text` as whole words (case-insensitive)."""
    terms = [t for t in (settings.LISTING_PROHIBITED_TERMS if terms is None else terms) if t]
    if not terms:
        return []
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE
    )
    return sorted({m.group(1).lower() for m in pattern.finditer(text)})


def listing_prohibited(product: Product, *, cleared: set[str]) -> list[str]:
    """The prohibited terms in the listing's title and description that staff have not
    cleared for it on appeal: the rule behind the `prohibited_terms` check and flags."""
    found = prohibited_terms_in(f"{product.title}\n{product.description}")
    return [t for t in found if t not in cleared]


def _check(code: str, ok: bool, message: str, fix: str) -> Check:
    return Check(
        code=code,
        severity="block" if code in BLOCKING else "warn",
        ok=ok,
        message="OK." if ok else message,
        fix="" if ok else fix,
    )


def _title_checks(title: str) -> list[Check]:
    visible = title.strip()
    letters = [ch for ch in visible if ch.isalpha()]
    upper = sum(1 for ch in letters if ch.isupper())
    shouting = len(letters) >= SHOUTING_MIN_LETTERS and upper / len(letters) >= SHOUTING_RATIO
    return [
        _check(
            "title_present",
            len(visible) >= TITLE_MIN_PRESENT,
            "The listing has no real title.",
            f"Give it a title of at least {TITLE_MIN_PRESENT} characters saying what it is.",
        ),
        _check(
            "title_length",
            TITLE_MIN <= len(visible) <= TITLE_MAX,
            f"The title has {len(visible)} characters; buyers trust {TITLE_MIN} to {TITLE_MAX}.",
            f"Say what it is, the brand, size or colour; keep it under {TITLE_MAX} characters.",
        ),
        _check(
            "title_shouting",
            not shouting,
            "The title is written in capital letters.",
            "Write the title in normal case (capitals only where a name needs them).",
        ),
    ]


def _price_check(product: Product, context: ShopContext) -> Check:
    price = product.price
    if price <= 0:
        return _check(
            "price_sanity",
            False,
            "The price is 0.",
            "Set the price buyers pay (a pin may still offer it cheaper).",
        )
    others = [p for pk, p in context.prices.items() if pk != product.pk and p > 0]
    if len(others) < PRICE_SANITY_MIN_LISTINGS:
        return _check("price_sanity", True, "", "")
    median = Decimal(statistics.median(others))
    odd = price < median / PRICE_SANITY_FACTOR or price > median * PRICE_SANITY_FACTOR
    return _check(
        "price_sanity",
        not odd,
        f"The price {price} is far from this shop's usual prices (median {median:.2f}).",
        "Check the price for a typo (a missing or extra digit).",
    )


def listing_quality(product: Product, *, context: ShopContext | None = None) -> Quality:
    """Every check for one product. Pass `context` when checking many of one shop."""
    if context is None:
        context = ShopContext.for_shop(product.shop_id)
    found = listing_prohibited(product, cleared=context.cleared_terms.get(product.pk, set()))
    variants = list(product.variants.all())
    weightless = [v for v in variants if not v.effective_weight_grams]
    key = context.key_of.get(product.pk) or title_key(product.title)
    copies = context.title_keys.get(key, 0) - (1 if product.pk in context.key_of else 0)
    title_present, *title_style = _title_checks(product.title)
    checks = [
        title_present,
        _check(
            "prohibited_terms",
            not found,
            f"The listing uses terms this platform does not allow: {', '.join(found)}.",
            "Remove those words; if the item itself is prohibited, it cannot be sold here. "
            "If you believe this is a mistake, appeal the case.",
        ),
        *title_style,
        _check(
            "description",
            len(product.description.strip()) >= DESCRIPTION_MIN,
            "The description is missing or very short.",
            f"Describe material, size, condition and what is included ({DESCRIPTION_MIN}+ "
            "characters).",
        ),
        _check("image", bool(product.image_url), "The listing has no image.", "Add a photo."),
        _check(
            "weight",
            bool(variants) and not weightless,
            "The shipping weight is missing, so the shipping fee cannot be right.",
            "Set weight_grams on the product (or on each variant).",
        ),
        _price_check(product, context),
        _check(
            "near_duplicate",
            not (key and copies > 0),
            "Another active listing of this shop has the same title.",
            "Make it one listing with variants, or say in the title what differs.",
        ),
    ]
    failed = sum(WEIGHTS[c.code] for c in checks if not c.ok)
    ready = not any(c.severity == "block" and not c.ok for c in checks)
    return Quality(
        product_id=product.pk,
        score=max(0, 100 - failed),
        ready=ready,
        checks=checks,
        prohibited=found,
    )


def listing_quality_many(products: list[Product]) -> dict[int, Quality]:
    """`listing_quality` for many products, one shop context per shop."""
    contexts: dict[int, ShopContext] = {}
    out = {}
    for product in products:
        if product.shop_id not in contexts:
            contexts[product.shop_id] = ShopContext.for_shop(product.shop_id)
        out[product.pk] = listing_quality(product, context=contexts[product.shop_id])
    return out


class ListingNotReady(ApiError):
    def __init__(self, quality: Quality) -> None:
        failed = ", ".join(c.code for c in quality.failed_blocks)
        super().__init__(
            "listing_not_ready",
            f"This listing cannot go on air until it passes: {failed}.",
            status=409,
            details={
                "product": quality.product_id,
                "score": quality.score,
                "checks": [asdict(c) for c in quality.checks],
            },
        )


def listing_require_ready(product: Product) -> Quality:
    """The one rule pinning and auctioning call: a failed `block` check → 409
    `listing_not_ready` with every check in `details.checks`."""
    quality = listing_quality(product)
    if not quality.ready:
        raise ListingNotReady(quality)
    return quality
