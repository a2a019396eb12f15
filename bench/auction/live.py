"""The auction seen by viewers: bid → `auction.bid` and close → `auction.closed` at the last
of N viewers, a bid's time broken down, and the double-winner check.

Called by `bench/auction/run.py` (one command: `make bench-auction`) once the HTTP phases
are done, on the same database, private Redis and show. It starts, all on 127.0.0.1 and
each in its own process group (stopped at the end, and only those):

- two uvicorn processes serving the product's ASGI app: the viewers' sockets (`ws`);
- gunicorn (2 workers, gthread, the relay on): REST, as production serves it (`web`);
- a Celery worker (2 processes) with beat embedded: the closer (`auctions.close_at`, eta
  = `ends_at`, and the `auctions.close_due` sweep every second);
- viewer processes from `bench/viewers` holding the anonymous viewers.

Phases:

1. bids: a running auction; `--bids` bids over REST, one every `--bid-interval` s, from
   four bidders in turn (each bid at the floor, so every one moves the price and emits one
   `auction.bid`); latency from just before the request is sent (and, second figure,
   from its 201 answer) to the last viewer that receives that bid's event;
2. breakdown: `--profile-bids` rounds of, in turn and each alone (0.25 s apart), the DRF
   no-op (same token auth, on the same gunicorn), a REST bid, and `services.bid_place`
   called in this process (the service alone: checks, row lock, commit, events handed to
   the relay); and the SQL statements of a no-op, a refused and an accepted bid;
3. closes: `--closes` auctions of `--close-duration` s (sudden death: no extension), one
   after the other, each with one bid; latency from `ends_at` (server clock, this machine)
   to the last viewer's `auction.closed`, and from `ends_at` to `closed_at` (the closer's
   share);
4. winners: every auction of the show: one order per sold auction, none for the others, no
   second close succeeds, no viewer saw an `auction.closed` twice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.flash_sale.run import log
from bench.viewers import (
    Clients,
    arrival_figures,
    cpu_of,
    free_port,
    latency_phase,
    live_room_server,
    pct,
    servers_running,
)

PACERS = 4  # bidders taking turns in the paced phases (never the leader bidding again)
SETTLE_S = 0.25  # between the breakdown's calls: no fan-out of the previous one in flight


@dataclass
class Stage:
    """What the phases need: the show, the auctioned product, who bids, the servers."""

    show_id: int
    product_id: int
    host_token: str
    tokens: list[str]  # the pacers' tokens
    users: list[Any]  # the pacers, for the in-process service bids
    rest: httpx.Client  # to gunicorn
    viewers: int = 0  # connected
    server_pids: list[int] = field(default_factory=list)  # ws and web
    turn: int = 0

    def next_bidder(self) -> int:
        self.turn += 1
        return self.turn % len(self.tokens)

    def auction_start(self, duration_s: int, *, sudden_death: bool) -> dict[str, Any]:
        r = self.rest.post(
            f"/api/v1/shows/{self.show_id}/auctions/",
            json={
                "product": self.product_id,
                "starting_bid": "1.00",
                "duration_s": duration_s,
                "sudden_death": sudden_death,
            },
            headers={"Authorization": f"Token {self.host_token}"},
        )
        if r.status_code != 201:
            raise RuntimeError(f"auction start: {r.status_code} {r.text}")
        return dict(r.json())

    def bid_rest(self, auction: dict[str, Any]) -> dict[str, Any]:
        """One bid at the floor over REST; `auction` is updated from the answer."""
        r = self.rest.post(
            f"/api/v1/auctions/{auction['id']}/bids/",
            json={"amount": auction["min_next_bid"]},
            headers={"Authorization": f"Token {self.tokens[self.next_bidder()]}"},
        )
        if r.status_code != 201:
            raise RuntimeError(f"bid: {r.status_code} {r.text}")
        auction.update(r.json()["auction"])
        return auction

    def bid_service(self, auction: dict[str, Any]) -> None:
        """The same bid through `services.bid_place` in this process (no HTTP, no auth)."""
        from auctions import selectors, services

        result = services.bid_place(
            user=self.users[self.next_bidder()],
            auction_id=auction["id"],
            amount=auction["min_next_bid"],
        )
        auction.update(selectors.auction_payload(result.auction))


@contextlib.contextmanager
def servers(env: dict[str, str], *, viewer_clients: int) -> Iterator[Any]:
    """The ws, web and worker processes and the viewer processes; yields (ws ports, REST
    base URL, the servers' pids, the viewers' `Clients`)."""
    from tests.support.processes import run_celery_worker, run_gunicorn_process

    ws_env = {
        **os.environ,
        **env,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        # Thousands of anonymous viewers from one address, on purpose.
        "WS_ANON_PER_IP_MAX": "1000000",
    }
    ports = [free_port(), free_port()]
    beat_dir = tempfile.mkdtemp(prefix="lc-bench-auction-beat-")
    beat = Path(beat_dir) / "schedule"
    worker_args = ["--loglevel", "WARNING", "--beat", "--schedule", str(beat)]
    clients = Clients(viewer_clients)
    try:
        with (
            servers_running(
                lambda: [live_room_server(p, ws_env, "auction-ws") for p in ports]
            ) as ws,
            run_gunicorn_process(env=env, workers=2) as web,
            run_celery_worker(env=env, concurrency=2, extra_args=worker_args),
        ):
            pids = [s.proc.pid for s in ws] + [web.pid, *web.child_pids()]
            yield ports, web.url, pids, clients
            clients.close()
    finally:
        clients.exit()
        shutil.rmtree(beat_dir, ignore_errors=True)


def bids_phase(stage: Stage, clients: Clients, *, count: int, interval: float) -> dict[str, Any]:
    auction = stage.auction_start(600, sudden_death=False)
    answered: dict[str, float] = {}
    round_trips: list[float] = []

    def bid(_i: int) -> str:
        t0 = time.monotonic()
        stage.bid_rest(auction)
        answered_at = time.monotonic()
        round_trips.append((answered_at - t0) * 1000)
        key = f"a{auction['id']}.{auction['bid_count']}"
        answered[key] = answered_at
        return key

    figures = latency_phase(clients, bid, count, interval, stage.viewers, stage.server_pids)
    return {
        "auction": auction["id"],
        "from_request": figures,
        "from_answer": arrival_figures(clients.report(), answered, stage.viewers),
        "rest_round_trip_p50_ms": round(pct(round_trips, 0.5), 1),
        "rest_round_trip_p99_ms": round(pct(round_trips, 0.99), 1),
        "_auction": auction,
    }


def breakdown_phase(stage: Stage, auction: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Where a REST bid's time goes, the three kinds interleaved so load falls on each."""
    from django.test import override_settings

    from streams.relay import relay_flush

    times: dict[str, list[float]] = {"noop": [], "rest_bid": [], "service_bid": []}
    token = stage.tokens[0]
    # As in the web process: the events are handed to the relay thread, not published on
    # the request's time.
    with override_settings(LIVE_EVENTS_RELAY=True):
        for _ in range(rounds):
            # Each call alone: the previous bid's fan-out to the viewers is over.
            t0 = time.monotonic()
            r = stage.rest.post(
                "/api/bench/noop/", json={"product": 1}, headers={"Authorization": f"Token {token}"}
            )
            times["noop"].append((time.monotonic() - t0) * 1000)
            if r.status_code != 201:
                raise RuntimeError(f"noop: {r.status_code} {r.text}")
            time.sleep(SETTLE_S)
            t0 = time.monotonic()
            stage.bid_rest(auction)
            times["rest_bid"].append((time.monotonic() - t0) * 1000)
            time.sleep(SETTLE_S)
            t0 = time.monotonic()
            stage.bid_service(auction)
            times["service_bid"].append((time.monotonic() - t0) * 1000)
            time.sleep(SETTLE_S)
        out_queries = queries_per_request(stage, auction)
        relay_flush()
    out: dict[str, Any] = {
        f"{k}_{q}_ms": round(pct(v, p), 1)
        for k, v in times.items()
        for q, p in (("p50", 0.5), ("p99", 0.99))
    }
    out["rounds"] = rounds
    out["sql_statements"] = out_queries
    return out


def queries_per_request(stage: Stage, auction: dict[str, Any]) -> dict[str, int]:
    """SQL statements of a no-op, a refused bid (`bid_too_low`) and an accepted bid, run
    in this process through the REST stack (events go to the relay thread, uncounted)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for label, path, amount, status in [
        ("noop", "/api/bench/noop/", None, 201),
        ("bid_refused", f"/api/v1/auctions/{auction['id']}/bids/", "1.00", 409),
        ("bid_accepted", f"/api/v1/auctions/{auction['id']}/bids/", "floor", 201),
    ]:
        token = stage.tokens[stage.next_bidder()]
        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
        body = {"product": 1} if amount is None else {"amount": amount}
        if amount == "floor":
            body = {"amount": auction["min_next_bid"]}
        with CaptureQueriesContext(connection) as ctx:
            r = client.post(path, body, content_type="application/json")
        if r.status_code != status:
            raise RuntimeError(f"{label}: {r.status_code} {r.content[:300]!r}")
        if status == 201 and amount:
            auction.update(r.json()["auction"])
        counts[label] = len(ctx.captured_queries)
        for q in ctx.captured_queries:
            log(f"  {label} SQL: {q['sql'][:140]}")
    return counts


def end_now(auction_id: int, timeout: float = 30.0) -> None:
    """Bring an auction's end to now and wait for the worker to close it (bounded)."""
    from django.utils import timezone

    from auctions.models import Auction

    Auction.objects.filter(pk=auction_id).update(ends_at=timezone.now())
    wait_closed(auction_id, timeout)


def wait_closed(auction_id: int, timeout: float) -> Any:
    from auctions.models import Auction

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        auction = Auction.objects.get(pk=auction_id)
        if auction.status != Auction.Status.RUNNING:
            return auction
        time.sleep(0.05)
    raise TimeoutError(f"auction {auction_id} not closed {timeout:.0f} s after its end")


def closes_phase(stage: Stage, clients: Clients, *, count: int, duration_s: int) -> dict[str, Any]:
    clients.record()
    ends: dict[str, float] = {}
    closer_ms: list[float] = []
    cpu0 = cpu_of(stage.server_pids)
    for _ in range(count):
        auction = stage.auction_start(duration_s, sudden_death=True)
        stage.bid_rest(auction)
        closed = wait_closed(auction["id"], duration_s + 30)
        # The server's clock (datetime.now) and time.monotonic() of this machine.
        offset = time.time() - time.monotonic()
        ends[f"c{closed.pk}"] = closed.ends_at.timestamp() - offset
        closer_ms.append((closed.closed_at - closed.ends_at).total_seconds() * 1000)
        time.sleep(1.0)
    time.sleep(2.0)
    report = clients.report()
    figures = arrival_figures(report, ends, stage.viewers)
    figures["closer_p50_ms"] = round(pct(closer_ms, 0.5), 1)
    figures["closer_p99_ms"] = round(pct(closer_ms, 0.99), 1)
    figures["closer_max_ms"] = round(max(closer_ms), 1)
    figures["server_cpu_s"] = round(cpu_of(stage.server_pids) - cpu0, 2)
    return figures


def winners_check(show_id: int) -> dict[str, Any]:
    """Every auction of the show, after the run: exactly one winner and one order per sold
    auction, none otherwise, and no second close succeeds."""
    from auctions import services
    from auctions.models import Auction
    from orders.models import Order

    auctions = list(Auction.objects.filter(show_id=show_id).order_by("id"))
    sold = [a for a in auctions if a.status == Auction.Status.SOLD]
    orders = Order.objects.filter(show_id=show_id).count()
    second_closes = sum(services.auction_close(auction_id=a.pk) for a in auctions)
    bad = [
        a.pk
        for a in auctions
        if (a.status == Auction.Status.SOLD) != (a.winner_id is not None and a.order_id is not None)
        or a.status == Auction.Status.RUNNING
    ]
    return {
        "auctions": len(auctions),
        "sold": len(sold),
        "orders": orders,
        "second_closes": second_closes,
        "inconsistent": bad,
        "double_winners": max(0, orders - len(sold)) + second_closes,
    }


def run(
    env: dict[str, str], hammered: Any, host_token: str, tokens: list[str], args: Any
) -> dict[str, Any]:
    """The phases, on the show and product of the `hammered` auction (closed by now)."""
    from rest_framework.authtoken.models import Token

    users = [Token.objects.select_related("user").get(key=t).user for t in tokens[:PACERS]]
    results: dict[str, Any] = {"viewers_load": {"start": _load()}}
    with servers(env, viewer_clients=args.viewer_clients) as (
        ports,
        rest_url,
        pids,
        clients,
    ):
        urls = [f"ws://127.0.0.1:{p}/ws/shows/{hammered.show_id}/" for p in ports]
        opened, took = clients.connect(urls, args.viewers)
        log(f"  {opened} of {args.viewers} viewers connected in {took:.1f} s")
        results["connected"] = {"viewers": opened, "seconds": round(took, 1)}
        time.sleep(2)
        with httpx.Client(base_url=rest_url, timeout=60) as rest:
            pacers = (tokens[:PACERS], users)
            stage = Stage(hammered.show_id, hammered.product_id, host_token, *pacers, rest)
            stage.viewers, stage.server_pids = opened, pids
            bids = bids_phase(stage, clients, count=args.bids, interval=args.bid_interval)
            auction = bids.pop("_auction")
            log(f"  bids: {bids}")
            results["bids"] = bids
            results["breakdown"] = breakdown_phase(stage, auction, args.profile_bids)
            log(f"  breakdown: {results['breakdown']}")
            end_now(auction["id"])
            results["closes"] = closes_phase(
                stage, clients, count=args.closes, duration_s=args.close_duration
            )
            log(f"  closes: {results['closes']}")
    results["winners"] = winners_check(hammered.show_id)
    results["winners"]["double_winners"] += results["closes"]["duplicated"]
    log(f"  winners: {results['winners']}")
    results["viewers_load"]["end"] = _load()
    return results


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
