"""Delivery of show and user events. Placeholder until the live room lands (issue 3):
events are logged so callers can already be written and tested against the interface.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def publish_show_event(*, show_id: int, type: str, data: dict[str, Any]) -> None:
    logger.info("show event", extra={"show_id": show_id, "event_type": type})


def publish_user_event(*, user_id: int, type: str, data: dict[str, Any]) -> None:
    logger.info("user event", extra={"user_id": user_id, "event_type": type})
