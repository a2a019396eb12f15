"""static/js/live.js against a scripted server (a fake WebSocket inside Chromium):
snapshot, seq tracking, duplicates, batches, resume after reconnect, resync."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import watch_for_errors
from tests.support.processes import REPO_ROOT

pytestmark = [pytest.mark.browser]

ORIGIN = "http://pages.test"

# A fake WebSocket the test drives: `__sockets` holds every socket the client opened;
# `srv(i, frame)` delivers a frame on socket i; `sent(i)` lists what the client sent.
HARNESS = """
async () => {
  window.__sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url; this.readyState = 0; this.sent = []; __sockets.push(this);
      setTimeout(() => { this.readyState = 1; this.onopen && this.onopen(); }, 0);
    }
    send(text) { this.sent.push(JSON.parse(text)); }
    close(code = 1000) { if (this.readyState === 3) return; this.readyState = 3;
      setTimeout(() => this.onclose && this.onclose({ code }), 0); }
  }
  FakeSocket.OPEN = 1;
  window.WebSocket = FakeSocket;
  const { LiveSocket } = await import("/static/js/live.js");
  window.__events = []; window.__snapshots = [];
  window.__live = new LiveSocket(7, {
    onSnapshot: (d, info) => __snapshots.push({ seq: d.seq, ...info }),
    onEvent: (type, d, f) => __events.push([type, f.seq ?? null]),
  });
  window.srv = (i, frame) => __sockets[i].onmessage({ data: JSON.stringify(frame) });
  window.sent = (i) => __sockets[i].sent;
  await __live.connect();
  await new Promise((r) => setTimeout(r, 10));
}
"""


def ev(seq: int, type: str = "chat.message") -> str:
    return json.dumps({"type": type, "seq": seq, "data": {"id": seq}})


def snapshot(seq: int) -> str:
    return json.dumps({"type": "show.snapshot", "data": {"seq": seq, "current_pin": None}})


def serve_static(route) -> None:  # type: ignore[no-untyped-def]
    """Serve files from static/ (no server process needed); anything else: a blank page."""
    path = route.request.url.removeprefix(ORIGIN)
    if path.startswith("/static/"):
        file = REPO_ROOT / "static" / path.removeprefix("/static/")
        route.fulfill(path=str(file), content_type="text/javascript")
    else:
        route.fulfill(body="<!doctype html><title>t</title>", content_type="text/html")


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    context.on("page", watch_for_errors)
    context.route(f"{ORIGIN}/**", serve_static)
    page = context.new_page()
    page.goto(f"{ORIGIN}/")
    page.evaluate(HARNESS)
    yield page
    context.close()


def test_first_snapshot_is_applied_and_acknowledged_with_resume(page):
    page.evaluate(f"srv(0, {snapshot(10)})")
    assert page.evaluate("__snapshots") == [{"seq": 10, "first": True, "resync": False}]
    assert page.evaluate("sent(0)") == [{"type": "resume", "data": {"after_seq": 10}}]
    assert page.evaluate("__live.state") == "live"
    assert page.evaluate("__sockets[0].url").endswith("/ws/shows/7/")


def test_events_are_applied_in_order_duplicates_dropped_and_batches_unpacked(page):
    page.evaluate(f"srv(0, {snapshot(10)})")
    page.evaluate(f"srv(0, {ev(10)}); srv(0, {ev(11)}); srv(0, {ev(11)})")
    events = f"[{ev(12)}, {ev(13, 'stock.changed')}, {ev(12)}]"
    batch = f'{{"type": "batch", "data": {{"events": {events}}}}}'
    page.evaluate(f"srv(0, {batch})")
    page.evaluate("srv(0, {type: 'order.updated', data: {id: 1, status: 'paid'}})")
    assert page.evaluate("__events") == [
        ["chat.message", 11],
        ["chat.message", 12],
        ["stock.changed", 13],
        ["order.updated", None],
    ]
    assert page.evaluate("__live.lastSeq") == 13
    assert page.evaluate("__live.stats.duplicates") == 3


def test_reconnect_resumes_after_the_last_seq_and_holds_live_events_until_the_replay(page):
    page.evaluate(f"srv(0, {snapshot(10)}); srv(0, {ev(11)})")
    page.evaluate("__live.drop(0)")
    page.wait_for_function("__sockets.length === 2 && __sockets[1].readyState === 1", timeout=5000)
    assert "reconnecting" in page.evaluate("__live.statusLog")
    # The new connection's snapshot is at 14: we keep our state and ask for 12..14.
    page.evaluate(f"srv(1, {snapshot(14)})")
    assert page.evaluate("sent(1)") == [{"type": "resume", "data": {"after_seq": 11}}]
    assert len(page.evaluate("__snapshots")) == 1  # not re-applied
    # A live event that overtakes the replay waits for it.
    page.evaluate(f"srv(1, {ev(15)}); srv(1, {ev(12)}); srv(1, {ev(13)})")
    assert [s for _, s in page.evaluate("__events")] == [11, 12, 13]
    page.evaluate(f"srv(1, {ev(14)})")
    assert [s for _, s in page.evaluate("__events")] == [11, 12, 13, 14, 15]
    assert page.evaluate("__live.stats.resumes") == 1
    assert page.evaluate("__live.statusLog.at(-1)") == "live"


def test_resync_applies_the_next_snapshot_in_full(page):
    page.evaluate(f"srv(0, {snapshot(10)})")
    page.evaluate("__live.drop(0)")
    page.wait_for_function("__sockets.length === 2 && __sockets[1].readyState === 1", timeout=5000)
    page.evaluate(f"srv(1, {snapshot(5000)})")
    assert page.evaluate("sent(1)") == [{"type": "resume", "data": {"after_seq": 10}}]
    page.evaluate("srv(1, {type: 'resync', data: {reason: 'too_old'}})")
    page.evaluate(f"srv(1, {snapshot(5001)}); srv(1, {ev(5002)})")
    assert page.evaluate("__snapshots.at(-1)") == {"seq": 5001, "first": False, "resync": True}
    assert page.evaluate("__events") == [["chat.message", 5002]]
    assert page.evaluate("__live.stats.resyncs") == 1


def test_forbidden_close_stops_reconnecting_and_says_so(page):
    page.evaluate("__sockets[0].close(4403)")
    page.wait_for_function("__live.state === 'closed'", timeout=5000)
    page.wait_for_timeout(800)
    assert page.evaluate("__sockets.length") == 1
