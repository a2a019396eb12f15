"""The CSV format on its own: options strings, formula escaping, write → parse."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog import rules
from catalog.csv_format import (
    COLUMNS,
    CsvFileError,
    catalog_csv_parse,
    catalog_csv_write,
    cell_escape,
    cell_unescape,
    options_format,
    options_parse,
)

# Option names and values: printable text without the separators, trimmed, non-empty.
token = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="=;"),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)
options_dicts = st.dictionaries(token, token, max_size=rules.MAX_OPTIONS)
free_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@given(options_dicts)
def test_options_string_round_trips(options):
    assert options_parse(options_format(options)) == options


@given(free_text)
def test_cell_escape_round_trips(value):
    assert cell_unescape(cell_escape(value)) == value


@given(free_text)
def test_escaped_cell_never_starts_like_a_formula(value):
    assert not cell_escape(value).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_options_parse_accepts_spaces_around_parts():
    assert options_parse(" size = M ; colour=red ") == {"size": "M", "colour": "red"}


@pytest.mark.parametrize("text", ["size", "size=", "=M", "size=M;size=L", "a=1;b=2;c=3;d=4"])
def test_options_parse_rejects_malformed(text):
    with pytest.raises(ValueError):
        options_parse(text)


rows = st.fixed_dictionaries(
    {
        "sku": st.from_regex(r"[A-Za-z0-9=+@'-][A-Za-z0-9._=+@'-]{0,20}", fullmatch=True),
        "product_handle": st.from_regex(r"[a-z0-9_-]{1,20}", fullmatch=True),
        "title": free_text.map(str.strip).filter(lambda t: 0 < len(t) <= 200),
        "description": free_text.map(str.strip),
        "options": options_dicts.map(options_format),
        "price": st.decimals(min_value=0, max_value=10**6, places=2).map(str),
        "currency": st.sampled_from(["USD", "EUR", ""]),
        "stock_on_hand": st.integers(0, rules.MAX_STOCK).map(str),
        "weight_grams": st.integers(0, rules.MAX_WEIGHT_GRAMS).map(str),
        "image_url": st.sampled_from(["", "https://img.example.com/a.png"]),
    }
)


@given(st.lists(rows, max_size=5))
def test_write_then_parse_gives_back_the_rows(written):
    data = "".join(catalog_csv_write(written)).encode()
    parsed = catalog_csv_parse(data)
    assert parsed.errors == {}
    assert len(parsed.rows) == len(written)
    for row, original in zip(parsed.rows, written, strict=True):
        assert row.sku == original["sku"]
        assert row.title == original["title"]
        assert row.description == original["description"]
        assert options_format(row.options) == original["options"]
        assert row.price == Decimal(original["price"])
        assert row.stock_on_hand == int(original["stock_on_hand"])
        assert (row.currency or "") == original["currency"]


def test_parse_reports_row_errors_by_spreadsheet_row():
    text = ",".join(COLUMNS) + "\nA,h,Title,,,1.00,USD,1,,\nB,h,Title,,,-1,USD,x,,\n"
    parsed = catalog_csv_parse(text.encode())
    assert [r.row for r in parsed.rows] == [2]
    assert set(parsed.errors[3]) == {"price", "stock_on_hand"}


def test_parse_accepts_a_bom_and_header_case():
    text = "\ufeffSKU,Product_Handle,Title,Price,Stock_On_Hand\nA,h,T,1,2\n"
    parsed = catalog_csv_parse(text.encode())
    assert parsed.rows[0].sku == "A"
    assert parsed.rows[0].description is None  # column absent: keep what exists


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"sku,title\nA,B\n",
        "sku,product_handle,title,price,stock_on_hand\n\xe9".encode("latin-1"),
        b"sku,product_handle,title,price,stock_on_hand\x00\n",
    ],
)
def test_unreadable_files_are_refused(data):
    with pytest.raises(CsvFileError):
        catalog_csv_parse(data)
