"""Celery app (`celery -A livecommerce worker|beat`). Settings: CELERY_* in settings.py."""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")

app = Celery("livecommerce")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _live_events_inline(**_kwargs: Any) -> None:
    """Tasks publish their live-room events themselves, before the task ends (see
    `streams.relay.relay_inline`); the pool processes inherit it."""
    from streams.relay import relay_inline

    relay_inline()
