"""The process harness starts real servers and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import urllib.request

import pytest

from tests.support.processes import (
    ManagedProcess,
    free_port,
    run_celery_worker,
    run_redis_server,
    run_uvicorn_process,
    server_env,
)

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
        return response.status, response.read()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_server_env_points_at_the_test_database(db: None) -> None:
    from django.conf import settings

    env = server_env({"EXTRA": "1"})
    assert env["DATABASE_URL"].endswith("/" + settings.DATABASES["default"]["NAME"])
    assert settings.DATABASES["default"]["NAME"].startswith("test_")
    assert env["REDIS_URL"] == settings.REDIS_URL
    assert env["TESTING"] == "1"
    assert env["EXTRA"] == "1"


@pytest.mark.django_db(transaction=True)
def test_uvicorn_serves_healthz_and_is_gone_after_exit() -> None:
    with run_uvicorn_process() as proc:
        status, body = _get(f"{proc.url}/healthz")
        assert status == 200
        assert b"ok" in body
        port = int(proc.url.rsplit(":", 1)[1])
        pgid = proc.pgid
        assert proc.group_pids()
    assert not _port_open(port)
    assert proc.group_pids() == []
    assert not _pid_alive(pgid)


@pytest.mark.django_db(transaction=True)
def test_uvicorn_server_reads_the_test_database(uvicorn_server: str) -> None:
    status, body = _get(f"{uvicorn_server}/readyz")
    assert status == 200, body
    assert b'"database": "ok"' in body


def test_a_process_that_fails_to_start_raises_with_its_log() -> None:
    from tests.support import processes

    proc = ManagedProcess(
        ["python3", "-c", "import sys; print('boom-marker'); sys.exit(3)"],
        env=dict(os.environ),
        name="failing",
    )
    try:
        with pytest.raises(processes.ProcessStartError, match="boom-marker"):
            processes._wait_until(proc, lambda: False, "never", timeout=30)
    finally:
        proc.close()


def test_stop_kills_a_group_that_ignores_sigterm() -> None:
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = ManagedProcess(["python3", "-c", code], env=dict(os.environ), name="stubborn")
    try:
        from tests.support import processes

        processes._wait_until(proc, lambda: len(proc.child_pids()) == 1, "child started", 30)
        pids = [proc.pid, *proc.child_pids()]
        proc.stop(timeout=1)
        assert not any(_pid_alive(pid) for pid in pids)
        assert proc.group_pids() == []
    finally:
        proc.close()


def test_private_redis_restart_empties_it_on_the_same_port() -> None:
    with run_redis_server() as server:
        client = server.client()
        client.set("k", "v")
        assert client.get("k") == b"v"
        port = server.port
        server.restart()
        assert server.port == port
        assert server.client().get("k") is None
        server.stop()
        assert not _port_open(port)
        server.start()
        assert server.client().ping()
    assert not _port_open(port)


@pytest.mark.django_db(transaction=True)
def test_celery_worker_is_ready_and_leaves_no_pool_process_behind() -> None:
    with run_celery_worker(concurrency=2) as worker:
        children = worker.child_pids()
        assert len(children) >= 2  # the prefork pool
        pids = [worker.pid, *children]
        assert "livecommerce" in " ".join(worker.args)
    assert not any(_pid_alive(pid) for pid in pids)


@pytest.mark.django_db(transaction=True)
def test_killing_a_worker_group_takes_its_pool_with_it() -> None:
    with run_celery_worker() as worker:
        children = worker.child_pids()
        worker.kill(signal.SIGKILL)
        worker.stop(timeout=5)
        assert not any(_pid_alive(pid) for pid in [worker.pid, *children])


@pytest.mark.django_db(transaction=True)
def test_uvicorn_with_two_workers_leaves_no_worker_behind() -> None:
    with run_uvicorn_process(workers=2) as proc:
        assert _get(f"{proc.url}/healthz")[0] == 200
        descendants = proc.child_pids()
        assert len(descendants) >= 2
    assert not any(_pid_alive(pid) for pid in [proc.pid, *descendants])
