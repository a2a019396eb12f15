"""Catalog validation rules shared by the REST API, the CSV import and the services.

Pure functions (no database): each returns a list of human messages, empty when valid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

# Limits keep every figure far inside PostgreSQL's 32-bit integers and the UI's reach.
MAX_STOCK = 1_000_000_000
MAX_WEIGHT_GRAMS = 1_000_000
MAX_PRICE = Decimal("99999999.99")
MAX_OPTIONS = 3
MAX_OPTION_VALUES = 50
MAX_VARIANTS = 100
MAX_OPTION_NAME = 50
MAX_OPTION_VALUE = 100
MAX_SKU = 64
MAX_HANDLE = 120

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# A SKU is one printable token: no whitespace, no control characters.
SKU_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")
HANDLE_RE = re.compile(r"^[-a-zA-Z0-9_]{1,120}$")
# Option names and values appear in the CSV `options` cell (`size=M;colour=red`),
# so they cannot contain its separators.
_OPTION_FORBIDDEN = re.compile(r"[=;\x00-\x1f\x7f]")


def currency_errors(currency: str, *, shop_currency: str) -> list[str]:
    """Errors for a product's currency in a shop: a shop sells in its one currency, so no
    total (an order, a parcel's shipping fee) ever adds amounts of two currencies."""
    if not CURRENCY_RE.match(currency):
        return ["Use 3 capital letters (ISO 4217)."]
    if currency != shop_currency:
        return [f"This shop sells in {shop_currency}; price its products in {shop_currency}."]
    return []


def option_token_errors(token: str, *, what: str, max_length: int) -> list[str]:
    """Errors for one option name or value."""
    if not token:
        return [f"{what} may not be blank."]
    if token != token.strip():
        return [f"{what} {token!r} may not start or end with spaces."]
    if len(token) > max_length:
        return [f"{what} {token!r} is longer than {max_length} characters."]
    if _OPTION_FORBIDDEN.search(token):
        return [f"{what} {token!r} may not contain '=', ';' or control characters."]
    return []


def options_definition_errors(options: Sequence[Mapping[str, Any]]) -> list[str]:
    """Errors for a product's option definition: ``[{"name": .., "values": [..]}, ..]``."""
    errors: list[str] = []
    if len(options) > MAX_OPTIONS:
        return [f"A product has at most {MAX_OPTIONS} options."]
    names: set[str] = set()
    for option in options:
        name = option.get("name", "")
        values = option.get("values", [])
        errors += option_token_errors(name, what="Option name", max_length=MAX_OPTION_NAME)
        if name in names:
            errors.append(f"Option {name!r} is defined twice.")
        names.add(name)
        if not values:
            errors.append(f"Option {name!r} needs at least one value.")
        if len(values) > MAX_OPTION_VALUES:
            errors.append(f"Option {name!r} has more than {MAX_OPTION_VALUES} values.")
        if len(set(values)) != len(values):
            errors.append(f"Option {name!r} lists a value twice.")
        for value in values:
            errors += option_token_errors(value, what="Option value", max_length=MAX_OPTION_VALUE)
    return errors


def variant_options_errors(
    options: Sequence[Mapping[str, Any]], variant_options: Mapping[str, str]
) -> list[str]:
    """Errors for one variant's ``{name: value}`` against the product's option definition."""
    defined = {o["name"]: list(o["values"]) for o in options}
    if set(variant_options) != set(defined):
        expected = ", ".join(sorted(defined)) or "none"
        given = ", ".join(sorted(variant_options)) or "none"
        return [f"Options must name exactly the product's options ({expected}); got {given}."]
    return [
        f"{value!r} is not a value of option {name!r}."
        for name, value in variant_options.items()
        if value not in defined[name]
    ]


def variant_set_errors(
    options: Sequence[Mapping[str, Any]], variants: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Errors for a product's full variant set: options define every variant's keys and
    values, each combination appears at most once, SKUs are distinct, and a product
    without options has exactly one variant."""
    if not variants:
        return ["A product needs at least one variant."]
    if len(variants) > MAX_VARIANTS:
        return [f"A product has at most {MAX_VARIANTS} variants."]
    errors: list[str] = []
    if not options and len(variants) > 1:
        errors.append("A product without options has exactly one variant; define options.")
    seen_combos: dict[tuple[tuple[str, str], ...], str] = {}
    seen_skus: set[str] = set()
    for variant in variants:
        sku = variant["sku"]
        if sku in seen_skus:
            errors.append(f"SKU {sku!r} appears twice.")
        seen_skus.add(sku)
        for message in variant_options_errors(options, variant["options"]):
            errors.append(f"Variant {sku!r}: {message}")
        combo = tuple(sorted(variant["options"].items()))
        if combo in seen_combos and options:
            errors.append(f"Variants {seen_combos[combo]!r} and {sku!r} have the same options.")
        seen_combos.setdefault(combo, sku)
    return errors
