"""scripts/devservices.py: the product starts on embedded services when none answer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from scripts.devservices import port_answers, with_redis_db
from tests.support.processes import run_uvicorn

REPO_ROOT = Path(__file__).resolve().parents[2]


def _devservices(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "scripts/devservices.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        return response.status, response.read()


def test_with_redis_db_replaces_only_the_database_number() -> None:
    assert with_redis_db("redis://:pw@host:6380/0", 15) == "redis://:pw@host:6380/15"
    assert with_redis_db("redis://127.0.0.1:6379", 15) == "redis://127.0.0.1:6379/15"


def test_explicit_urls_are_used_as_given(db: None) -> None:
    from django.conf import settings

    from tests.support.processes import server_env

    env = server_env()
    result = _devservices("env", "--test", env=env)
    assert f"export DATABASE_URL={env['DATABASE_URL']}" in result.stdout
    assert f"export REDIS_URL={settings.REDIS_URL}" in result.stdout


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_forced_embedded_services_serve_the_product_and_stop() -> None:
    # Not under pytest's tmp_path: as root, PostgreSQL runs as another user that must reach
    # its data directory, and a concurrent pytest session resets /tmp/pytest-of-<user> to 0700.
    devdata = Path(tempfile.mkdtemp(prefix="lc-embedded-"))
    devdata.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "LC_EMBEDDED": "1",
        "LC_DEVDATA": str(devdata),
        "DEBUG": "1",
    }
    try:
        chosen = _devservices("env", env=env)
        assert "PostgreSQL: embedded" in chosen.stderr
        assert "Redis: embedded" in chosen.stderr
        urls = dict(
            line.removeprefix("export ").split("=", 1) for line in chosen.stdout.splitlines()
        )
        pg_port = int(urls["DATABASE_URL"].rsplit(":", 1)[1].split("/")[0])
        redis_port = int(urls["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
        assert (pg_port, redis_port) != (5432, 6379)

        _devservices("run", "--", sys.executable, "manage.py", "migrate", "-v0", env=env)
        seeded = _devservices("run", "--", sys.executable, "manage.py", "seed_demo", env=env)
        assert "Demo data ready" in seeded.stdout

        with run_uvicorn(env={**urls, "DEBUG": "1"}) as base:
            assert _get(f"{base}/healthz")[0] == 200
            status, body = _get(f"{base}/readyz")
            assert status == 200, body
            assert _get(f"{base}/api/docs/")[0] == 200
    finally:
        stopped = subprocess.run(
            [sys.executable, "scripts/devservices.py", "stop"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        shutil.rmtree(devdata, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
    assert not port_answers(pg_port)
    assert not port_answers(redis_port)
