"""Fixtures for catalog tests: an event spy on the fan-out interface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from streams import fanout


@dataclass
class ShowEventSpy:
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    def of_type(self, type: str) -> list[tuple[int, dict[str, Any]]]:
        return [(show_id, data) for show_id, t, data in self.events if t == type]


@pytest.fixture
def show_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[ShowEventSpy]:
    """Records what services hand to the fan-out layer after commit (delivery is recorded,
    no service is mocked)."""
    spy = ShowEventSpy()

    def record(*, show_id: int, type: str, data: dict[str, Any]) -> None:
        spy.events.append((show_id, type, data))

    monkeypatch.setattr(fanout, "publish_show_event", record)
    yield spy
