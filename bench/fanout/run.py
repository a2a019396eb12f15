"""Fan-out benchmark: the live room against stock Channels and a raw websockets server.

One command, from the repository root::

    /tmp/v/bin/python bench/fanout/run.py            # full run, a few minutes
    /tmp/v/bin/python bench/fanout/run.py --quick    # smaller, for trying it out

Everything runs on 127.0.0.1: two server processes per contender, load clients in their
own processes (multiprocessing), every wait bounded. It uses DATABASE_URL (default: the
``lc_bench`` database, created and migrated if missing) and REDIS_URL (default db 5).

Measured, for each contender with the same viewers over two server processes:

* latency: publish → each viewer, and → the *last* viewer, at a low rate (p50/p99). For
  the live room also the full product path: REST pin → `pin.changed` at the last viewer;
* sustained broadcast: an open-loop publisher offers `--rate` events/s for `--duration`
  seconds; delivered = events received by viewers per second of wall time until the last
  one arrived (batches count per event);
* idle: `--idle` viewers held by the live room's two processes, memory per connection;
* CPU seconds used by the servers, by the load clients and by everything else on the
  machine during each sustained phase: the report says when the clients, not the server,
  were the bottleneck.

The results go to docs/benchmarks.md, between the fan-out markers, and to
bench/results/fanout.json (not committed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.viewers import (  # noqa: E402
    UVICORN_FLAGS,
    Clients,
    Server,
    cpu_of,
    free_port,
    latency_phase,
    live_room_server,
    servers_running,
    start,
)
from bench.viewers.clients import HIST_MS  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "bench" / "results" / "fanout.json"
START, END = "<!-- fanout:start -->", "<!-- fanout:end -->"


# --- measuring ------------------------------------------------------------------------------


def hist_pct(hist: list[int], q: float) -> float:
    total = sum(hist)
    if not total:
        return float("nan")
    target, running = q * total, 0
    for ms, n in enumerate(hist):
        running += n
        if running >= target:
            return float(ms)
    return float(HIST_MS)


def machine_busy() -> float:
    t = psutil.cpu_times()
    return t.user + t.system + getattr(t, "nice", 0.0) + getattr(t, "softirq", 0.0)


@dataclass
class CpuWindow:
    server_pids: list[int]
    client_pids: list[int]
    started: float = 0.0
    s0: float = 0.0
    c0: float = 0.0
    m0: float = 0.0
    result: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> CpuWindow:
        self.started = time.monotonic()
        self.s0, self.c0, self.m0 = (
            cpu_of(self.server_pids),
            cpu_of(self.client_pids),
            machine_busy(),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.started
        server = cpu_of(self.server_pids) - self.s0
        client = cpu_of(self.client_pids) - self.c0
        busy = machine_busy() - self.m0
        self.result = {
            "wall_s": round(wall, 2),
            "server_cores": round(server / wall, 2),
            "client_cores": round(client / wall, 2),
            "other_cores": round(max(0.0, busy - server - client) / wall, 2),
            "machine_cores": psutil.cpu_count() or 0,
        }


def throughput_phase(
    clients: Clients,
    publish: Callable[[int], str],
    rate: float,
    duration: float,
    viewers: int,
    cpu_pids: tuple[list[int], list[int]],
) -> dict[str, Any]:
    """Offer `rate` events/s for `duration` s; count what the viewers receive."""
    clients.record()
    total = int(rate * duration)
    with CpuWindow(*cpu_pids) as cpu:
        started = time.monotonic()
        for i in range(total):
            due = started + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            publish(i)
        published_in = time.monotonic() - started
        # Drain: until nothing new arrives for 2 s (at most 20 s).
        last_events, quiet_since, deadline = -1, time.monotonic(), time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.5)
            events = sum(r.events for _, r in clients.ask(("report",)))
            if events != last_events:
                last_events, quiet_since = events, time.monotonic()
            elif time.monotonic() - quiet_since > 2:
                break
    report = clients.report()
    window = max(1e-6, report.last - started) if report.last else float("nan")
    offered = total * viewers
    return {
        "offered_events": total,
        "offered_rate_events_s": rate,
        "published_in_s": round(published_in, 2),
        "delivered": report.events,
        "delivered_ratio": round(report.events / offered, 4) if offered else None,
        "delivered_msgs_s": round(report.events / window) if report.events else 0,
        "window_s": round(window, 2),
        "p50_each_ms": hist_pct(report.hist, 0.5),
        "p99_each_ms": hist_pct(report.hist, 0.99),
        "frames": report.frames,
        "batches": report.batches,
        "resyncs": report.resyncs,
        "cpu": cpu.result,
        "server_cpu_us_per_delivery": round(
            cpu.result["server_cores"] * cpu.result["wall_s"] * 1e6 / max(1, report.events), 1
        ),
        "client_cpu_us_per_delivery": round(
            cpu.result["client_cores"] * cpu.result["wall_s"] * 1e6 / max(1, report.events), 1
        ),
    }


# --- contenders -----------------------------------------------------------------------------


def django_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        DJANGO_SETTINGS_MODULE="livecommerce.settings",
        DEBUG="0",
        TESTING="0",
        SECRET_KEY="bench-" + "x" * 50,
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CONN_MAX_AGE="60",
        LOG_LEVEL="WARNING",
        PAYMENT_SANDBOX_ALLOWED="1",  # DEBUG is off; nothing is paid here
        PYTHONPATH=str(ROOT),
        # Thousands of anonymous viewers from one address, on purpose.
        WS_ANON_PER_IP_MAX="100000",
    )
    return env


def setup_django(args: argparse.Namespace) -> dict[str, Any]:
    """Create (if needed) and migrate the bench database; a live show, a host, products."""
    import psycopg

    dbname = args.database_url.rsplit("/", 1)[1]
    admin = args.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')
    os.environ.update({k: v for k, v in django_env(args).items() if k != "PYTHONPATH"})
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    User = get_user_model()
    from catalog.models import Product, Shop, Variant
    from streams.models import Show

    stamp = str(int(time.time()))
    host = User.objects.create_user(username=f"bench-host-{stamp}", password="x")
    shop = Shop.objects.create(name=f"Bench {stamp}", owner=host)
    products = []
    for i in range(3):
        p = Product.objects.create(
            shop=shop, handle=f"p{i}-{stamp}", title=f"Bench product {i}", price="9.99"
        )
        Variant.objects.create(product=p, shop=shop, sku=f"B{i}-{stamp}", stock_on_hand=1000)
        products.append(p.pk)
    show = Show.objects.create(
        shop=shop,
        title="Bench",
        status="live",
        started_at=timezone.now(),
        scheduled_at=timezone.now(),
    )
    users = [
        User.objects.create_user(username=f"bench-v{i}-{stamp}", password="x")
        for i in range(args.signed_in)
    ]
    return {
        "show": show.pk,
        "products": products,
        "host_token": Token.objects.create(user=host).key,
        "users": [u.pk for u in users],
    }


def ours(args: argparse.Namespace, clients: Clients, fixture: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from streams import fanout
    from streams.tickets import ws_ticket_issue

    User = get_user_model()

    env = django_env(args)
    ports = [free_port(), free_port()]

    def make() -> list[Server]:
        return [live_room_server(p, env) for p in ports]

    show_id = fixture["show"]
    results: dict[str, Any] = {}
    # Production serves REST on gunicorn (`web`) beside the socket servers (`ws`): the pin
    # request then never waits behind a broadcast in the same process. Both arrangements
    # are measured: REST to gunicorn (the target's row) and REST to a socket server.
    from tests.support.processes import run_gunicorn_process

    rest_env = {k: v for k, v in env.items() if k != "CONN_MAX_AGE"}
    with (
        servers_running(make) as servers,
        run_gunicorn_process(env=rest_env, workers=2) as rest_server,
    ):
        base_urls = [f"ws://127.0.0.1:{p}/ws/shows/{show_id}/" for p in ports]
        # Warm up (imports, first queries), then measure each process's memory at rest.
        clients.connect(base_urls, 4)
        clients.close()
        time.sleep(1)
        rss0 = [s.ps.memory_info().rss for s in servers]

        # Some viewers are signed in (ticket), the rest anonymous.
        signed = [
            base_urls[i % 2]
            + "?ticket="
            + ws_ticket_issue(user=User.objects.get(pk=uid), show_id=show_id)
            for i, uid in enumerate(fixture["users"])
        ]
        opened, took = clients.connect_each(signed) if signed else (0, 0.0)
        o, t = clients.connect(base_urls, args.viewers - opened)
        opened += o
        took += t
        results["connected"] = {"viewers": opened, "seconds": round(took, 1)}
        time.sleep(2)
        server_pids = [s.proc.pid for s in servers]

        pins = iter(fixture["products"] * 1000)
        import httpx

        http = httpx.Client(timeout=30)

        def pin_via(base: Callable[[int], str]) -> Callable[[int], str]:
            def pin(_i: int) -> str:
                r = http.post(
                    f"{base(_i)}/api/v1/shows/{show_id}/pins/",
                    json={"product": next(pins)},
                    headers={"Authorization": f"Token {fixture['host_token']}"},
                )
                r.raise_for_status()
                return f"p{r.json()['id']}"

            return pin

        def tick(i: int) -> str:
            fanout.show_event_publish(  # a benchmark-only type: no audience check
                show_id=show_id, type="bench.tick", data={"id": i, "t0": time.monotonic()}
            )
            return f"t{i}"

        results["latency_rest_pin"] = latency_phase(
            clients,
            pin_via(lambda _i: rest_server.url),
            args.pins,
            args.interval,
            opened,
            [*server_pids, rest_server.pid, *rest_server.child_pids()],
        )
        results["latency_rest_pin_on_ws"] = latency_phase(
            clients,
            pin_via(lambda _i: f"http://127.0.0.1:{ports[_i % 2]}"),
            args.pins,
            args.interval,
            opened,
            server_pids,
        )
        results["latency_publish"] = latency_phase(
            clients, tick, args.pins, args.interval, opened, server_pids
        )
        results["throughput"] = throughput_phase(
            clients, tick, args.rate, args.duration, opened, (server_pids, clients.pids())
        )
        clients.close()
        time.sleep(2)

        if args.idle:
            rss_before = [s.ps.memory_info().rss for s in servers]
            o, t = clients.connect(base_urls, args.idle)
            time.sleep(3)
            rss_after = [s.ps.memory_info().rss for s in servers]
            held = sum(len(s.ps.net_connections(kind="tcp")) for s in servers)
            delta = sum(rss_after) - sum(rss_before)
            results["idle"] = {
                "viewers": o,
                "connect_seconds": round(t, 1),
                "server_tcp_connections": held,
                "rss_at_rest_mb": [round(x / 2**20, 1) for x in rss0],
                "rss_with_viewers_mb": [round(x / 2**20, 1) for x in rss_after],
                "kib_per_connection": round(delta / max(1, o) / 1024, 1),
            }
            results["idle"]["latency_publish_at_idle_count"] = latency_phase(
                clients, lambda i: tick(10_000 + i), 5, 1.0, o, server_pids
            )
            clients.close()
        http.close()
    return results


def stock(args: argparse.Namespace, clients: Clients) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(
        REDIS_URL=args.redis_url,
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="bench.fanout.stock_settings",
    )
    ports = [free_port(), free_port()]

    def make() -> list[Server]:
        return [
            start(
                "stock-channels",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.fanout.stock_app:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(p),
                    *UVICORN_FLAGS,
                ],
                env,
                p,
            )
            for p in ports
        ]

    import asyncio

    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[args.redis_url])
    loop = asyncio.new_event_loop()

    def send(i: int) -> str:
        text = json.dumps(
            {"type": "bench.tick", "ts": "", "data": {"id": i, "t0": time.monotonic()}}
        )
        loop.run_until_complete(layer.group_send("room", {"type": "room.message", "text": text}))
        return f"t{i}"

    results: dict[str, Any] = {}
    with servers_running(make) as servers:
        urls = [f"ws://127.0.0.1:{p}/ws/room/" for p in ports]
        o, t = clients.connect(urls, args.viewers, wait_first=False)
        results["connected"] = {"viewers": o, "seconds": round(t, 1)}
        time.sleep(3)
        results["latency_publish"] = latency_phase(
            clients, send, args.pins, args.interval, o, [s.proc.pid for s in servers]
        )
        results["throughput"] = throughput_phase(
            clients,
            send,
            args.rate,
            args.duration,
            o,
            ([s.proc.pid for s in servers], clients.pids()),
        )
        clients.close()
    loop.run_until_complete(layer.flush())
    loop.close()
    return results


def raw(args: argparse.Namespace, clients: Clients) -> dict[str, Any]:
    import redis

    channel = f"lc-bench-raw-{os.getpid()}"
    ports = [free_port(), free_port()]

    def make() -> list[Server]:
        return [
            start(
                "raw",
                [
                    sys.executable,
                    str(ROOT / "bench/fanout/raw_server.py"),
                    str(p),
                    args.redis_url,
                    channel,
                ],
                dict(os.environ),
                p,
            )
            for p in ports
        ]

    r = redis.Redis.from_url(args.redis_url)

    def send(i: int) -> str:
        r.publish(
            channel,
            json.dumps({"type": "bench.tick", "ts": "", "data": {"id": i, "t0": time.monotonic()}}),
        )
        return f"t{i}"

    results: dict[str, Any] = {}
    with servers_running(make) as servers:
        urls = [f"ws://127.0.0.1:{p}/" for p in ports]
        o, t = clients.connect(urls, args.viewers, wait_first=False)
        results["connected"] = {"viewers": o, "seconds": round(t, 1)}
        time.sleep(3)
        results["latency_publish"] = latency_phase(
            clients, send, args.pins, args.interval, o, [s.proc.pid for s in servers]
        )
        results["throughput"] = throughput_phase(
            clients,
            send,
            args.rate,
            args.duration,
            o,
            ([s.proc.pid for s in servers], clients.pids()),
        )
        clients.close()
    return results


# --- report ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(res: dict[str, Any]) -> str:
    m, args = res["machine"], res["args"]
    o, s, r = res.get("ours", {}), res.get("stock", {}), res.get("raw", {})
    lines = [
        START,
        "## Fan-out (live room)",
        "",
        f"Run {res['when']} with `python bench/fanout/run.py"
        + (" --quick" if args.get("quick") else "")
        + "`: "
        f"{args['viewers']} viewers over 2 server processes per contender, "
        f"{args['clients']} load-client processes, all on 127.0.0.1.",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
        f"load average at start {m['load_avg_at_start']} (the cores are shared with other "
        "engineers' test runs: expect noise).",
        "",
        "| contender | p50 → last viewer | p99 → last viewer | p99 each viewer "
        "| server CPU per event | delivered msgs/s | delivered / offered "
        "| server CPU µs per delivery | server / client / other cores |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def row(name: str, part: dict[str, Any], lat_key: str = "latency_publish") -> str:
        lat, thr = part.get(lat_key, {}), part.get("throughput", {})
        cpu = thr.get("cpu", {})
        return (
            f"| {name} | {lat.get('p50_to_last_ms')} ms | {lat.get('p99_to_last_ms')} ms | "
            f"{lat.get('p99_each_ms')} ms | {lat.get('server_cpu_ms_per_event')} ms | "
            f"{thr.get('delivered_msgs_s', '-')} | {thr.get('delivered_ratio', '-')} | "
            f"{thr.get('server_cpu_us_per_delivery', '-')} | {cpu.get('server_cores', '-')} / "
            f"{cpu.get('client_cores', '-')} / {cpu.get('other_cores', '-')} |"
        )

    if o:
        rest = {**o, "throughput": {}}  # the sustained figures are the row below
        lines.append(
            row("live room: REST pin (gunicorn `web`) → `pin.changed`", rest, "latency_rest_pin")
        )
        lines.append(
            row(
                "live room: REST pin (to a uvicorn socket server) → `pin.changed`",
                rest,
                "latency_rest_pin_on_ws",
            )
        )
        lines.append(row("live room: publish → event", o))
    if s:
        lines.append(row("stock Channels `group_send`", s))
    if r:
        lines.append(row("raw `websockets` + PUBLISH", r))
    lines.append("")
    lines += verdicts(res)
    lines += [
        "",
        "<details><summary>All figures (results.json)</summary>",
        "",
        "```json",
        json.dumps({k: v for k, v in res.items() if k != "markdown"}, indent=1),
        "```",
        "",
        "</details>",
        END,
    ]
    return "\n".join(lines)


def verdicts(res: dict[str, Any]) -> list[str]:
    o, s, r = res.get("ours", {}), res.get("stock", {}), res.get("raw", {})
    out = ["Targets:"]
    p99 = o.get("latency_rest_pin", {}).get("p99_to_last_ms")
    if p99 is not None:
        out.append(
            f"- p99 REST pin → last of {o['connected']['viewers']} viewers ≤ 250 ms: "
            f"{p99} ms — {'met' if p99 <= 250 else 'MISSED'}."
        )
    ours_rate = o.get("throughput", {}).get("delivered_msgs_s")
    if ours_rate and s.get("throughput", {}).get("delivered_msgs_s"):
        ratio = ours_rate / s["throughput"]["delivered_msgs_s"]
        out.append(
            f"- delivered ≥ 3x stock Channels: {ratio:.1f}x — {'met' if ratio >= 3 else 'MISSED'}."
        )
    if ours_rate and r.get("throughput", {}).get("delivered_msgs_s"):
        ratio = ours_rate / r["throughput"]["delivered_msgs_s"]
        out.append(
            f"- delivered ≥ 0.5x raw server: {ratio:.2f}x — {'met' if ratio >= 0.5 else 'MISSED'}."
        )
    idle = o.get("idle")
    if idle:
        out.append(
            f"- {idle['viewers']} idle viewers held by 2 processes "
            f"({idle['server_tcp_connections']} server-side sockets), "
            f"{idle['kib_per_connection']} KiB per connection."
        )
    for name, part in (("live room", o), ("stock Channels", s), ("raw", r)):
        cpu = part.get("throughput", {}).get("cpu")
        if not cpu:
            continue
        if cpu["client_cores"] >= cpu["server_cores"] and cpu["client_cores"] > 0.8:
            out.append(
                f"- {name}: the load clients used {cpu['client_cores']} cores against "
                f"the servers' {cpu['server_cores']}: the client side was the bottleneck "
                "(or shared it) on this 2-core machine."
            )
    return out


def write_docs(text: str) -> None:
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if START in current and END in current:
        before, rest = current.split(START, 1)
        after = rest.split(END, 1)[1]
        current = before + text + after
    else:
        current = current.rstrip() + "\n\n" + text + "\n"
    DOCS.write_text(current)


def default_database_url() -> str:
    """BENCH_DATABASE_URL, else DATABASE_URL's server with a database of its own."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/livecommerce")
    server, _, rest = base.rpartition("/")
    query = rest.partition("?")[2]
    return f"{server}/lc_bench" + (f"?{query}" if query else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--signed-in", type=int, default=100)
    parser.add_argument("--pins", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--only", choices=["ours", "stock", "raw"], action="append")
    parser.add_argument("--quick", action="store_true", help="500 viewers, 1,000 idle, short")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--database-url",
        default=default_database_url(),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get(
            "BENCH_REDIS_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
        ),
    )
    args = parser.parse_args()
    if args.quick:
        args.viewers, args.idle, args.pins, args.duration = 500, 1000, 10, 4.0
        args.signed_in = min(args.signed_in, 20)

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.environ["UVICORN_WS_PER_MESSAGE_DEFLATE"] = "false"

    res: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "args": {k: v for k, v in vars(args).items() if "url" not in k},
    }
    only = set(args.only or ["ours", "stock", "raw"])
    fixture = setup_django(args)
    clients = Clients(args.clients)
    try:
        if "ours" in only:
            print("live room ...", flush=True)
            res["ours"] = ours(args, clients, fixture)
            print(json.dumps(res["ours"], indent=1), flush=True)
        if "stock" in only:
            print("stock Channels ...", flush=True)
            res["stock"] = stock(args, clients)
            print(json.dumps(res["stock"], indent=1), flush=True)
        if "raw" in only:
            print("raw websockets ...", flush=True)
            res["raw"] = raw(args, clients)
            print(json.dumps(res["raw"], indent=1), flush=True)
    finally:
        clients.exit()
    res["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = markdown(res)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=1))
    if not args.no_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
