"""`make bench-auction` at a tiny scale: every phase runs and reports its figures, and the
run has no double winner. Shapes and counts only — never a timing (a shared machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_auction_benchmark_measures_viewers_closes_and_winners(tmp_path: Path) -> None:
    out = tmp_path / "auction.json"
    args = [
        *("--bidders", "20", "--duration", "0.5", "--rounds", "1", "--clients", "1"),
        *("--viewers", "20", "--viewer-clients", "2", "--bids", "3", "--profile-bids", "2"),
        *("--closes", "1", "--no-docs", "--json", str(out)),
    ]
    # Its own database (created and dropped), private Redis and servers; DATABASE_URL only
    # names the PostgreSQL server.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    command = [sys.executable, "bench/auction/run.py", *args]
    bench = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
    try:
        _, stderr = bench.communicate(timeout=240)
    finally:
        if bench.poll() is None:  # it stops its own servers and drops its database
            bench.terminate()
            bench.communicate(timeout=60)
    assert bench.returncode == 0, stderr[-4000:].decode(errors="replace")
    res = json.loads(out.read_text())

    assert set(res["http"]) == {"bare DRF no-op", "DRF no-op", "bid"}
    assert res["args"]["server"] == "gunicorn"  # production's REST tier, and its bare floor
    assert res["ratio"] is not None and res["ratio"] > 0  # bids / the bare floor, same run
    assert res["hammered"]["rising"] is True
    assert res["hammered"]["closed_by"] == 1
    assert res["connected"]["viewers"] == 20

    bids = res["bids"]
    for figures in (bids["from_request"], bids["from_answer"]):
        assert figures["publishes"] == 3
        assert figures["reached_everyone"] == 3  # every viewer got every auction.bid
        assert figures["duplicated"] == 0
        assert {"p50_to_last_ms", "p99_to_last_ms", "max_to_last_ms"} <= set(figures)

    closes = res["closes"]
    assert closes["publishes"] == 1
    assert closes["reached_everyone"] == 1  # the worker's close reached every viewer
    assert closes["duplicated"] == 0
    assert {"p50_to_last_ms", "p99_to_last_ms", "closer_p99_ms"} <= set(closes)

    assert {"noop_p50_ms", "rest_bid_p50_ms", "service_bid_p50_ms"} <= set(res["breakdown"])

    # The hammered auction, the paced one and the closed one: all sold, once each.
    winners = res["winners"]
    assert winners["auctions"] == 3
    assert winners["sold"] == winners["orders"] == 3
    assert winners["second_closes"] == 0
    assert winners["inconsistent"] == []
    assert winners["double_winners"] == 0
