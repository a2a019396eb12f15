"""Checks for free text people write (chat lines, reasons, appeals)."""

from __future__ import annotations

import re
from typing import Any

from core.errors import Invalid

# C0 control characters other than tab, newline and carriage return. NUL cannot even be
# stored by PostgreSQL; the others have no business in text people read.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(*, field: str, value: Any, max_length: int) -> str:
    """A required non-blank string of at most `max_length` characters, without controls;
    else 400 `invalid` naming `field`."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{field}: this field is required.", details={field: ["Required."]})
    if len(value) > max_length:
        msg = f"Ensure this field has no more than {max_length} characters."
        raise Invalid(f"{field}: {msg}", details={field: [msg]})
    if CONTROL_CHARS.search(value):
        msg = "Control characters are not allowed."
        raise Invalid(f"{field}: {msg}", details={field: [msg]})
    return value
