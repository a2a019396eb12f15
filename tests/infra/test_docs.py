"""Every setting read from the environment is documented (README table and .env.example)."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _settings_variables() -> set[str]:
    source = (REPO_ROOT / "livecommerce" / "settings.py").read_text()
    return set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))


def test_settings_read_the_spec_variables() -> None:
    spec = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
    assert spec | {"HOLD_TTL_SECONDS", "SANDBOX_SLOW_SECONDS"} <= _settings_variables()


def test_every_environment_setting_is_in_the_readme_table() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    missing = sorted(name for name in _settings_variables() if f"`{name}`" not in readme)
    assert not missing, f"add these to README.md's Configuration table: {missing}"


def test_every_environment_setting_is_in_env_example() -> None:
    example = (REPO_ROOT / ".env.example").read_text()
    missing = sorted(
        name for name in _settings_variables() if not re.search(rf"^#? ?{name}=", example, re.M)
    )
    assert not missing, f"add these to .env.example: {missing}"
