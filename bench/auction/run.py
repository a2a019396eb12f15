"""Auction benchmark: one auction hammered over HTTP, and the auction seen by 2,000 viewers.

    python bench/auction/run.py [--bidders 500] [--duration 8] [--rounds 2]
        [--viewers 2000] [--bids 80] [--closes 8] [--server gunicorn|uvicorn]
        [--no-docs] [--json PATH]

Reuses the flash-sale machinery (bench/flash_sale/run.py: a throwaway database, a
private redis-server, the product's REST tier with 2 workers — gunicorn gthread as in
production, or uvicorn with `--server uvicorn` — serving the bench settings with the token
DRF no-op `POST /api/bench/noop/`, the same server with 2 workers serving the bare DRF no-op
of `bench/flash_sale/bare.py`, load-generator processes). Phases, interleaved so the
machine's other load falls on all alike:

1. the bare DRF no-op (no middleware, database or authentication: the floor the ratio is to);
2. the product's no-op with the same token authentication as the bids;
3. bids: every bidder's requests carry a random amount (and the same as their maximum),
   so the mix is what a hammered auction sees — accepted bids and `bid_too_low`.

Then the auction is closed (accepted bids strictly rise), and, unless --viewers 0,
`bench/auction/live.py` measures on the same show with `--viewers` WebSocket viewers:
bid → `auction.bid` and close → `auction.closed` (from `ends_at`, closed by a real Celery
worker and beat) at the last viewer, where a REST bid's time goes, and the double-winner
check over every auction of the run. Figures go to stdout, to --json, and unless
--no-docs into docs/benchmarks.md between markers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import signal
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from bench.auction import live  # noqa: E402
from bench.flash_sale.loadgen import render  # noqa: E402
from bench.flash_sale.run import (  # noqa: E402
    Http,
    bench_database,
    bench_env,
    interleaved,
    log,
    machine_info,
    noop_requests,
    write_docs,
)

BEGIN, END = "<!-- auction:begin -->", "<!-- auction:end -->"
GOAL = 0.5
BID_P99_GOAL_MS, CLOSE_P99_GOAL_MS = 250.0, 1000.0


def seed(bidders: int, units: int) -> tuple[Any, list[str], str]:
    """A live show, a product with `units` units, its auction (long: the phases end it),
    bidders with a saved card and address, their tokens and the host's."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from auctions import services
    from catalog.models import Product, Shop, Variant
    from orders.models import Address, PaymentMethod
    from streams.models import Show

    user_model = get_user_model()
    host = user_model.objects.create(username="bench-host")
    shop = Shop.objects.create(name="Bench shop", owner=host)
    product = Product.objects.create(shop=shop, handle="lamp", title="Brass lamp", price=40)
    Variant.objects.create(product=product, shop=shop, sku="LAMP", stock_on_hand=units)
    show = Show.objects.create(
        shop=shop,
        title="Auction bench",
        status="live",
        scheduled_at=timezone.now(),
        started_at=timezone.now(),
    )
    users = user_model.objects.bulk_create(
        [user_model(username=f"bidder{i}") for i in range(bidders)]
    )
    PaymentMethod.objects.bulk_create(
        [
            PaymentMethod(
                user=u,
                provider="sandbox",
                token="sandbox_ok",
                brand="visa",
                last4="4242",
                is_default=True,
            )
            for u in users
        ]
    )
    Address.objects.bulk_create(
        [
            Address(
                user=u,
                name="B",
                line1="1 Main",
                city="X",
                postal_code="1",
                country="US",
                is_default=True,
            )
            for u in users
        ]
    )
    tokens = [Token.objects.create(user=u).key for u in users]
    auction = services.auction_start(
        user=host,
        show_id=show.pk,
        product_id=product.pk,
        starting_bid=Decimal("1.00"),
        duration_s=600,
    )
    return auction, tokens, Token.objects.create(user=host).key


def bid_requests(auction_id: int, tokens: list[str], per_bidder: int) -> list[bytes]:
    rng = random.Random(11)
    out = []
    for _ in range(per_bidder):
        for t in tokens:
            amount = f"{rng.randint(100, 10_000_000) / 100:.2f}"
            body = json.dumps({"amount": amount, "max_amount": amount}).encode()
            out.append(render("POST", f"/api/v1/auctions/{auction_id}/bids/", token=t, body=body))
    rng.shuffle(out)
    return out


def check_and_close(auction_id: int) -> dict[str, Any]:
    """End the auction now and close it (three calls: one closes); check the bids."""
    from django.utils import timezone

    from auctions import services
    from auctions.models import Auction, Bid

    Auction.objects.filter(pk=auction_id).update(ends_at=timezone.now())
    closes = [services.auction_close(auction_id=auction_id) for _ in range(3)]
    auction = Auction.objects.get(pk=auction_id)
    amounts = list(
        Bid.objects.filter(auction=auction).order_by("id").values_list("amount", flat=True)
    )
    return {
        "accepted": len(amounts),
        "rising": all(a < b for a, b in itertools.pairwise(amounts)),
        "closed_by": sum(closes),
        "status": auction.status,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bidders", type=int, default=500)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--clients", type=int, default=2, help="HTTP load-generator processes")
    parser.add_argument("--viewers", type=int, default=2000, help="0: no viewer phases")
    parser.add_argument("--viewer-clients", type=int, default=4, help="viewer processes")
    parser.add_argument("--bids", type=int, default=80, help="paced bids watched")
    parser.add_argument("--bid-interval", type=float, default=0.15, help="seconds between bids")
    parser.add_argument("--profile-bids", type=int, default=30, help="breakdown rounds")
    parser.add_argument("--closes", type=int, default=8, help="short auctions closed")
    parser.add_argument("--close-duration", type=int, default=5, help="seconds each")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--server",
        choices=("gunicorn", "uvicorn"),
        default="gunicorn",
        help="what serves the hammered REST calls (and the bare floor): production's REST "
        "tier is gunicorn (docs/operations.md); uvicorn is how `make run` serves it",
    )
    args = parser.parse_args(argv)
    # SIGTERM unwinds like an error: every `finally` stops the processes this run started
    # (and only those) and drops its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.chdir(REPO_ROOT)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    info = machine_info()
    log(f"machine: {info['nproc']} cores, {info['cpu']}, load {info['load']}")
    from tests.support.processes import PrivateRedis, run_gunicorn_process, run_uvicorn_process

    redis_server = PrivateRedis()
    redis_server.start()
    viewers: dict[str, Any] = {}
    try:
        with bench_database(f"lc_bench_auction_{os.getpid()}") as database_url:
            env = bench_env(database_url, redis_server.url)
            os.environ.update(env)
            # This orchestrating process seeds and checks with plain connections and
            # publishes its events itself; the servers pool and relay (as flash_sale).
            os.environ["DB_POOL_MAX_SIZE"] = "0"
            os.environ["LIVE_EVENTS_RELAY"] = "0"
            import django

            django.setup()
            from django.core.management import call_command
            from django.db import connections

            call_command("migrate", verbosity=0)
            auction, tokens, host_token = seed(args.bidders, units=args.closes + 4)
            connections.close_all()
            # The floor (issue 11: "a ratio to the bare DRF no-op"): flash_sale's bare no-op
            # (no middleware, database or authentication) on the same server and workers.
            bare_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.flash_sale.bare"}
            if args.server == "gunicorn":
                bare_cm = run_gunicorn_process(
                    env=bare_env, workers=2, app="bench.flash_sale.bare:wsgi_application"
                )
                product_cm = run_gunicorn_process(env=env, workers=2)
            else:
                bare_cm = run_uvicorn_process(
                    env=bare_env, workers=2, app="bench.flash_sale.bare:asgi_application"
                )
                product_cm = run_uvicorn_process(env=env, workers=2)
            with bare_cm as bare_server, product_cm as server:
                bare_http = Http(
                    bare_server, label="bare", clients=args.clients, connections=args.connections
                )
                http = Http(
                    server, label=args.server, clients=args.clients, connections=args.connections
                )
                try:
                    phases = interleaved(
                        {
                            "bare": ("bare DRF no-op", bare_http, noop_requests(tokens), False),
                            "noop": ("DRF no-op", http, noop_requests(tokens), False),
                            "bid": ("bid", http, bid_requests(auction.pk, tokens, 4), False),
                        },
                        duration=args.duration * args.rounds,
                        rounds=args.rounds,
                    )
                finally:
                    http.close()
                    bare_http.close()
            outcome = check_and_close(auction.pk)
            if args.viewers:
                viewers = live.run(env, auction, host_token, tokens, args)
            else:
                viewers = {"winners": live.winners_check(auction.show_id)}
            connections.close_all()
    finally:
        redis_server.close()
    bare, noop, bid = phases["bare"], phases["noop"], phases["bid"]
    results: dict[str, Any] = {
        "machine": info,
        "args": {k: str(v) for k, v in vars(args).items()},
        "http": {
            p.name: {
                "rps": round(p.rps, 1),
                "p50_ms": round(p.p50_ms, 1),
                "p99_ms": round(p.p99_ms, 1),
                "server_cpu_ms": round(p.server_cpu_ms, 2),
                "statuses": p.statuses,
            }
            for p in (bare, noop, bid)
        },
        "ratio": round(bid.rps / bare.rps, 3) if bare.rps else None,
        "ratio_to_token_noop": round(bid.rps / noop.rps, 3) if noop.rps else None,
        "hammered": outcome,
        **viewers,
        "load_at_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    section = report(results, args, bare, noop, bid)
    print(section)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if not args.no_docs:
        write_docs(section, BEGIN, END)
    return results


def _met(value: float | None, goal: float, *, at_most: bool = True) -> str:
    if value is None or value != value:  # NaN: nothing arrived
        return "not measured"
    return "met" if (value <= goal if at_most else value >= goal) else "**MISSED**"


def report(res: dict[str, Any], args: argparse.Namespace, bare: Any, noop: Any, bid: Any) -> str:
    info, out = res["machine"], res["hammered"]
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    lines = [
        BEGIN,
        "## Auction",
        "",
        f"`make bench-auction` (`python bench/auction/run.py --bidders {args.bidders} "
        f"--duration {args.duration} --rounds {args.rounds} --viewers {args.viewers} "
        f"--bids {args.bids} --bid-interval {args.bid_interval} --closes {args.closes}`), run "
        f"{stamp} UTC on {info['nproc']} cores ({info['cpu']}, {info['memory']}), load average "
        f"at start {info['load']}, at end {res['load_at_end']} (a shared machine: other "
        "engineers' suites ran).",
        "",
        f"### One auction hammered over HTTP ({args.server}, 2 workers)",
        "",
        "| phase | req/s | p50 ms | p99 ms | server CPU ms/request | statuses |",
        "|---|---|---|---|---|---|",
        *(
            f"| {p.name} | {p.rps:.0f} | {p.p50_ms:.1f} | {p.p99_ms:.1f} | "
            f"{p.server_cpu_ms:.1f} | {p.statuses} |"
            for p in (bare, noop, bid)
        ),
        "",
        "The bare DRF no-op is `bench/flash_sale/bare.py` (no middleware, no database, no "
        f"authentication) on its own {args.server} with the same 2 workers; the DRF no-op is the "
        "product's `/api/bench/noop/` (token authentication, middleware, throttles).",
        "",
        f"Bids (accepted + refused) per second: **{res['ratio']:.2f}x** the bare DRF no-op "
        f"({res['ratio_to_token_noop']:.2f}x the product's token no-op; goal "
        f"≥ {GOAL}x: {_met(res['ratio'], GOAL, at_most=False)}). Accepted bids "
        f"{out['accepted']}, strictly rising: {out['rising']}; closed by {out['closed_by']} of "
        f"3 close calls; status {out['status']}.",
    ]
    if "bids" in res:
        b, c, d = res["bids"], res["closes"], res["breakdown"]
        n = res["connected"]["viewers"]
        req, ans = b["from_request"], b["from_answer"]
        lines += [
            "",
            f"### Seen by {n} viewers (load average {res['viewers_load']['start']} at the start "
            f"of these phases, {res['viewers_load']['end']} at the end)",
            "",
            f"REST on gunicorn (2 workers, the relay on), {n} anonymous viewers on two uvicorn "
            f"processes (connected in {res['connected']['seconds']} s, {args.viewer_clients} "
            "viewer processes), a Celery worker (2 processes) with beat closing.",
            "",
            "| measure | n | reached every viewer | p50 | p99 | max | goal |",
            "|---|---|---|---|---|---|---|",
            f"| bid request sent → `auction.bid` at the last viewer | {req['publishes']} | "
            f"{req['reached_everyone']} | {req['p50_to_last_ms']} ms | {req['p99_to_last_ms']} ms "
            f"| {req['max_to_last_ms']} ms | p99 ≤ {BID_P99_GOAL_MS:.0f} ms: "
            f"{_met(req['p99_to_last_ms'], BID_P99_GOAL_MS)} |",
            f"| bid's 201 answer → `auction.bid` at the last viewer | {ans['publishes']} | "
            f"{ans['reached_everyone']} | {ans['p50_to_last_ms']} ms | {ans['p99_to_last_ms']} ms "
            f"| {ans['max_to_last_ms']} ms | |",
            f"| `ends_at` → `auction.closed` at the last viewer | {c['publishes']} | "
            f"{c['reached_everyone']} | {c['p50_to_last_ms']} ms | {c['p99_to_last_ms']} ms | "
            f"{c['max_to_last_ms']} ms | p99 ≤ {CLOSE_P99_GOAL_MS:.0f} ms: "
            f"{_met(c['p99_to_last_ms'], CLOSE_P99_GOAL_MS)} |",
            f"| `ends_at` → `closed_at` (the closer's share of it) | {c['publishes']} | | "
            f"{c['closer_p50_ms']} ms | {c['closer_p99_ms']} ms | {c['closer_max_ms']} ms | |",
            "",
            f"Paced bids: {b['rest_round_trip_p50_ms']} ms p50 / {b['rest_round_trip_p99_ms']} ms "
            f"p99 per REST round trip, one every {args.bid_interval} s after the answer, four "
            f"bidders in turn; server CPU {req['server_cpu_ms_per_event']} ms per bid (ws + web "
            f"processes). Closes: {args.closes} sudden-death auctions of {args.close_duration} s "
            "in turn, one bid each.",
            "",
            f"Where a REST bid's time goes ({d['rounds']} rounds, interleaved, with the viewers "
            "connected):",
            "",
            "| call | p50 | p99 |",
            "|---|---|---|",
            f"| DRF no-op on gunicorn (HTTP, token auth, DRF, JSON) | {d['noop_p50_ms']} ms | "
            f"{d['noop_p99_ms']} ms |",
            f"| REST bid on gunicorn | {d['rest_bid_p50_ms']} ms | {d['rest_bid_p99_ms']} ms |",
            f"| `services.bid_place` in-process (checks, row lock, commit, events to the relay) "
            f"| {d['service_bid_p50_ms']} ms | {d['service_bid_p99_ms']} ms |",
            "",
            "SQL statements per request (in-process, same stack): "
            + ", ".join(f"{k} {v}" for k, v in d["sql_statements"].items())
            + ".",
        ]
    w = res["winners"]
    lines += [
        "",
        f"Double winners: **{w['double_winners']}** over the run's {w['auctions']} auctions "
        f"({w['sold']} sold, {w['orders']} orders, {w['second_closes']} second closes that "
        f"succeeded, auctions inconsistent: {w['inconsistent'] or 'none'}"
        + (
            f", closes some viewer received twice: {res['closes']['duplicated']}"
            if "closes" in res
            else ""
        )
        + ").",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
