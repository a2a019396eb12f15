"""Schema fuzzing of the whole REST API (SPEC invariant: bad input gets a 4xx with a clear
error code, never a 500, and changes nothing). See tests/contract/fuzzing.py for how it
works and docs/contract-testing.md for running it bigger (`FUZZ_EXAMPLES=100`)."""

from __future__ import annotations

import json

import pytest

from catalog.models import Product
from tests.contract.fuzzing import (
    EXAMPLES,
    error_shape_problem,
    fingerprint,
    fuzz,
    tracked_tables,
)
from tests.contract.world import World, build_world


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.mark.timeout(max(300, EXAMPLES * 120))
@pytest.mark.parametrize("role", ["seller", "buyer"])
def test_fuzzed_requests_get_no_5xx_and_well_formed_errors_that_change_nothing(
    world: World, role: str
) -> None:
    report = fuzz(world=world, role=role)
    print(f"\n{role}: {report.calls()} calls, {EXAMPLES} examples per operation and mode")
    print(report.summary())
    assert report.calls() > 0
    assert not report.findings, "\n\n".join(str(f) for f in report.findings)


# --- the harness's own checks can fail ----------------------------------------------------


def test_the_row_fingerprint_notices_a_changed_row(world: World) -> None:
    tables = tracked_tables()
    before = fingerprint(tables)
    Product.objects.filter(pk=world.simple.pk).update(title="Changed")
    after = fingerprint(tables)
    assert [t for t in tables if before[t] != after[t]] == [Product._meta.db_table]


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Bad Request</html>",
        b'{"detail": "Not found."}',
        b'{"error": {"code": "Not Found", "message": "x", "details": {}}}',
        b'{"error": {"code": "invalid", "message": "", "details": {}}}',
        b'{"error": {"code": "invalid", "message": "x", "details": []}}',
        b'{"error": {"code": "invalid", "message": "x"}}',
    ],
)
def test_the_error_shape_check_refuses_other_bodies(body: bytes) -> None:
    assert error_shape_problem(_Response(body)) is not None


def test_the_error_shape_check_accepts_the_spec_shape() -> None:
    body = b'{"error": {"code": "not_found", "message": "No such show.", "details": {}}}'
    assert error_shape_problem(_Response(body)) is None


class _Response:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def json(self) -> object:
        return json.loads(self.content)
