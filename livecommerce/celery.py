"""Celery app (`celery -A livecommerce worker|beat`). Settings: CELERY_* in settings.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")

app = Celery("livecommerce")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
