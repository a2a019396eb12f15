"""Auction benchmark: 500 bidders hammering one auction over HTTP, against the floor.

    python bench/auction/run.py [--bidders 500] [--duration 8] [--rounds 2] [--no-docs]

Reuses the flash-sale machinery (bench/flash_sale/run.py: a throwaway database, a
private redis-server, uvicorn with 2 workers serving the bench settings with the bare
DRF no-op `POST /bench/noop/`, load-generator processes). Phases, interleaved so the
machine's other load falls on both alike:

1. the no-op with the same authentication (the floor);
2. bids: every bidder's requests carry a random amount (and the same as their maximum),
   so the mix is what a hammered auction sees — accepted bids and `bid_too_low`.

Then the auction is closed and checked: accepted bids strictly rise, exactly one winner
and one order (0 double winners). Figures go to stdout and, unless --no-docs, into
docs/benchmarks.md between markers. Not measured here (yet): bid → `auction.bid` at the
last of N viewers, and close → `auction.closed` at the last viewer (docs/auctions.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from bench.flash_sale.loadgen import render  # noqa: E402
from bench.flash_sale.run import (  # noqa: E402
    Http,
    bench_database,
    bench_env,
    log,
    machine_info,
    noop_requests,
)

DOC = REPO_ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- auction:begin -->", "<!-- auction:end -->"
GOAL = 0.5


def seed(bidders: int) -> tuple[Any, list[str]]:
    """A live show, a product, its auction (long: the phases end it) and bidders with a
    saved card and address."""
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
    Variant.objects.create(product=product, shop=shop, sku="LAMP", stock_on_hand=5)
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
    return auction, tokens


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
    """End the auction now and close it; count winners and orders."""
    from django.utils import timezone

    from auctions import services
    from auctions.models import Auction, Bid
    from orders.models import Order

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
        "orders": Order.objects.filter(product_id=auction.product_id).count(),
        "winners": 1 if auction.winner_id else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bidders", type=int, default=500)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    os.chdir(REPO_ROOT)
    info = machine_info()
    log(f"machine: {info['nproc']} cores, {info['cpu']}, load {info['load']}")
    from tests.support.processes import PrivateRedis, run_uvicorn_process

    redis_server = PrivateRedis()
    redis_server.start()
    try:
        with bench_database(f"lc_bench_auction_{os.getpid()}") as database_url:
            # The sandbox provider needs this with DEBUG off since issue 9 (bench_env
            # predates it).
            env = {**bench_env(database_url, redis_server.url), "PAYMENT_SANDBOX_ALLOWED": "true"}
            os.environ.update(env)
            import django

            django.setup()
            from django.core.management import call_command
            from django.db import connections

            call_command("migrate", verbosity=0)
            auction, tokens = seed(args.bidders)
            connections.close_all()
            with run_uvicorn_process(env=env, workers=2) as server:
                http = Http(server, clients=args.clients, connections=args.connections)
                try:
                    phases = http.interleaved(
                        {
                            "noop": ("DRF no-op", noop_requests(tokens), False),
                            "bid": ("bid", bid_requests(auction.pk, tokens, 4), False),
                        },
                        duration=args.duration * args.rounds,
                        rounds=args.rounds,
                    )
                finally:
                    http.close()
            outcome = check_and_close(auction.pk)
            connections.close_all()
    finally:
        redis_server.close()
    noop, bid = phases["noop"], phases["bid"]
    ratio = bid.rps / noop.rps if noop.rps else float("nan")
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    section = "\n".join(
        [
            BEGIN,
            "## Auction (one auction hammered over HTTP)",
            "",
            f"`python bench/auction/run.py --bidders {args.bidders} --duration {args.duration} "
            f"--rounds {args.rounds}` (`make bench-auction`), run {stamp} "
            f"UTC on {info['nproc']} cores ({info['cpu']}), load average at start "
            f"{info['load']}, at end {load_end} (a shared machine: other engineers' suites ran).",
            "",
            "| phase | req/s | p50 ms | p99 ms | statuses |",
            "|---|---|---|---|---|",
            *(
                f"| {p.name} | {p.rps:.0f} | {p.p50_ms:.1f} | {p.p99_ms:.1f} | {p.statuses} |"
                for p in (noop, bid)
            ),
            "",
            f"Bids (accepted + refused) per second: **{ratio:.2f}x** the DRF no-op (goal "
            f"{GOAL}x). Accepted bids {outcome['accepted']}, strictly rising: "
            f"{outcome['rising']}; closed by {outcome['closed_by']} of 3 close calls; status "
            f"{outcome['status']}; winners {outcome['winners']}, orders {outcome['orders']} "
            f"(double winners: {max(0, outcome['orders'] - 1)}).",
            "Not measured yet: bid → `auction.bid` at the last of N viewers, close → "
            "`auction.closed` at the last viewer (see docs/auctions.md).",
            END,
        ]
    )
    print(section)
    if not args.no_docs:
        text = DOC.read_text()
        if BEGIN in text and END in text:
            before, rest = text.split(BEGIN, 1)
            text = before + section + rest.split(END, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        DOC.write_text(text)


if __name__ == "__main__":
    main()
