"""scripts/check_compose.py keeps docker-compose.yml running the Procfile's commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.check_compose import check, read_procfile

REPO_ROOT = Path(__file__).resolve().parents[2]
FILES = ["docker-compose.yml", "Procfile", "Makefile", "Dockerfile", ".env.example"]
NGINX_CONF = "deploy/nginx.conf"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in [*FILES, NGINX_CONF]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_repository_files_are_consistent() -> None:
    assert check(REPO_ROOT) == []


def test_the_checker_script_exits_zero_on_the_repository() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/check_compose.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_procfile_has_the_four_processes() -> None:
    assert set(read_procfile(REPO_ROOT / "Procfile")) == {"web", "ws", "worker", "beat"}


def test_a_compose_command_that_drifts_from_the_procfile_is_reported(copy: Path) -> None:
    _edit(
        copy / "docker-compose.yml",
        "celery -A livecommerce worker --loglevel INFO",
        "celery -A livecommerce worker --loglevel DEBUG",
    )
    problems = check(copy)
    assert len(problems) == 1
    assert problems[0].startswith("worker:")


def test_a_procfile_change_not_made_in_compose_is_reported(copy: Path) -> None:
    _edit(
        copy / "Procfile",
        "web: gunicorn --config livecommerce/gunicorn.conf.py livecommerce.wsgi:application",
        "web: gunicorn --config livecommerce/gunicorn.conf.py livecommerce.wsgi:app",
    )
    problems = check(copy)
    assert any(p.startswith("web:") for p in problems)
    assert any(p.startswith("Dockerfile CMD") for p in problems)


def test_a_migrate_command_that_differs_from_the_makefile_is_reported(copy: Path) -> None:
    _edit(
        copy / "Makefile",
        "MIGRATE_CMD := python manage.py migrate --noinput",
        "MIGRATE_CMD := python manage.py migrate --noinput --check",
    )
    assert [p for p in check(copy) if p.startswith("migrate:")]


def test_redis_that_may_evict_is_reported(copy: Path) -> None:
    _edit(
        copy / "docker-compose.yml",
        '"--maxmemory-policy", "noeviction"',
        '"--maxmemory-policy", "allkeys-lru"',
    )
    assert any("noeviction" in p for p in check(copy))


def test_a_web_tier_published_past_the_proxy_is_reported(copy: Path) -> None:
    _edit(
        copy / "docker-compose.yml",
        '      NUM_PROXIES: "1"\n',
        '      NUM_PROXIES: "1"\n    ports:\n      - "8001:8000"\n',
    )
    assert check(copy) == ["web: publishes a host port; it belongs behind the proxy"]


def test_a_proxy_that_stops_routing_websockets_is_reported(copy: Path) -> None:
    _edit(copy / NGINX_CONF, "proxy_pass http://ws;", "proxy_pass http://web;")
    assert check(copy) == ["proxy: nginx.conf must route /ws/ to the ws service"]


def test_a_proxy_that_drops_the_websocket_upgrade_is_reported(copy: Path) -> None:
    _edit(copy / NGINX_CONF, "proxy_set_header Upgrade $http_upgrade;", "")
    assert check(copy) == ["proxy: nginx.conf must pass the WebSocket upgrade on /ws/"]


def test_a_proxy_that_is_not_the_official_nginx_is_reported(copy: Path) -> None:
    _edit(copy / "docker-compose.yml", "image: nginx:1.27", "image: someone/nginx:latest")
    assert check(copy) == ["proxy: must run the official nginx image (nginx:<version>)"]


def test_a_proxy_without_the_repository_config_is_reported(copy: Path) -> None:
    (copy / NGINX_CONF).unlink()
    assert check(copy) == [
        "proxy: must mount the repository's nginx config at /etc/nginx/nginx.conf"
    ]


def test_an_undocumented_variable_is_reported(copy: Path) -> None:
    _edit(
        copy / "docker-compose.yml",
        "LOG_LEVEL: ${LOG_LEVEL:-INFO}",
        "LOG_LEVEL: ${LOG_LEVEL:-INFO}\n  NEW_KNOB: ${NEW_KNOB:-1}",
    )
    assert check(copy) == ["${NEW_KNOB} is used in docker-compose.yml but not in .env.example"]
