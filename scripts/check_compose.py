#!/usr/bin/env python3
"""Check that docker-compose.yml (and the Dockerfile) run the same processes as `make run`.

The commands have one source: the Procfile (web, ws, worker, beat) and the Makefile's
`MIGRATE_CMD` (migrate). This checker parses docker-compose.yml and fails when a service's
command differs, or when the stack loses a property the product relies on: PostgreSQL 16 with a
healthcheck and a volume, Redis with `noeviction` and an append-only file, a one-shot
migrate that the app services wait for, one entry point (the official nginx image with the
repository's config mounted, routing `/ws/` to `ws` with the WebSocket upgrade and the rest
to `web`) with the web tiers behind it (no host port of their own, so they scale), and
every `${VAR}` the file uses documented in .env.example.

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
APP_SERVICES = ("web", "ws", "worker", "beat")
NGINX_CONF_TARGET = "/etc/nginx/nginx.conf"


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

    problems += check_proxy(root, services)

    documented = env_example_names(root / ".env.example")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text))
    for name in sorted(used - documented):
        problems.append(f"${{{name}}} is used in docker-compose.yml but not in .env.example")
    return problems


def _location(conf: str, path: str) -> str | None:
    match = re.search(r"location\s+" + re.escape(path) + r"\s*\{([^}]*)\}", conf)
    return match.group(1) if match else None


def check_proxy(root: Path, services: dict[str, Any]) -> list[str]:
    """The proxy: official nginx, the repository's config, `/ws/` → ws, `/` → web."""
    problems: list[str] = []
    proxy = services.get("proxy") or {}
    if not str(proxy.get("image", "")).startswith("nginx:"):
        problems.append("proxy: must run the official nginx image (nginx:<version>)")
    if not proxy.get("ports"):
        problems.append("proxy: must publish the one port clients use")
    for name in ("web", "ws"):
        if (services.get(name) or {}).get("ports"):
            problems.append(f"{name}: publishes a host port; it belongs behind the proxy")
    source = None
    for volume in proxy.get("volumes") or []:
        parts = str(volume).split(":")
        if len(parts) >= 2 and parts[1] == NGINX_CONF_TARGET:
            source = root / parts[0]
    if source is None or not source.is_file():
        problems.append(f"proxy: must mount the repository's nginx config at {NGINX_CONF_TARGET}")
        return problems
    conf = source.read_text()
    ws = _location(conf, "/ws/")
    if ws is None or "proxy_pass http://ws" not in ws:
        problems.append(f"proxy: {source.name} must route /ws/ to the ws service")
    elif "Upgrade $http_upgrade" not in ws or "proxy_http_version 1.1" not in ws:
        problems.append(f"proxy: {source.name} must pass the WebSocket upgrade on /ws/")
    rest = _location(conf, "/")
    if rest is None or "proxy_pass http://web" not in rest:
        problems.append(f"proxy: {source.name} must route / to the web service")
    for upstream in ("web", "ws"):
        if not re.search(r"upstream\s+" + upstream + r"\s*\{[^}]*server\s+" + upstream + ":", conf):
            problems.append(f"proxy: {source.name} has no upstream for the {upstream} service")
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
