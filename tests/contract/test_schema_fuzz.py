"""Schema fuzzing of the whole REST API (SPEC invariant: bad input gets a 4xx with a clear
error code, never a 500, and changes nothing). See tests/contract/fuzzing.py for how it
works and docs/contract-testing.md for running it bigger (`FUZZ_EXAMPLES=100`)."""

from __future__ import annotations

import pytest

from tests.contract.fuzzing import EXAMPLES, fuzz
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
