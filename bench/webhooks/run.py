"""Webhooks benchmark: one command, one run.

    python bench/webhooks/run.py [--events 10000] [--paced 600 --rate 60] [--duration 24]

What it does (docs/benchmarks.md, "Webhooks"), reusing bench/flash_sale's machinery
(bench database, private redis-server, seed, load generator, uvicorn with 2 workers):
1. Buy with webhooks off vs on, in the same run, interleaved rounds: one-tap buys (each
   opens an order, `order.created`, and queues its capture, `order.paid`) against one
   uvicorn with 2 workers, a Celery worker (2 processes, beat embedded) capturing payments
   and relaying webhooks. "Off": the shop's endpoint is disabled (the outbox still runs its
   one SELECT); "on": enabled, every order event goes to a local receiver. After each
   round the captures and deliveries are drained, so each round pays for its own work.
2. The floor: bare httpx POSTs to the same receiver (one keep-alive client, 16 threads).
   And the outbox's cost in a transaction for a shop without an endpoint, against
   recording every event and against `SELECT 1`.
3. A burst of `--events` order events committed back to back by `--producers` threads
   (each event its own transaction, a real order's payload): events/s delivered, and
   commit → received p50/p99 (this includes the queue the burst builds up).
4. Paced events (`--rate` per second): commit → received without a queue.
Every event must arrive (at least once, with one `webhook-id` per event).
Figures go to stdout and, unless --no-docs, into docs/benchmarks.md between markers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from bench.flash_sale.run import (  # noqa: E402
    Http,
    Phase,
    World,
    bench_database,
    bench_env,
    buy_requests,
    check_stock,
    log,
    machine_info,
    merge,
    pct,
    seed,
    write_docs,
)
from bench.webhooks.receiver import Receiver  # noqa: E402

BEGIN, END = "<!-- webhooks:begin -->", "<!-- webhooks:end -->"
DRAIN_SECONDS = 300.0
GOAL = 0.90  # buy with webhooks on keeps at least 90 % of the throughput with them off


def wait_drained(what: str) -> float:
    """Wait until no capture and no delivery is pending; returns the seconds it took."""
    from orders.models import Order
    from webhooks.models import Delivery

    started = time.monotonic()
    while time.monotonic() - started < DRAIN_SECONDS:
        busy = (
            Order.objects.filter(status="pending_payment").exists()
            or Delivery.objects.filter(status="pending", endpoint__active=True).exists()
        )
        if not busy:
            return time.monotonic() - started
        time.sleep(0.2)
    raise SystemExit(f"not drained after {what} within {DRAIN_SECONDS:.0f} s")


def buy_on_off(
    http: Http, world: World, worker: Any, *, endpoint_id: int, duration: float, rounds: int
) -> dict[str, Any]:
    from webhooks.models import Delivery, Endpoint

    requests = buy_requests(world.hot, world.one_tap_tokens)
    runs: dict[str, list[Phase]] = {"off": [], "on": []}
    drains: dict[str, float] = {"off": 0.0, "on": 0.0}
    worker_cpu: dict[str, float] = {"off": 0.0, "on": 0.0}
    delivered_before = 0
    for r in range(rounds):
        for key in ("off", "on") if r % 2 == 0 else ("on", "off"):
            Endpoint.objects.filter(pk=endpoint_id).update(active=key == "on")
            name = f"one-tap buy, webhooks {key}"
            cpu0 = process_cpu(worker)
            runs[key].append(http.run(name, requests, duration=duration / rounds))
            drains[key] += wait_drained(name)
            worker_cpu[key] += process_cpu(worker) - cpu0
    Endpoint.objects.filter(pk=endpoint_id).update(active=True)
    delivered = Delivery.objects.filter(status="delivered").count() - delivered_before
    merged = {key: merge(phases) for key, phases in runs.items()}
    # The whole cost of a buy: the web workers' CPU and the Celery worker's (its capture,
    # and with webhooks on its deliveries), through the drain after each round.
    total_ms = {
        key: (merged[key].server_cpu_s + worker_cpu[key]) * 1000 / max(1, merged[key].requests)
        for key in merged
    }
    return {"phases": merged, "drain_s": drains, "deliveries": delivered, "total_ms": total_ms}


def floor_posts(url: str, n: int, threads: int = 16) -> dict[str, float]:
    """The simplest sender: one keep-alive httpx client POSTing a small JSON body from
    16 threads; no database, no signing, no claiming."""
    import httpx

    body = b'{"id":"evt_floor","type":"order.paid","data":{"id":0}}'
    latencies: list[float] = []
    lock = threading.Lock()
    client = httpx.Client(trust_env=False, timeout=5)

    def post(_: int) -> None:
        t0 = time.perf_counter()
        client.post(url, content=body, headers={"Content-Type": "application/json"})
        with lock:
            latencies.append(time.perf_counter() - t0)

    started, cpu0 = time.perf_counter(), time.process_time()
    with client, ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(n)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    return {
        "n": n,
        "rps": n / wall,
        "p50_ms": pct(latencies, 50) * 1000,
        "cpu_ms": cpu * 1000 / n,
    }


def process_cpu(proc: Any) -> float:
    """CPU seconds used so far by a managed process and its children (the worker's pool)."""
    import psutil

    total = 0.0
    for pid in [proc.pid, *proc.child_pids()]:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def outbox_cost(*, shop_id: int, data: dict[str, Any], n: int) -> dict[str, float]:
    """What the outbox adds to a change's transaction when the shop has no endpoint (our
    choice: one SELECT, nothing written) against recording every event (one INSERT, the
    alternative) and against `SELECT 1` (the floor). Microseconds per transaction."""
    from django.core.serializers.json import DjangoJSONEncoder
    from django.db import connection, transaction
    from django.utils import timezone

    from webhooks.models import new_event_id
    from webhooks.services import event_record

    payload = DjangoJSONEncoder().encode(data)

    def timed(step: Any) -> float:
        started = time.perf_counter()
        for _ in range(n):
            with transaction.atomic(), connection.cursor() as cursor:
                step(cursor)
        return (time.perf_counter() - started) / n * 1e6

    figures = {}
    for _ in range(2):  # interleaved twice: the machine's noise falls on each alike
        for name, step in (
            ("select_1", lambda c: c.execute("SELECT 1")),
            (
                "outbox_no_endpoint",
                lambda c: event_record(shop_id=shop_id, type="order.paid", data=data),
            ),
            (
                "record_always",
                lambda c: c.execute(
                    "INSERT INTO webhooks_event (id, shop_id, type, data, created_at) "
                    "VALUES (%s, %s, 'order.paid', %s::jsonb, %s)",
                    [new_event_id(), shop_id, payload, timezone.now()],
                ),
            ),
        ):
            figures.setdefault(name, []).append(timed(step))
    from webhooks.models import Event

    Event.objects.filter(shop_id=shop_id).delete()
    result = {name: sum(v) / len(v) for name, v in figures.items()}
    log(
        "  outbox per transaction: "
        + ", ".join(f"{name} {us:.0f} µs" for name, us in result.items())
    )
    return result


def produce(
    *,
    shop_id: int,
    data: dict[str, Any],
    first: int,
    count: int,
    rate: float,
    producers: int = 1,
) -> list[float]:
    """Commit `count` order events, one transaction each, from `producers` threads (each
    with its own database connection, like concurrent web workers); event `first + i` is
    due at `i / rate` seconds (at once when `rate` is 0). Returns each commit's time."""
    from django.db import connection, transaction

    from webhooks.services import event_record

    commits = [0.0] * count
    started = time.perf_counter()

    def run(k: int) -> None:
        try:
            for i in range(k, count, producers):
                if rate:
                    delay = started + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                with transaction.atomic():
                    event_record(shop_id=shop_id, type="order.paid", data={**data, "n": first + i})
                commits[i] = time.time()
        finally:
            connection.close()

    with ThreadPoolExecutor(producers) as pool:
        list(pool.map(run, range(producers)))
    return commits


def delivered_figures(
    receiver: Receiver, commits: list[float], first: int, label: str, worker: Any, cpu0: float
) -> dict[str, Any]:
    wanted = set(range(first, first + len(commits)))
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        records = receiver.records()
        arrived: dict[int, float] = {}
        ids: dict[int, set[str]] = {}
        for at, msg_id, n in records:
            if n in wanted:
                arrived[n] = min(at, arrived.get(n, at))
                ids.setdefault(n, set()).add(msg_id)
        if len(arrived) == len(wanted):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{label}: {len(wanted) - len(arrived)} events never arrived")
        time.sleep(0.2)
    twice = {n: v for n, v in ids.items() if len(v) != 1}
    if twice:
        raise SystemExit(f"{label}: {len(twice)} events arrived under two ids, e.g. {twice}"[:2000])
    worker_cpu = process_cpu(worker) - cpu0
    latencies = [arrived[first + i] - commits[i] for i in range(len(commits))]
    copies = sum(1 for _, _, n in records if n in wanted)
    span = max(arrived.values()) - min(commits)
    figures = {
        "events": len(commits),
        "produce_s": max(commits) - min(commits),
        "span_s": span,
        "delivered_per_s": len(commits) / span,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000,
        "duplicates": copies - len(commits),
        "cpu_ms": worker_cpu * 1000 / len(commits),
    }
    log(
        f"  {label}: {figures['delivered_per_s']:.0f} events/s delivered, commit → received "
        f"p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, "
        f"duplicates {figures['duplicates']}, worker CPU {figures['cpu_ms']:.1f} ms/event"
    )
    return figures


def report(info: dict[str, str], load_end: str, args: argparse.Namespace, r: dict[str, Any]) -> str:
    off, on = r["buy"]["phases"]["off"], r["buy"]["phases"]["on"]
    ratio = on.rps / off.rps if off.rps else float("nan")
    cost = r["buy"]["total_ms"]["on"] / r["buy"]["total_ms"]["off"]
    burst, paced, floor = r["burst"], r["paced"], r["floor"]
    verdict = "met" if ratio >= GOAL else "missed"
    lines = [
        BEGIN,
        "## Webhooks",
        "",
        "Run: `python bench/webhooks/run.py` (or `make bench-webhooks`); "
        f"about {r['elapsed_s'] / 60:.0f} min. Not run in CI. Figures below are from one run on "
        f"{info['date']}; rerunning replaces this section.",
        "",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']} RAM, Python "
        f"{info['python']}; load average {info['load']} at start, {load_end} at the end. The "
        "machine is shared with other engineers and noisy: compare figures within this run.",
        "",
        "Setup: the flash-sale benchmark's machinery (bench database, private redis-server, "
        "uvicorn with 2 workers, production settings); one Celery worker with 2 processes "
        "and beat embedded, capturing payments and relaying webhooks (16 threads per relay, "
        "5 s timeout); a local receiver (raw asyncio HTTP/1.1, answers 204) in a process of "
        "its own; 127.0.0.1 only.",
        "",
        "### Buy with webhooks off vs on (one-tap: each buy opens an order and queues its capture)",
        "",
        f"{args.rounds} interleaved rounds, {args.duration:.0f} s per setting in all, "
        f"{args.connections} connections; after each round the captures and deliveries are "
        "drained (so each round pays for its own background work). Off: the shop's endpoint "
        "is disabled (the outbox still runs its one SELECT per event); on: every "
        "`order.created` and `order.paid` goes to the receiver.",
        "",
        "| webhooks | buys/s | p50 ms | p99 ms | statuses | web CPU ms/buy "
        "| web + worker CPU ms/buy | drain after (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, p in (("off", off), ("on", on)):
        lines.append(
            f"| {key} | {p.rps:.0f} | {p.p50_ms:.1f} | {p.p99_ms:.1f} | {p.statuses} | "
            f"{p.server_cpu_ms:.2f} | {r['buy']['total_ms'][key]:.2f} | "
            f"{r['buy']['drain_s'][key]:.1f} |"
        )
    lines += [
        "",
        f"On/off throughput: **{ratio:.2f}x** (goal ≥ {GOAL:.2f}x: {verdict}); in CPU, a buy "
        f"with webhooks on costs {cost:.2f}x one with them off (web and worker, captures and "
        f"deliveries included); {r['buy']['deliveries']} deliveries made during the rounds.",
        "",
        "### The outbox in a change's transaction (shop without an endpoint)",
        "",
        f"{args.outbox} transactions per case, twice, interleaved, from one process; "
        "microseconds per transaction (BEGIN, the statement, COMMIT).",
        "",
        "| case | µs per transaction |",
        "|---|---|",
        f"| floor: `SELECT 1` | {r['outbox']['select_1']:.0f} |",
        f"| our outbox, no endpoint: one SELECT, nothing written | "
        f"{r['outbox']['outbox_no_endpoint']:.0f} |",
        f"| the alternative, record every event (one INSERT; fan-out later) | "
        f"{r['outbox']['record_always']:.0f} |",
        "",
        "Recording only for a shop with a matching endpoint costs a shop without one an "
        "indexed SELECT per event and writes nothing (no table growth, no vacuum, no "
        "clean-up job); recording always would write a row on every order of every shop.",
        "",
        "### Delivery",
        "",
        "| what | events | events/s delivered | commit → received p50 | p99 | max | duplicates "
        "| CPU ms/event |",
        "|---|---|---|---|---|---|---|---|",
        f"| burst: {burst['events']} order events committed back to back by "
        f"{args.producers} threads (in {burst['produce_s']:.1f} s) | {burst['events']} | "
        f"{burst['delivered_per_s']:.0f} | {burst['p50_ms']:.0f} ms | {burst['p99_ms']:.0f} ms | "
        f"{burst['max_ms']:.0f} ms | {burst['duplicates']} | {burst['cpu_ms']:.1f} |",
        f"| paced: {args.rate:.0f} events/s | {paced['events']} | "
        f"{paced['delivered_per_s']:.0f} | {paced['p50_ms']:.0f} ms | {paced['p99_ms']:.0f} ms | "
        f"{paced['max_ms']:.0f} ms | {paced['duplicates']} | {paced['cpu_ms']:.1f} |",
        f"| floor: bare httpx POSTs to the same receiver, one keep-alive client, 16 threads, "
        f"no database | {floor['n']} | {floor['rps']:.0f} | p50 {floor['p50_ms']:.1f} ms per "
        f"POST | | | | {floor['cpu_ms']:.1f} |",
        "",
        "The burst commits as fast as its threads can (each event its own transaction); "
        "when that outpaces the relay, commit → received includes the queue it builds. "
        "CPU ms/event is the Celery worker's CPU (the relay, and beat's sweeps) per delivered "
        "event, from the first commit to the last arrival; for the floor, the sender's own "
        "CPU per POST. On a shared machine the CPU figures are steadier than the rates.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--producers", type=int, default=4, help="threads committing the burst")
    parser.add_argument("--paced", type=int, default=600)
    parser.add_argument("--rate", type=float, default=60.0)
    parser.add_argument("--floor", type=int, default=2_000)
    parser.add_argument("--outbox", type=int, default=2_000, help="transactions per outbox case")
    parser.add_argument("--duration", type=float, default=24.0, help="buy seconds per setting")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--one-tap", type=int, default=600)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    os.chdir(REPO_ROOT)
    info = machine_info()
    log(f"machine: {info['nproc']} cores, {info['cpu']}, load {info['load']}")

    from tests.support.processes import PrivateRedis, run_celery_worker, run_uvicorn_process

    redis_server = PrivateRedis()
    redis_server.start()
    receiver = Receiver()
    receiver.start()
    log(f"receiver on {receiver.url}")
    results: dict[str, Any] = {}
    try:
        with bench_database(f"lc_bench_webhooks_{os.getpid()}") as database_url:
            env = bench_env(database_url, redis_server.url)
            env.update({"WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_SWEEP_SECONDS": "1"})
            os.environ.update(env)
            import django

            django.setup()
            from django.core.management import call_command
            from django.db import connections

            from catalog.models import Shop
            from catalog.services import shop_create
            from orders.models import Order
            from orders.serializers import order_data
            from webhooks.services import endpoint_create

            log("migrating and seeding")
            call_command("migrate", verbosity=0)
            world = seed(buyers=20, one_tap=args.one_tap, flash_stock=10)
            shop = Shop.objects.get()  # the seeded one
            endpoint = endpoint_create(shop=shop, url=receiver.url, events=["*"])
            connections.close_all()
            beat = Path(tempfile.mkdtemp(prefix="lc-bench-beat-")) / "schedule"
            worker_args = ["--loglevel", "WARNING", "--beat", "--schedule", str(beat)]
            with (
                run_uvicorn_process(env=env, workers=2) as server,
                run_celery_worker(env=env, concurrency=2, extra_args=worker_args) as worker,
            ):
                http = Http(server, clients=args.clients, connections=args.connections)
                try:
                    log("warm-up")
                    http.run("warm-up", buy_requests(world.hot, world.one_tap_tokens), duration=2)
                    wait_drained("warm-up")
                    log(f"buy, webhooks off vs on, {args.rounds} rounds")
                    results["buy"] = buy_on_off(
                        http,
                        world,
                        worker,
                        endpoint_id=endpoint.pk,
                        duration=args.duration,
                        rounds=args.rounds,
                    )
                finally:
                    http.close()
                check_stock(world.hot, "buy phases")
                log("floor: bare httpx POSTs")
                results["floor"] = floor_posts(receiver.url, args.floor)
                log(f"  floor: {results['floor']['rps']:.0f} POST/s")
                data = order_data(Order.objects.filter(status="paid").first())
                log("outbox cost, shop without endpoint")
                quiet = shop_create(owner=shop.owner, name="Quiet shop")
                results["outbox"] = outbox_cost(shop_id=quiet.pk, data=data, n=args.outbox)
                log(f"burst of {args.events} events")
                cpu0 = process_cpu(worker)
                commits = produce(
                    shop_id=shop.pk,
                    data=data,
                    first=0,
                    count=args.events,
                    rate=0.0,
                    producers=args.producers,
                )
                results["burst"] = delivered_figures(receiver, commits, 0, "burst", worker, cpu0)
                log(f"{args.paced} events at {args.rate:.0f}/s")
                cpu0 = process_cpu(worker)
                commits = produce(
                    shop_id=shop.pk, data=data, first=10**6, count=args.paced, rate=args.rate
                )
                results["paced"] = delivered_figures(
                    receiver, commits, 10**6, "paced", worker, cpu0
                )
            connections.close_all()
    finally:
        receiver.stop()
        redis_server.close()
    results["elapsed_s"] = time.monotonic() - started
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    section = report(info, load_end, args, results)
    print()
    print(section)
    if not args.no_docs:
        write_docs(section, BEGIN, END)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
