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


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in FILES:
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


def test_procfile_has_the_three_processes() -> None:
    assert set(read_procfile(REPO_ROOT / "Procfile")) == {"web", "worker", "beat"}


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
        "web: uvicorn livecommerce.asgi:application --lifespan off",
        "web: uvicorn livecommerce.asgi:application --lifespan off --workers 4",
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


def test_a_fixed_web_host_port_is_reported(copy: Path) -> None:
    _edit(copy / "docker-compose.yml", '"${WEB_PORTS:-8000-8009}:8000"', '"8000:8000"')
    assert any("fixed host port" in p for p in check(copy))


def test_an_undocumented_variable_is_reported(copy: Path) -> None:
    _edit(
        copy / "docker-compose.yml",
        "LOG_LEVEL: ${LOG_LEVEL:-INFO}",
        "LOG_LEVEL: ${LOG_LEVEL:-INFO}\n  NEW_KNOB: ${NEW_KNOB:-1}",
    )
    assert check(copy) == ["${NEW_KNOB} is used in docker-compose.yml but not in .env.example"]
