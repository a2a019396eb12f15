"""How checkout services hand work to Celery: by the task's registered name, after commit.

`orders.tasks` imports the services (each task calls one), so the services must not
import `orders.tasks` back. They queue through here instead: `send_task` by name needs no
import of the task module, the broker routes by name exactly as for `.delay()`, and the
task name is the contract between the two sides (asserted by tests/orders/test_celery_worker.py,
which runs a real worker). A broker outage must not fail a committed write: the recovery
sweep (`orders_recover_stuck`) finds an order whose capture was never queued.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

CAPTURE_PAYMENT = "orders.capture_payment"


def send(name: str, *args: int) -> None:
    """Queue task `name` now (best effort: logged, never raised). With
    `CELERY_TASK_ALWAYS_EAGER` (debugging) it runs inline, as `.delay()` would."""
    try:
        if current_app.conf.task_always_eager:
            current_app.loader.import_default_modules()  # registers the tasks modules
            current_app.tasks[name].apply(args=args)
        else:
            current_app.send_task(name, args=list(args))
    except Exception:
        logger.exception("could not queue %s", name, extra={"task_args": args})


def capture_payment_on_commit(order_id: int) -> None:
    """Queue the order's capture once the current transaction commits."""
    transaction.on_commit(lambda: send(CAPTURE_PAYMENT, order_id))
