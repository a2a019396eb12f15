"""Fixtures for the browser tests: a real uvicorn (+ Celery worker) and Debian's Chromium
driven by Playwright. Never `playwright install`: the browser is /usr/bin/chromium.

Screenshots go to artifacts/screenshots/ and observed latencies to artifacts/ (both
git-ignored); latencies are recorded, never asserted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.processes import REPO_ROOT, run_celery_worker, run_uvicorn

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = REPO_ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
WAIT_MS = 10_000  # generous: a small shared machine; timings are recorded, not asserted
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "pw-Secret-123"  # tests.factories.UserFactory's password

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module (closed before the next module's tests run)."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous code.
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as pw:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        b = pw.chromium.launch(headless=True, executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    with run_uvicorn() as url:
        yield url


@pytest.fixture
def server_and_worker(transactional_db: None) -> Iterator[str]:
    env = {"SANDBOX_SLOW_SECONDS": "1"}
    with run_uvicorn(env=env) as url, run_celery_worker(env=env):
        yield url


class Latencies:
    """Observed latencies (seconds), printed and written to artifacts/<name>.json."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[str, float] = {}

    def since(self, label: str, start: float) -> None:
        self.values[label] = round(time.monotonic() - start, 3)

    def write(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{self.name}.json").write_text(json.dumps(self.values, indent=2) + "\n")
        print(f"\n{self.name} (s):", json.dumps(self.values))


@pytest.fixture
def latencies(request: pytest.FixtureRequest) -> Iterator[Latencies]:
    rec = Latencies(f"latencies-{request.node.name}")
    yield rec
    rec.write()


#: Errors the pages of the running test logged: console errors (a failed resource load,
#: a `console.error`) and uncaught exceptions. The test fails on any that it did not
#: announce with `allow_console_error` (checked when its body ends, before the server
#: fixtures stop: reconnect attempts to a stopped server are not the page's fault).
BROWSER_ERRORS: list[str] = []
_ALLOWED: list[re.Pattern[str]] = []
#: The contexts `new_context` opened for the running test: closed when its body ends, so
#: no page of it outlives its server (and logs its reconnects into the next test).
_CONTEXTS: list[BrowserContext] = []


def allow_console_error(pattern: str) -> None:
    """The running test provokes a console error matching `pattern` on purpose (for
    example a refused request whose answer the page shows)."""
    _ALLOWED.append(re.compile(pattern))


def watch_for_errors(page: Page) -> None:
    def on_console(msg: Any) -> None:
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            BROWSER_ERRORS.append(f"console error on {page.url}: {msg.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: BROWSER_ERRORS.append(f"page error on {page.url}: {exc}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    BROWSER_ERRORS.clear()
    _ALLOWED.clear()
    try:
        result = yield
    finally:
        errors = [e for e in BROWSER_ERRORS if not any(p.search(e) for p in _ALLOWED)]
        contexts, _CONTEXTS[:] = list(_CONTEXTS), []
        for ctx in contexts:
            with contextlib.suppress(Exception):
                ctx.close()
        BROWSER_ERRORS.clear()
    assert not errors, "the browser logged errors:\n" + "\n".join(errors)
    return result


def new_context(browser: Browser, base_url: str, size: dict[str, int] = DESKTOP) -> BrowserContext:
    ctx = browser.new_context(base_url=base_url, viewport=size)  # type: ignore[arg-type]
    ctx.set_default_timeout(WAIT_MS)
    ctx.on("page", watch_for_errors)
    _CONTEXTS.append(ctx)
    return ctx


def sign_in(ctx: BrowserContext, username: str, next_path: str) -> Page:
    page = ctx.new_page()
    page.goto(f"/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_path}")
    return page


def screenshot(page: Page, name: str, sizes: tuple[str, ...] = ("desktop", "phone")) -> list[Path]:
    """Full-page screenshots at desktop (1280x800) and phone (390x844) widths."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = []
    original = page.viewport_size
    for size in sizes:
        page.set_viewport_size(DESKTOP if size == "desktop" else PHONE)
        page.wait_for_timeout(300)
        path = SCREENSHOTS / f"{name}-{size}.png"
        page.screenshot(path=str(path), full_page=True)
        out.append(path)
    if original:
        page.set_viewport_size(original)  # type: ignore[arg-type]
    return out


@pytest.fixture
def shoot() -> Callable[..., Any]:
    return screenshot
