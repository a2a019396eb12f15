"""pytest fixtures around `tests.support.processes` (registered in tests/conftest.py).

Each fixture requests ``transactional_db``: a server in another process only sees rows
that were committed, so a test using one behaves as ``django_db(transaction=True)``.

- ``uvicorn_server`` → base URL of a uvicorn serving the project (one worker).
- ``uvicorn_process`` → the `ManagedProcess` of such a server (``.url``), to kill it mid-test.
- ``celery_worker_process`` → a running Celery worker (`ManagedProcess`, prefork, 1 child).
- ``private_redis`` → a `PrivateRedis` of the test's own (``.url``, ``.restart()``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import (
    ManagedProcess,
    PrivateRedis,
    run_celery_worker,
    run_redis_server,
    run_uvicorn,
    run_uvicorn_process,
)


@pytest.fixture
def uvicorn_server(transactional_db: None) -> Iterator[str]:
    with run_uvicorn() as url:
        yield url


@pytest.fixture
def uvicorn_process(transactional_db: None) -> Iterator[ManagedProcess]:
    with run_uvicorn_process() as proc:
        yield proc


@pytest.fixture
def celery_worker_process(transactional_db: None) -> Iterator[ManagedProcess]:
    with run_celery_worker() as proc:
        yield proc


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with run_redis_server() as server:
        yield server
