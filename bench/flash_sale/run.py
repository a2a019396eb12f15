"""Flash-sale benchmark: one command, one run, same server processes for every phase.

    python bench/flash_sale/run.py [--duration 8] [--connections 16] [--no-docs]

What it does (docs/benchmarks.md, "Flash sale"):
1. Creates a bench database (dropped at the end) and a private redis-server, migrates,
   seeds a shop, live shows with pinned products and buyers with API tokens.
2. Starts uvicorn with 2 workers (bench settings: the product plus `POST /api/bench/noop/`,
   a DRF no-op with the same authentication) and, later, a Celery worker.
3. HTTP phases from separate load-generator processes (raw asyncio HTTP/1.1, 127.0.0.1):
   the no-op, buy (one hot variant), buy with an Idempotency-Key, a buy of a sold-out
   variant (answered by the sold-out gate, orders/soldout.py), and a count-bounded flash
   sale of a limited stock.
4. The hold gate alone with pgbench: `SELECT 1`, an uncontended one-row UPDATE, and the
   gate's conditional UPDATE on one hot row.
5. hold → paid latency through Celery (one-tap buys, sandbox_ok) against a raw Redis
   LPUSH/BRPOP round trip.
6. After every phase: no oversell (0 <= held <= on hand, held equals the active holds,
   units sold plus held never above the stock).
7. A profile of the server (py-spy, else none) when buy misses 0.7x the no-op, or always
   with --profile.
Figures go to stdout and, unless --no-docs, into docs/benchmarks.md between markers.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import multiprocessing
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from bench.flash_sale.loadgen import ClientJob, ClientResult, render, run_client  # noqa: E402

DOC = REPO_ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- flash-sale:begin -->", "<!-- flash-sale:end -->"
# Targets, as ratios to the bare DRF no-op on the same server (issue 8).
AUTH_TARGET, TARGET, MOONSHOT = 0.6, 0.5, 1.0
FLASH_P99_TARGET_MS = 2000.0
WORKERS = 2  # processes per server, as in production (WEB_CONCURRENCY)
THREADS = 4  # gunicorn gthread threads per process (WEB_THREADS)
# The two ways of serving the product's HTTP measured in one run (docs/operations.md,
# "Serving HTTP"): uvicorn (ASGI, Django's sync views through a thread hand-off) and
# gunicorn gthread (WSGI, WORKERS x THREADS). Each has its own bare floor.
SERVERS = ("uvicorn", "gunicorn")
PRODUCT_SERVER = "gunicorn"  # what production runs: Celery and profile phases use it
REFERENCE = (
    "Reference figures measured before this project existed (2 uvicorn workers): a DRF "
    "no-op ~755 req/s, a DRF view holding stock with a Redis Lua script ~586 req/s (0.78x), "
    "an async Django no-op ~1.4x the DRF one; Redis EVALSHA ~52k/s; a PostgreSQL hot-row "
    "conditional UPDATE ~1.9k tps."
)


# --------------------------------------------------------------------------- small utils


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    mem = next((ln.split()[1] for ln in free.splitlines() if ln.startswith("Mem:")), "?")
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "free_h": free,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --------------------------------------------------------------------------- environment


def bench_env(database_url: str, redis_url: str) -> dict[str, str]:
    """Production-like settings for every process of the run (DEBUG off, no test mode),
    except what a benchmark on loopback needs: no HTTPS redirect, quiet logs, throttles
    high enough not to answer 429 to a load generator that is one IP and few users."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.flash_sale.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "TESTING": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_BUY_USER": "100000/s",
        "THROTTLE_BUY_IP": "100000/s",
        "HOLD_TTL_SECONDS": "3600",
        "PAYMENT_STUCK_SECONDS": "60",
        "PAYMENT_SANDBOX_ALLOWED": "1",  # DEBUG is off; the benchmark pays with the sandbox
        # As production runs the servers (README "Configuration"): a connection pool per
        # process sized for gunicorn's threads plus the live-event relay thread.
        "DB_POOL_MAX_SIZE": "5",
        "LIVE_EVENTS_RELAY": "1",
    }


def database_urls(name: str) -> tuple[str, str]:
    """(maintenance URL, bench database URL) on the server of DATABASE_URL."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/livecommerce")
    parts = urlsplit(base)
    maintenance = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    bench = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    return maintenance, bench


@contextlib.contextmanager
def bench_database(name: str) -> Any:
    import psycopg

    maintenance, url = database_urls(name)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped database {name}")


# --------------------------------------------------------------------------- data


@dataclass
class Sale:
    show_id: int
    product_id: int
    variant_id: int
    stock: int


@dataclass
class World:
    hot: Sale  # throughput phases: a big stock on one variant (one hot row)
    flash: dict[str, Sale]  # per server: a count-bounded sale of a small stock
    sold_out: Sale  # no stock: every buy is refused 409 sold_out (the sold-out gate's path)
    latency: Sale  # one-tap buys through Celery
    gate_variant: int  # pgbench's hot row
    tokens: list[str]
    one_tap_tokens: list[str]


def seed(*, buyers: int, one_tap: int, flash_stock: int) -> World:
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from catalog.models import Variant
    from catalog.services import product_create, shop_create
    from orders.services import address_add, payment_method_add
    from streams.models import Pin, Show

    user_model = get_user_model()
    owner = user_model.objects.create_user("bench-owner")
    shop = shop_create(owner=owner, name="Bench shop")
    now = timezone.now()

    def product(title: str, stock: int) -> Any:
        return product_create(
            shop=shop,
            actor=owner,
            title=title,
            price=Decimal("9.99"),
            sku=f"SKU-{title}",
            stock_on_hand=stock,
            weight_grams=200,
        )

    def sale(title: str, stock: int) -> Sale:
        show = Show.objects.create(
            shop=shop, title=title, status="live", scheduled_at=now, started_at=now
        )
        item = product(title, stock)
        Pin.objects.create(show=show, product=item, pinned_at=now)
        variant = Variant.objects.get(product=item)
        return Sale(show.pk, item.pk, variant.pk, stock)

    users = user_model.objects.bulk_create(
        [user_model(username=f"buyer{i}", password="!") for i in range(buyers + one_tap)]
    )
    tokens = Token.objects.bulk_create([Token(user=u, key=secrets.token_hex(20)) for u in users])
    address = {
        "name": "Bench Buyer",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    }
    for u in users[buyers:]:
        payment_method_add(user=u, token="sandbox_ok")
        address_add(user=u, data=address)
    gate = product("gate", 10**9)
    return World(
        hot=sale("hot", 10**7),
        flash={label: sale(f"flash-{label}", flash_stock) for label in SERVERS},
        sold_out=sale("sold-out", 0),
        latency=sale("latency", one_tap * 2),
        gate_variant=Variant.objects.get(product=gate).pk,
        tokens=[t.key for t in tokens[:buyers]],
        one_tap_tokens=[t.key for t in tokens[buyers:]],
    )


def check_stock(sale: Sale, label: str) -> dict[str, int]:
    """No oversell for one variant; returns its figures. Raises if an invariant broke."""
    from django.db.models import Sum

    from catalog.models import Variant
    from orders.models import Hold, Order

    v = Variant.objects.get(pk=sale.variant_id)
    active = Hold.objects.filter(variant_id=v.pk, status="active").aggregate(n=Sum("quantity"))
    paid = Order.objects.filter(variant_id=v.pk, status="paid").aggregate(n=Sum("quantity"))
    held, sold = int(active["n"] or 0), int(paid["n"] or 0)
    oversold = max(0, held + sold - sale.stock)
    figures = {"on_hand": v.stock_on_hand, "held": v.held, "sold": sold, "oversold": oversold}
    problems = []
    if not 0 <= v.held <= v.stock_on_hand:
        problems.append("held outside [0, on hand]")
    if v.held != held:
        problems.append(f"held {v.held} != active holds {held}")
    if v.stock_on_hand != sale.stock - sold:
        problems.append(f"on hand {v.stock_on_hand} != stock - sold {sale.stock - sold}")
    if oversold:
        problems.append(f"{oversold} units oversold")
    if problems:
        raise SystemExit(f"INVARIANT BROKEN after {label}: {problems} {figures}")
    log(f"  stock after {label}: {figures}")
    return figures


# --------------------------------------------------------------------------- HTTP phases


@dataclass
class Phase:
    name: str
    requests: int
    wall_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    errors: int
    client_cpu_s: float
    server_cpu_s: float
    machine_busy: float  # share of all cores busy during the phase (everyone's load)
    clients: int
    latencies: list[float] = field(default_factory=list, repr=False)
    answered_at: list[float] = field(default_factory=list, repr=False)
    answered_status: list[int] = field(default_factory=list, repr=False)
    server: str = ""

    @property
    def p99_from_start_ms(self) -> float:
        """p99 of the time from the start of the phase (the burst) to each answer."""
        return pct(self.answered_at, 99) * 1000

    def last_with_ms(self, status: int) -> float:
        """When the last answer with `status` came, from the start of the phase."""
        times = [
            t for t, s in zip(self.answered_at, self.answered_status, strict=True) if s == status
        ]
        return max(times) * 1000 if times else float("nan")

    @property
    def last_ms(self) -> float:
        return max(self.answered_at) * 1000 if self.answered_at else float("nan")

    @property
    def server_cpu_ms(self) -> float:
        """uvicorn workers' CPU per answered request: the cost, less noisy than req/s."""
        return self.server_cpu_s * 1000 / self.requests if self.requests else float("nan")

    @property
    def client_share(self) -> float:
        total = self.client_cpu_s + self.server_cpu_s
        return self.client_cpu_s / total if total else 0.0

    @property
    def client_bound(self) -> bool:
        # A client process near a full core cannot send faster: the figure is the
        # client's, not the server's.
        return self.client_cpu_s / max(self.wall_s, 1e-9) / self.clients > 0.85


class Http:
    def __init__(self, server: Any, *, label: str, clients: int, connections: int) -> None:
        import psutil

        self.server = server
        self.label = label
        self.port = int(server.url.rsplit(":", 1)[1])
        self.clients = clients
        self.connections = connections
        self.pool = multiprocessing.get_context("spawn").Pool(clients)
        self._psutil = psutil

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()

    def _server_cpu(self) -> float:
        total = 0.0
        for pid in [self.server.pid, *self.server.child_pids()]:
            with contextlib.suppress(self._psutil.Error):
                t = self._psutil.Process(pid).cpu_times()
                total += t.user + t.system
        return total

    def run(
        self,
        name: str,
        requests: list[bytes],
        *,
        duration: float = 0.0,
        once: bool = False,
        templated: bool = False,
        connections: int | None = None,
        interval: float = 0.0,
    ) -> Phase:
        conns = connections or self.connections
        per_client = max(1, conns // self.clients)
        start_at = time.time() + 0.5
        jobs = []
        for k in range(self.clients):
            share = requests[k :: self.clients] if once else requests[k:] + requests[:k]
            jobs.append(
                ClientJob(
                    host="127.0.0.1",
                    port=self.port,
                    requests=share,
                    connections=per_client,
                    duration=duration,
                    once=once,
                    start_at=start_at,
                    templated=templated,
                    tag=f"{name}-{k}-{secrets.token_hex(4)}",
                    interval=interval,
                )
            )
        cpu0, busy0 = self._server_cpu(), self._psutil.cpu_times()
        results: list[ClientResult] = self.pool.map(run_client, jobs)
        cpu1, busy1 = self._server_cpu(), self._psutil.cpu_times()
        latencies = [x for r in results for x in r.latencies]
        answered_at = [x for r in results for x in r.answered_at]
        answered_status = [x for r in results for x in r.answered_status]
        statuses: collections.Counter[int] = collections.Counter()
        for r in results:
            statuses.update(r.statuses)
        wall = max(r.wall_s for r in results)
        idle = (busy1.idle + busy1.iowait) - (busy0.idle + busy0.iowait)
        total = sum(busy1) - sum(busy0)
        phase = Phase(
            name=name,
            requests=len(latencies),
            wall_s=wall,
            rps=len(latencies) / wall if wall else 0.0,
            p50_ms=pct(latencies, 50) * 1000,
            p99_ms=pct(latencies, 99) * 1000,
            statuses=dict(sorted(statuses.items())),
            errors=sum(r.errors for r in results),
            client_cpu_s=sum(r.cpu_s for r in results),
            server_cpu_s=cpu1 - cpu0,
            machine_busy=1 - idle / total if total else 0.0,
            clients=self.clients,
            latencies=latencies,
            answered_at=answered_at,
            answered_status=answered_status,
            server=self.label,
        )
        log(
            f"  {self.label} {name}: {phase.rps:.0f} req/s, p50 {phase.p50_ms:.1f} ms, "
            f"p99 {phase.p99_ms:.1f} ms, statuses {phase.statuses}, errors {phase.errors}, "
            f"client CPU {phase.client_cpu_s:.1f} s, server CPU {phase.server_cpu_s:.1f} s, "
            f"machine busy {phase.machine_busy:.0%}"
        )
        return phase


def interleaved(
    named: dict[str, tuple[str, Http, list[bytes], bool]], *, duration: float, rounds: int
) -> dict[str, Phase]:
    """Run the phases in turn, `rounds` times each, and merge each one's rounds: load from
    other processes on a shared machine then falls on every phase (and server) alike."""
    runs: dict[str, list[Phase]] = {key: [] for key in named}
    for _ in range(rounds):
        for key, (name, http, requests, templated) in named.items():
            runs[key].append(
                http.run(name, requests, duration=duration / rounds, templated=templated)
            )
    return {key: merge(phases) for key, phases in runs.items()}


def merge(phases: list[Phase]) -> Phase:
    latencies = [x for p in phases for x in p.latencies]
    statuses: Counter[int] = Counter()
    for p in phases:
        statuses.update(p.statuses)
    wall = sum(p.wall_s for p in phases)
    cpu = sum(p.server_cpu_s for p in phases)
    return Phase(
        name=phases[0].name,
        requests=len(latencies),
        wall_s=wall,
        rps=len(latencies) / wall if wall else 0.0,
        p50_ms=pct(latencies, 50) * 1000,
        p99_ms=pct(latencies, 99) * 1000,
        statuses=dict(sorted(statuses.items())),
        errors=sum(p.errors for p in phases),
        client_cpu_s=sum(p.client_cpu_s for p in phases),
        server_cpu_s=cpu,
        machine_busy=sum(p.machine_busy * p.wall_s for p in phases) / wall if wall else 0.0,
        clients=phases[0].clients,
        latencies=latencies,
        answered_at=[x for p in phases for x in p.answered_at],
        answered_status=[x for p in phases for x in p.answered_status],
        server=phases[0].server,
    )


def buy_requests(sale: Sale, tokens: list[str], *, with_key: bool = False) -> list[bytes]:
    body = json.dumps({"product": sale.product_id}).encode()
    headers = {"Idempotency-Key": "{n}"} if with_key else None
    return [
        render("POST", f"/api/v1/shows/{sale.show_id}/buy/", token=t, body=body, headers=headers)
        for t in tokens
    ]


def noop_requests(tokens: list[str]) -> list[bytes]:
    body = json.dumps({"product": 1}).encode()
    return [render("POST", "/api/bench/noop/", token=t, body=body) for t in tokens]


# --------------------------------------------------------------------------- pgbench


@dataclass
class PgPhase:
    name: str
    tps: float
    p50_ms: float
    p99_ms: float


def pg_loop(database_url: str, name: str, script: str, *, seconds: int, clients: int) -> PgPhase:
    """pgbench's stand-in when it is not installed: `clients` threads, each with its own
    autocommit connection, run the statement in a loop (`:client_id` is the thread's
    number). Slower than pgbench (the GIL), so the ratios between statements are what
    count."""
    import threading

    import psycopg

    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(client_id: int) -> None:
        sql = script.replace(":client_id", str(client_id)).strip().rstrip(";")
        mine = []
        with psycopg.connect(database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                conn.execute(sql).fetchall()
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase = PgPhase(name, len(latencies) / seconds, pct(latencies, 50), pct(latencies, 99))
    log(f"  loop {name}: {phase.tps:.0f} tps, p50 {phase.p50_ms:.2f} ms (pgbench not found)")
    return phase


def pgbench(database_url: str, name: str, script: str, *, seconds: int, clients: int) -> PgPhase:
    if shutil.which("pgbench") is None:
        return pg_loop(database_url, name, script, seconds=seconds, clients=clients)
    parts = urlsplit(database_url)
    workdir = Path(tempfile.mkdtemp(prefix="lc-pgbench-"))
    try:
        (workdir / "script.sql").write_text(script)
        args = [
            "pgbench",
            "-n",
            "-f",
            str(workdir / "script.sql"),
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-l",
            "--log-prefix",
            str(workdir / "tx"),
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
            parts.path.lstrip("/"),
        ]
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120)
        match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
        tps = float(match.group(1)) if match else float("nan")
        latencies = []
        for f in workdir.glob("tx*"):
            for line in f.read_text().splitlines():
                cols = line.split()
                if len(cols) >= 3:
                    latencies.append(int(cols[2]) / 1000)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    phase = PgPhase(name, tps, pct(latencies, 50), pct(latencies, 99))
    log(f"  pgbench {name}: {tps:.0f} tps, p50 {phase.p50_ms:.2f} ms, p99 {phase.p99_ms:.2f} ms")
    return phase


def gate_phases(world: World, database_url: str, seconds: int) -> list[PgPhase]:
    from django.db import connection

    from catalog.models import Variant

    with connection.cursor() as cur:
        cur.execute("CREATE TABLE bench_rows (id int PRIMARY KEY, n bigint NOT NULL)")
        cur.execute("INSERT INTO bench_rows SELECT g, 0 FROM generate_series(1, 64) g")
    gate = (
        "UPDATE catalog_variant SET held = held + 1 "
        f"WHERE id = {world.gate_variant} AND stock_on_hand - held >= 1 "
        "RETURNING stock_on_hand - held;\n"
    )
    phases = [
        pgbench(database_url, "SELECT 1", "SELECT 1;\n", seconds=seconds, clients=8),
        pgbench(
            database_url,
            "UPDATE own row (no contention)",
            "UPDATE bench_rows SET n = n + 1 WHERE id = :client_id + 1;\n",
            seconds=seconds,
            clients=8,
        ),
        pgbench(database_url, "gate: hot-row conditional UPDATE", gate, seconds=seconds, clients=8),
    ]
    v = Variant.objects.get(pk=world.gate_variant)
    assert 0 <= v.held <= v.stock_on_hand, (v.held, v.stock_on_hand)
    log(f"  gate row after pgbench: held {v.held} of {v.stock_on_hand} (reset to 0)")
    Variant.objects.filter(pk=v.pk).update(held=0)
    return phases


# --------------------------------------------------------------------------- Celery


def _echo(url: str, n: int) -> None:
    import redis

    r = redis.Redis.from_url(url)
    for _ in range(n):
        _, msg = r.brpop(["bench:q1"])
        r.lpush("bench:q2", msg)


def redis_round_trip(url: str, n: int = 2000) -> tuple[float, float]:
    """p50, p99 (ms) of LPUSH to a queue, BRPOP in another process, LPUSH back, BRPOP."""
    import redis

    echo = multiprocessing.get_context("spawn").Process(target=_echo, args=(url, n))
    echo.start()
    r = redis.Redis.from_url(url)
    samples = []
    try:
        for i in range(n):
            started = time.perf_counter()
            r.lpush("bench:q1", i)
            r.brpop(["bench:q2"], timeout=10)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        echo.join(timeout=10)
        if echo.is_alive():
            echo.terminate()
    return pct(samples, 50), pct(samples, 99)


def celery_latency(world: World, http: Http, env: dict[str, str]) -> dict[str, Any]:
    from orders.models import Order, PaymentAttempt, SandboxCharge
    from tests.support.processes import run_celery_worker

    sale = world.latency
    with run_celery_worker(env=env, concurrency=2, extra_args=["--loglevel", "WARNING"]):
        phase = http.run(
            "one-tap buys (paced, 50/s)",
            buy_requests(sale, world.one_tap_tokens),
            once=True,
            connections=2,
            interval=0.04,
        )
        expected = phase.statuses.get(201, 0)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            paid = Order.objects.filter(variant_id=sale.variant_id, status="paid").count()
            if paid >= expected:
                break
            time.sleep(0.2)
    orders = list(Order.objects.filter(variant_id=sale.variant_id))
    latencies = [(o.paid_at - o.created_at).total_seconds() * 1000 for o in orders if o.paid_at]
    not_paid = [o.pk for o in orders if o.status != "paid"]
    captures = PaymentAttempt.objects.filter(order__in=orders, status="succeeded").count()
    charges = SandboxCharge.objects.filter(kind="capture").count()
    if not_paid or captures != len(orders) or charges != len(orders):
        raise SystemExit(
            f"INVARIANT BROKEN in Celery phase: not paid {not_paid[:10]}, "
            f"{captures} captures and {charges} charges for {len(orders)} orders"
        )
    figures = {
        "orders": len(orders),
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
    }
    log(
        f"  hold -> paid: {figures['orders']} orders, p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms"
    )
    figures["stock"] = check_stock(sale, "one-tap buys through Celery")
    return figures


# --------------------------------------------------------------------------- profile


def record_stacks(http: Http, name: str, requests: list[bytes], seconds: float) -> Profile:
    """Run one phase while py-spy samples every uvicorn worker (idle threads included:
    the classification below tells waiting from working)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return Profile(name, None, Counter(), Counter(), 0)
    workdir = Path(tempfile.mkdtemp(prefix="lc-pyspy-"))
    procs = []
    try:
        for pid in http.server.child_pids():
            args = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds) + 1)]
            args += ["--rate", str(SAMPLE_HZ), "--idle", "--format", "raw"]
            args += ["--output", str(workdir / f"{pid}.txt")]
            procs.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        time.sleep(0.5)  # let py-spy attach before the load starts
        phase = http.run(name, requests, duration=seconds)
        for p in procs:
            p.wait(timeout=60)
        if os.environ.get("BENCH_KEEP_PROFILE"):
            keep = Path(os.environ["BENCH_KEEP_PROFILE"])
            keep.mkdir(parents=True, exist_ok=True)
            for f in workdir.glob("*.txt"):
                shutil.copy(f, keep / f"{name.split()[0]}-{f.name}")
        return classify_stacks(name, phase, list(workdir.glob("*.txt")))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(workdir, ignore_errors=True)


SAMPLE_HZ = 100

# Steps of a request, found anywhere in a sampled stack (inclusive time).
STEPS = [
    ("opening (or borrowing) a PostgreSQL connection", r"ensure_connection|connect \(psycopg"),
    ("token authentication", r"rest_framework/authentication\.py"),
    ("throttles (Redis)", r"rest_framework/throttling\.py|check_throttles \("),
    ("the buy service `hold_create`", r"hold_create \(orders/services"),
    ("- sold-out gate (Redis)", r"sold_out_known \("),
    ("- show, pin, product, variant checks", r"resolve_offer \("),
    ("- unlocked stock pre-check", r"sold_out_confirm \("),
    ("- default payment method and address", r"saved_defaults \("),
    ("- shipping quote", r"shipping_fee_quote \("),
    ("- hold INSERT", r"hold_create \([^;]*\);[^;]*manager_method[^;]*;QuerySet\.create"),
    ("- the gate UPDATE", r"reserve \(orders/inventory"),
    ("- COMMIT, with the after-commit events", r"hold_create \([^;]*\);Atomic\.__exit__"),
    ("- of which the live-room events (`streams.fanout`)", r"hold_create \(.*streams/fanout\.py"),
    ("answer serialization and rendering", r"rest_framework/(serializers|fields|renderers)\.py"),
]


@dataclass
class Profile:
    name: str
    phase: Phase | None
    steps: Counter[str]  # samples of the request thread per step (inclusive)
    doing: Counter[str]  # samples of the request thread by what it was doing
    samples: int  # samples of the request thread in all

    def ms_per_request(self, samples: int) -> float:
        """Request-thread time per request: each sample stands for 1/SAMPLE_HZ s of one
        thread (Django gives every request its own thread for its synchronous part)."""
        if not self.phase or not self.phase.requests:
            return float("nan")
        return samples * 1000 / SAMPLE_HZ / self.phase.requests


def _doing(stack: str) -> str:
    leaf = stack.rsplit(";", 1)[-1]
    if "psycopg" in leaf:
        return "waiting for PostgreSQL"
    if "redis" in leaf:
        return "waiting for Redis"
    if "Condition.wait" in leaf or "threading.py" in leaf:
        return "waiting for the event loop (sync/async hand-offs)"
    return "running Python"


def classify_stacks(name: str, phase: Phase, files: list[Path]) -> Profile:
    steps: Counter[str] = Counter()
    doing: Counter[str] = Counter()
    total = 0
    for f in files:
        for line in f.read_text().splitlines():
            stack, _, count_s = line.rpartition(" ")
            # Only the request thread: a worker thread running Django's handler chain.
            if not count_s.isdigit() or "django/core/handlers" not in stack:
                continue
            if "concurrent/futures/thread.py" not in stack:
                continue
            count = int(count_s)
            total += count
            doing[_doing(stack)] += count
            for label, pattern in STEPS:
                if re.search(pattern, stack):
                    steps[label] += count
    return Profile(name, phase, steps, doing, total)


def profile_report(noop: Profile, buy: Profile) -> list[str]:
    if buy.phase is None or noop.phase is None:
        return ["(py-spy is not installed: `pip install py-spy==0.4.3` for a profile)"]
    lines = [
        f"py-spy sampled both {PRODUCT_SERVER} workers at {SAMPLE_HZ} Hz during one more no-op and "
        f"one more buy phase ({noop.phase.rps:.0f} and {buy.phase.rps:.0f} req/s; server "
        f"CPU {noop.phase.server_cpu_ms:.1f} and {buy.phase.server_cpu_ms:.1f} ms per "
        "request). Each request runs in a thread (gunicorn's, or the one uvicorn hands "
        "Django's synchronous part to); below is where that thread's time goes, in ms per "
        "request (wall time, so waits include waiting for a CPU on a busy machine).",
        "",
        "| the request thread is | no-op ms | buy ms |",
        "|---|---:|---:|",
    ]
    kinds = [
        "running Python",
        "waiting for PostgreSQL",
        "waiting for Redis",
        "waiting for the event loop (sync/async hand-offs)",
    ]
    for kind in kinds:
        lines.append(
            f"| {kind} | {noop.ms_per_request(noop.doing[kind]):.1f} | "
            f"{buy.ms_per_request(buy.doing[kind]):.1f} |"
        )
    lines.append(
        f"| **all** | **{noop.ms_per_request(noop.samples):.1f}** | "
        f"**{buy.ms_per_request(buy.samples):.1f}** |"
    )
    lines += ["", "| step (inclusive) | no-op ms | buy ms |", "|---|---:|---:|"]
    for label, _ in STEPS:
        lines.append(
            f"| {label} | {noop.ms_per_request(noop.steps[label]):.1f} | "
            f"{buy.ms_per_request(buy.steps[label]):.1f} |"
        )
    return lines


def queries_per_request(world: World) -> dict[str, int]:
    """SQL statements one buy and one no-op run (in process, same settings)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {world.tokens[-1]}")
    counts = {}
    for label, path, body in [
        ("no-op", "/api/bench/noop/", {"product": 1}),
        ("buy", f"/api/v1/shows/{world.hot.show_id}/buy/", {"product": world.hot.product_id}),
    ]:
        with CaptureQueriesContext(connection) as ctx:
            r = client.post(path, body, content_type="application/json")
        assert r.status_code == 201, (label, r.status_code, r.content[:300])
        counts[label] = len(ctx.captured_queries)
        for q in ctx.captured_queries:
            log(f"  {label} SQL: {q['sql'][:150]}")
    return counts


# --------------------------------------------------------------------------- report


def _ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}x" if floor else "-"


def _verdict(value: float, target: float) -> str:
    return "met" if value >= target else "**MISSED**"


def report(
    info: dict[str, str],
    load_end: str,
    args: argparse.Namespace,
    phases: dict[str, Phase],
    gate: list[PgPhase],
    celery: dict[str, Any],
    redis_rtt: tuple[float, float],
    stocks: dict[str, dict[str, int]],
    profile: list[str],
    *,
    queries: dict[str, int],
    elapsed: float,
) -> str:
    out = [
        BEGIN,
        "## Flash sale (checkout hot path)",
        "",
        "Run: `python bench/flash_sale/run.py` (or `make bench-flash-sale`); about "
        f"{elapsed / 60:.0f} min. Not run in CI. Figures below are from one run on "
        f"{info['date']}; rerunning replaces this section.",
        "",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']} RAM, Python "
        f"{info['python']}; load average {info['load']} at start, {load_end} at the end. "
        "The machine is shared with other engineers and noisy: compare the ratios within "
        "this run, not absolute figures across runs.",
        "",
        f"Setup: four servers up at once, each with {WORKERS} processes: the bare DRF no-op "
        "(`bench/flash_sale/bare.py`: no middleware, no database, no authentication) and "
        "the product (production settings, DEBUG off), each served by uvicorn (ASGI) and by "
        f"gunicorn gthread (WSGI, {THREADS} threads per process). A private redis-server, a "
        f"bench database created and dropped by the run. Load from {args.clients} separate "
        f"processes (raw asyncio HTTP/1.1, keep-alive, {args.connections} connections in "
        f"all), {args.duration:.0f} s per timed phase, every phase of every server "
        f"interleaved in {args.rounds} rounds so the other engineers' load falls on each "
        "alike, 127.0.0.1 only. Throttles stay on with rates raised so that the single "
        "client IP is not answered 429.",
        "",
        "### HTTP: every figure against the bare no-op on the same server",
        "",
        "| server | phase | req/s | vs bare | p50 ms | p99 ms | answers | server CPU ms/req "
        "| CPU vs bare | machine busy |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for p in phases.values():
        if p.name.startswith("flash"):
            continue
        bare = phases[f"{p.server}:bare"]
        flag = " (client-bound)" if p.client_bound else ""
        answers = ", ".join(f"{k}: {v}" for k, v in p.statuses.items())
        if p.errors:
            answers += f", connection errors: {p.errors}"
        out.append(
            f"| {p.server} | {p.name}{flag} | {p.rps:.0f} | {_ratio(p.rps, bare.rps)} | "
            f"{p.p50_ms:.1f} | {p.p99_ms:.1f} | {answers} | {p.server_cpu_ms:.1f} | "
            f"{_ratio(p.server_cpu_ms, bare.server_cpu_ms)} | {p.machine_busy:.0%} |"
        )
    out += [
        "",
        "'vs bare' is req/s over the bare no-op's on the same server; 'CPU vs bare' the "
        "server CPU per request over the bare no-op's. SQL statements per request: "
        f"authenticated no-op {queries['no-op']}, buy {queries['buy']}.",
        "",
        "### Flash sale: "
        f"{args.flash_buyers} distinct buyers for {args.flash_stock} units, "
        f"{args.flash_connections} connections",
        "",
        "| server | answers | p99 from start of burst ms | last answer ms | last 201 ms "
        "| p99 per request ms | buys/s | 5xx | oversold |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in SERVERS:
        f = phases[f"{label}:flash"]
        fives = sum(v for k, v in f.statuses.items() if k >= 500)
        answers = ", ".join(f"{k}: {v}" for k, v in f.statuses.items())
        out.append(
            f"| {label} | {answers} | {f.p99_from_start_ms:.0f} | {f.last_ms:.0f} | "
            f"{f.last_with_ms(201):.0f} | {f.p99_ms:.0f} | {f.rps:.0f} | {fives} | "
            f"{stocks[f'flash sale ({label})']['oversold']} |"
        )
    out += ["", "### Targets (product server: " + PRODUCT_SERVER + ")", ""]
    for label in SERVERS:
        bare = phases[f"{label}:bare"]
        auth = phases[f"{label}:noop"].rps / bare.rps if bare.rps else 0.0
        buy = phases[f"{label}:buy"].rps / bare.rps if bare.rps else 0.0
        flash = phases[f"{label}:flash"]
        refused = phases[f"{label}:soldout"].rps / bare.rps if bare.rps else 0.0
        out.append(
            f"- {label}: authenticated no-op {auth:.2f}x (target {AUTH_TARGET}x: "
            f"{_verdict(auth, AUTH_TARGET)}); buy {buy:.2f}x (target {TARGET}x: "
            f"{_verdict(buy, TARGET)}, moonshot {MOONSHOT}x); flash sale p99 from start "
            f"{flash.p99_from_start_ms:.0f} ms (target {FLASH_P99_TARGET_MS:.0f}: "
            f"{_verdict(FLASH_P99_TARGET_MS, flash.p99_from_start_ms)}); a sold-out "
            f"refusal {refused:.2f}x."
        )
    out += [
        "",
        "### The hold gate alone (8 clients, "
        + ("pgbench)" if shutil.which("pgbench") else "a Python loop: pgbench is not installed)"),
        "",
        "| statement per transaction | tps | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    out += [f"| {g.name} | {g.tps:.0f} | {g.p50_ms:.2f} | {g.p99_ms:.2f} |" for g in gate]
    out += [
        "",
        f"### hold -> paid through Celery (served by {PRODUCT_SERVER})",
        "",
        "| path | p50 ms | p99 ms |",
        "|---|---:|---:|",
        f"| one-tap buy (sandbox_ok): hold created -> order paid, {celery['orders']} orders "
        f"paced at 50/s, worker concurrency 2 | {celery['p50_ms']:.1f} | "
        f"{celery['p99_ms']:.1f} |",
        f"| baseline: raw Redis LPUSH -> BRPOP in another process -> LPUSH back -> BRPOP | "
        f"{redis_rtt[0]:.2f} | {redis_rtt[1]:.2f} |",
        "",
        "### Oversell check",
        "",
        "| after | on hand | held | sold | oversold |",
        "|---|---:|---:|---:|---:|",
    ]
    out += [
        f"| {label} | {s['on_hand']} | {s['held']} | {s['sold']} | {s['oversold']} |"
        for label, s in stocks.items()
    ]
    out += [
        "",
        "Each check: `0 <= held <= on hand`, `held` equals the active holds' units, on hand "
        "equals the stock minus paid units, and held plus sold never exceed the stock.",
    ]
    if profile:
        out += ["", f"### Profile of the buy on {PRODUCT_SERVER} (py-spy)", "", *profile]
    out += [END]
    return "\n".join(out) + "\n"


def write_docs(section: str, begin: str = BEGIN, end: str = END) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        _, after = rest.split(end, 1)
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)
    log(f"wrote {DOC.relative_to(REPO_ROOT)}")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per timed phase")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds per phase")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes")
    parser.add_argument("--flash-buyers", type=int, default=800)
    parser.add_argument("--flash-connections", type=int, default=200)
    parser.add_argument("--one-tap", type=int, default=200)
    parser.add_argument("--flash-stock", type=int, default=200)
    parser.add_argument("--pgbench-seconds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile buy even if on target")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    started = time.monotonic()
    os.chdir(REPO_ROOT)
    info = machine_info()
    log(f"machine: {info['nproc']} cores, {info['cpu']}, {info['memory']}, load {info['load']}")

    from tests.support.processes import PrivateRedis, run_gunicorn_process, run_uvicorn_process

    redis_server = PrivateRedis()
    redis_server.start()
    db_name = f"lc_bench_flash_{os.getpid()}"
    try:
        with bench_database(db_name) as database_url:
            env = bench_env(database_url, redis_server.url)
            os.environ.update(env)
            # This orchestrating process seeds and checks with plain connections (its pool
            # would keep connections open to the database it drops); the servers pool.
            os.environ["DB_POOL_MAX_SIZE"] = "0"
            os.environ["LIVE_EVENTS_RELAY"] = "0"
            import django

            django.setup()
            from django.core.management import call_command
            from django.db import connections

            log(f"migrating {db_name}")
            call_command("migrate", verbosity=0)
            log("seeding")
            world = seed(
                buyers=args.flash_buyers, one_tap=args.one_tap, flash_stock=args.flash_stock
            )
            queries = queries_per_request(world)
            connections.close_all()
            bare_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.flash_sale.bare"}
            log(f"starting 4 servers ({WORKERS} processes each)")
            with contextlib.ExitStack() as stack:
                servers = {
                    "uvicorn:bare": run_uvicorn_process(
                        env=bare_env, workers=WORKERS, app="bench.flash_sale.bare:asgi_application"
                    ),
                    "gunicorn:bare": run_gunicorn_process(
                        env=bare_env,
                        workers=WORKERS,
                        threads=THREADS,
                        app="bench.flash_sale.bare:wsgi_application",
                    ),
                    "uvicorn:product": run_uvicorn_process(env=env, workers=WORKERS),
                    "gunicorn:product": run_gunicorn_process(
                        env=env, workers=WORKERS, threads=THREADS
                    ),
                }
                http = {
                    key: Http(
                        stack.enter_context(cm),
                        label=key.split(":")[0],
                        clients=args.clients,
                        connections=args.connections,
                    )
                    for key, cm in servers.items()
                }
                try:
                    result = run_phases(args, world, http, env, database_url, redis_server)
                finally:
                    for h in http.values():
                        h.close()
            load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
            section = report(
                info,
                load_end,
                args,
                *result,
                queries=queries,
                elapsed=time.monotonic() - started,
            )
            connections.close_all()
    finally:
        redis_server.close()
    print()
    print(section)
    if not args.no_docs:
        write_docs(section)


def run_phases(
    args: argparse.Namespace,
    world: World,
    http: dict[str, Http],
    env: dict[str, str],
    database_url: str,
    redis_server: Any,
) -> tuple[Any, ...]:
    tokens = world.tokens
    hot = buy_requests(world.hot, tokens)
    noop = noop_requests(tokens)
    keyed = buy_requests(world.hot, tokens, with_key=True)
    refused = buy_requests(world.sold_out, tokens)
    log("warm-up")
    for key, h in http.items():
        h.run("warm-up no-op", noop, duration=1.5)
        if key.endswith(":product"):
            h.run("warm-up buy", hot, duration=1.5)
    stocks = {"warm-up": check_stock(world.hot, "warm-up")}
    log(f"HTTP phases, every server and phase in turn, {args.rounds} rounds")
    named: dict[str, tuple[str, Http, list[bytes], bool]] = {}
    for label in SERVERS:
        named[f"{label}:bare"] = ("bare DRF no-op", http[f"{label}:bare"], noop, False)
        product = http[f"{label}:product"]
        named[f"{label}:noop"] = ("no-op (DRF, token auth, middleware)", product, noop, False)
        named[f"{label}:buy"] = ("buy (hold on one hot variant)", product, hot, False)
        named[f"{label}:buy_key"] = ("buy with Idempotency-Key", product, keyed, True)
        named[f"{label}:soldout"] = ("buy refused 409 sold_out", product, refused, False)
    phases = interleaved(named, duration=args.duration, rounds=args.rounds)
    stocks["buy phases"] = check_stock(world.hot, "buy phases")
    flash_tokens = tokens[: args.flash_buyers]
    for label in SERVERS:
        sale = world.flash[label]
        phases[f"{label}:flash"] = http[f"{label}:product"].run(
            f"flash sale: {len(flash_tokens)} buys for {args.flash_stock} units",
            buy_requests(sale, flash_tokens),
            once=True,
            connections=args.flash_connections,
        )
        stocks[f"flash sale ({label})"] = check_stock(sale, f"flash sale ({label})")
        won = phases[f"{label}:flash"].statuses.get(201, 0)
        if won != args.flash_stock or stocks[f"flash sale ({label})"]["held"] != args.flash_stock:
            raise SystemExit(f"flash sale on {label}: {won} buys won {args.flash_stock} units")
    log("hold gate (pgbench)")
    gate = gate_phases(world, database_url, args.pgbench_seconds)
    product = http[f"{PRODUCT_SERVER}:product"]
    log("hold -> paid through Celery")
    celery = celery_latency(world, product, env)
    stocks["one-tap buys through Celery"] = celery.pop("stock")
    redis_rtt = redis_round_trip(redis_server.url)
    log(f"  Redis LPUSH/BRPOP round trip: p50 {redis_rtt[0]:.2f} ms, p99 {redis_rtt[1]:.2f} ms")
    bare = phases[f"{PRODUCT_SERVER}:bare"].rps
    ratio = phases[f"{PRODUCT_SERVER}:buy"].rps / bare if bare else 0.0
    profile: list[str] = []
    if args.profile or ratio < MOONSHOT:
        log(f"profiling no-op and buy (ratio {ratio:.2f})")
        noop_profile = record_stacks(product, "no-op (profiled)", noop, args.duration)
        buy_profile = record_stacks(product, "buy (profiled)", hot, args.duration)
        stocks["profiled buy"] = check_stock(world.hot, "profiled buy")
        profile = profile_report(noop_profile, buy_profile)
    return phases, gate, celery, redis_rtt, stocks, profile


if __name__ == "__main__":
    main()
