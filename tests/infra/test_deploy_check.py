"""With DEBUG off, `manage.py check --deploy` is clean (SPEC "Processes and configuration")."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Settings treat a pytest run as TESTING (relaxed security); a deploy is not one.
        if key
        not in {
            "PYTEST_VERSION",
            "PYTEST_CURRENT_TEST",
            "TESTING",
            "DEBUG",
            "PAYMENT_PROVIDER",
            "PAYMENT_SANDBOX_ALLOWED",
        }
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="example.com",
        DJANGO_SETTINGS_MODULE="livecommerce.settings",
        # The only provider shipped is the sandbox; a deployment allows it explicitly.
        PAYMENT_SANDBOX_ALLOWED="1",
    )
    env.update(overrides)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_no_issue_with_a_production_environment() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key() -> None:
    env = _production_env()
    del env["SECRET_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_refuse_the_sandbox_provider_unless_allowed() -> None:
    env = _production_env()
    del env["PAYMENT_SANDBOX_ALLOWED"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "PAYMENT_SANDBOX_ALLOWED" in result.stderr


def test_development_settings_allow_the_sandbox_provider() -> None:
    env = _production_env(DEBUG="1")
    del env["PAYMENT_SANDBOX_ALLOWED"]
    result = _manage("check", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
