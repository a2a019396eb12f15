#!/usr/bin/env python3
"""Check that docker-compose.yml (and the Dockerfile) run the same processes as `make run`.

The commands have one source: the Procfile (web, worker, beat) and the Makefile's
`MIGRATE_CMD` (migrate). This checker parses docker-compose.yml and fails when a service's
command differs, or when the stack loses a property the product relies on: PostgreSQL 16 with a
healthcheck and a volume, Redis with `noeviction` and an append-only file, a one-shot
migrate that the app services wait for, a web tier that can scale (no single fixed host port),
and every `${VAR}` the file uses documented in .env.example.

    python scripts/check_compose.py [--root DIR]     # exit 1 and list the problems
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")


def read_procfile(path: Path) -> dict[str, list[str]]:
    commands: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            commands[match.group(1)] = shlex.split(match.group(2))
    return commands


def read_make_variable(path: Path, name: str) -> list[str] | None:
    for line in path.read_text().splitlines():
        match = re.match(rf"^{name}\s*:?=\s*(.+)$", line)
        if match:
            return shlex.split(match.group(1))
    return None


def as_argv(command: Any) -> list[str] | None:
    if command is None:
        return None
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def dockerfile_cmd(path: Path) -> list[str] | None:
    for line in path.read_text().splitlines():
        if line.startswith("CMD "):
            value = line[4:].strip()
            return json.loads(value) if value.startswith("[") else shlex.split(value)
    return None


def env_example_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def _depends(service: dict[str, Any]) -> dict[str, Any]:
    deps = service.get("depends_on") or {}
    return {name: {} for name in deps} if isinstance(deps, list) else dict(deps)


def check(root: Path) -> list[str]:
    """Problems found in `root`'s docker-compose.yml; empty when it is consistent."""
    problems: list[str] = []
    compose_text = (root / "docker-compose.yml").read_text()
    compose = yaml.safe_load(compose_text)
    services: dict[str, Any] = compose.get("services") or {}
    procfile = read_procfile(root / "Procfile")
    migrate_cmd = read_make_variable(root / "Makefile", "MIGRATE_CMD")

    expected: dict[str, list[str] | None] = {name: procfile.get(name) for name in APP_SERVICES}
    expected["migrate"] = migrate_cmd
    for name, want in expected.items():
        if want is None:
            problems.append(f"{name}: no command for it in the Procfile / Makefile MIGRATE_CMD")
            continue
        if name not in services:
            problems.append(f"{name}: service missing from docker-compose.yml")
            continue
        got = as_argv(services[name].get("command"))
        if got != want:
            problems.append(f"{name}: compose runs {got!r}, the Procfile/Makefile runs {want!r}")

    cmd = dockerfile_cmd(root / "Dockerfile") if (root / "Dockerfile").exists() else None
    if cmd != procfile.get("web"):
        problems.append(f"Dockerfile CMD {cmd!r} is not the Procfile's web {procfile.get('web')!r}")

    postgres = services.get("postgres") or {}
    if not str(postgres.get("image", "")).startswith("postgres:16"):
        problems.append("postgres: image must be postgres:16")
    if not postgres.get("healthcheck"):
        problems.append("postgres: needs a healthcheck")
    if not postgres.get("volumes"):
        problems.append("postgres: needs a volume for its data")

    redis_argv = as_argv((services.get("redis") or {}).get("command")) or []
    redis_args = " ".join(redis_argv)
    if "--maxmemory-policy noeviction" not in redis_args:
        problems.append("redis: must run with --maxmemory-policy noeviction")
    if "--appendonly yes" not in redis_args:
        problems.append("redis: must run with --appendonly yes")

    for name in APP_SERVICES:
        deps = _depends(services.get(name) or {})
        if (deps.get("migrate") or {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: must wait for migrate (service_completed_successfully)")
    if (services.get("migrate") or {}).get("restart") not in ("no", None):
        problems.append("migrate: is one-shot, restart must be 'no'")

    for port in (services.get("web") or {}).get("ports") or []:
        spec = str(port if not isinstance(port, dict) else port.get("published", ""))
        host = spec.rsplit(":", 1)[0] if ":" in spec else ""
        if host and "-" not in host and "${" not in host:
            problems.append(f"web: fixed host port {spec!r} stops `--scale web=N`; use a range")

    documented = env_example_names(root / ".env.example")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text))
    for name in sorted(used - documented):
        problems.append(f"${{{name}}} is used in docker-compose.yml but not in .env.example")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="check docker-compose.yml against the Procfile")
    parser.add_argument("--root", type=Path, default=REPO_ROOT)
    args = parser.parse_args(argv)
    problems = check(args.root)
    for problem in problems:
        print(f"check_compose: {problem}", file=sys.stderr)
    if not problems:
        print("check_compose: docker-compose.yml runs the Procfile's commands")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
