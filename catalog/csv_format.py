"""The catalog CSV format: parsing and writing, no database (see docs/catalog.md).

Columns: ``sku, product_handle, title, description, options, price, currency,
stock_on_hand, weight_grams, image_url``. One row per variant; rows sharing a
`product_handle` form one product. `options` reads ``size=M;colour=red``.

Cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab or CR)
are written with a leading apostrophe, and a leading apostrophe before one of those
characters (or before another apostrophe) is dropped when reading, so an export always
imports back to the same values (see `cell_escape`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from catalog import rules

COLUMNS = (
    "sku",
    "product_handle",
    "title",
    "description",
    "options",
    "price",
    "currency",
    "stock_on_hand",
    "weight_grams",
    "image_url",
)
REQUIRED_COLUMNS = ("sku", "product_handle", "title", "price", "stock_on_hand")
# Under Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), so an import carrying an
# Idempotency-Key can be hashed whole; about 10,000 typical rows.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_DESCRIPTION = 10_000

T = TypeVar("T")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_url_validator = URLValidator(schemes=["http", "https"])


class CsvFileError(Exception):
    """The file as a whole cannot be read (encoding, header, size)."""


def cell_escape(value: str) -> str:
    """Neutralise spreadsheet formulas: prefix an apostrophe where reading drops one."""
    if value.startswith(_FORMULA_START) or value.startswith("'"):
        return "'" + value
    return value


def cell_unescape(value: str) -> str:
    """Inverse of `cell_escape` (hand-written cells like ``'hello`` are kept as they are)."""
    if value.startswith("'") and value[1:].startswith((*_FORMULA_START, "'")):
        return value[1:]
    return value


def options_format(options: Mapping[str, str]) -> str:
    """``{"size": "M", "colour": "red"}`` → ``size=M;colour=red``."""
    return ";".join(f"{name}={value}" for name, value in options.items())


def options_parse(text: str) -> dict[str, str]:
    """``size=M;colour=red`` → ``{"size": "M", "colour": "red"}``; raises ValueError."""
    text = text.strip()
    if not text:
        return {}
    result: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep:
            raise ValueError(f"{part.strip()!r} is not name=value.")
        problems = rules.option_token_errors(
            name, what="Option name", max_length=rules.MAX_OPTION_NAME
        ) + rules.option_token_errors(value, what="Option value", max_length=rules.MAX_OPTION_VALUE)
        if problems:
            raise ValueError(problems[0])
        if name in result:
            raise ValueError(f"Option {name!r} is given twice.")
        result[name] = value
    if len(result) > rules.MAX_OPTIONS:
        raise ValueError(f"A product has at most {rules.MAX_OPTIONS} options.")
    return result


@dataclass(frozen=True)
class CsvRow:
    """One valid data row. Optional columns are None when the file does not have them,
    and "" when the cell is blank; for an existing product both keep what exists."""

    row: int  # spreadsheet row number: the header is row 1
    sku: str
    product_handle: str
    title: str
    price: Decimal
    stock_on_hand: int
    options: dict[str, str]
    description: str | None
    currency: str | None
    weight_grams: int | None
    image_url: str | None


@dataclass
class ParsedCsv:
    rows: list[CsvRow]
    # row number → field → messages, for rows that are not valid on their own
    errors: dict[int, dict[str, list[str]]]
    # row number → (sku, product_handle) as written, for reporting every row
    keys: dict[int, tuple[str, str]]


def _int(text: str, *, low: int, high: int) -> int:
    if not text.isdigit():
        raise ValueError("A whole number is required.")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"Must be between {low} and {high}.")
    return value


def _price(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("A valid number is required.") from None
    if not value.is_finite():
        raise ValueError("A valid number is required.")
    if value < 0:
        raise ValueError("Must not be negative.")
    if value > rules.MAX_PRICE:
        raise ValueError(f"Must be at most {rules.MAX_PRICE}.")
    if -int(value.as_tuple().exponent) > 2:  # finite, so the exponent is an int
        raise ValueError("At most 2 decimal places.")
    return value.quantize(Decimal("0.01"))


def _row(number: int, raw: Mapping[str, str]) -> tuple[CsvRow | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}

    def cell(name: str) -> str | None:
        if name not in raw:
            return None
        return cell_unescape((raw[name] or "").strip())

    def check(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return fn(*args, **kwargs)
        except ValueError as exc:
            errors.setdefault(name, []).append(str(exc))
            return None

    sku = cell("sku") or ""
    handle = cell("product_handle") or ""
    title = cell("title") or ""
    if not rules.SKU_RE.match(sku):
        errors["sku"] = ["Required: one word of at most 64 characters, no spaces."]
    if not rules.HANDLE_RE.match(handle):
        errors["product_handle"] = ["Required: letters, digits, '-' and '_' (at most 120)."]
    if not title:
        errors["title"] = ["Required."]
    elif len(title) > 200:
        errors["title"] = ["At most 200 characters."]
    price = check("price", _price, cell("price") or "")
    stock = check("stock_on_hand", _int, cell("stock_on_hand") or "", low=0, high=rules.MAX_STOCK)
    options = check("options", options_parse, cell("options") or "")
    description = cell("description")
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors["description"] = [f"At most {MAX_DESCRIPTION} characters."]
    currency = cell("currency") or None
    if currency is not None and not rules.CURRENCY_RE.match(currency):
        errors["currency"] = ["Use 3 capital letters (ISO 4217)."]
    weight_text = cell("weight_grams")
    weight = (
        check("weight_grams", _int, weight_text, low=0, high=rules.MAX_WEIGHT_GRAMS)
        if weight_text
        else None
    )
    image_url = cell("image_url")
    if image_url:
        try:
            if len(image_url) > 500:
                raise ValidationError("too long")
            _url_validator(image_url)
        except ValidationError:
            errors["image_url"] = ["A valid http(s) URL of at most 500 characters is required."]
    if errors:
        return None, errors
    assert price is not None and stock is not None and options is not None
    return (
        CsvRow(
            row=number,
            sku=sku,
            product_handle=handle,
            title=title,
            price=price,
            stock_on_hand=stock,
            options=options,
            description=description,
            currency=currency,
            weight_grams=weight,
            image_url=image_url,
        ),
        {},
    )


def catalog_csv_parse(data: bytes) -> ParsedCsv:
    """Parse and check each row on its own (cross-row and database rules come later).

    Raises `CsvFileError` when the file is too big, not UTF-8, has no header or misses a
    required column, or has more than `MAX_ROWS` rows.
    """
    if len(data) > MAX_FILE_BYTES:
        raise CsvFileError(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvFileError("The file is not UTF-8 text; export it as CSV UTF-8.") from None
    if "\x00" in text:
        raise CsvFileError("The file is not a CSV text file.")
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise CsvFileError(f"The header cannot be read: {exc}.") from None
    if not header:
        raise CsvFileError("The file is empty: it needs a header row.")
    reader.fieldnames = [(name or "").strip().lower() for name in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in reader.fieldnames]
    if missing:
        raise CsvFileError(f"Missing columns: {', '.join(missing)}.")
    parsed = ParsedCsv(rows=[], errors={}, keys={})
    number = 1
    try:
        for raw in reader:
            number += 1
            if number - 1 > MAX_ROWS:
                raise CsvFileError(f"The file has more than {MAX_ROWS} rows; split it.")
            if not any((v or "").strip() for k, v in raw.items() if isinstance(v, str)):
                continue  # blank line
            parsed.keys[number] = (
                cell_unescape((raw.get("sku") or "").strip()),
                cell_unescape((raw.get("product_handle") or "").strip()),
            )
            if None in raw:  # more cells than header columns
                parsed.errors[number] = {"row": ["More cells than columns in the header."]}
                continue
            row, errors = _row(number, raw)
            if row is None:
                parsed.errors[number] = errors
            else:
                parsed.rows.append(row)
    except csv.Error as exc:
        raise CsvFileError(f"Row {number}: the CSV cannot be read ({exc}).") from None
    return parsed


def catalog_csv_write(rows: Iterable[Mapping[str, str]]) -> Iterable[str]:
    """Yield the CSV text (header first), one chunk per row, every cell escaped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield flush()
    for row in rows:
        writer.writerow([cell_escape(row.get(c, "")) for c in COLUMNS])
        yield flush()
