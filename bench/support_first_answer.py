"""How fast is a support ticket's first answer? (docs/support.md, "Latency").

Opens N tickets through the whole stack in-process — DRF view, Idempotency-Key claim,
priority, the full-text search over the help articles, the INSERT, the answer — with the
questions of support/eval/questions.yaml, one after another, and reports p50/p95/p99/max.
Beside it, on the same machine in the same run: the search alone, and the floor
(`SELECT 1` through the ORM's connection). Prints figures; asserts nothing.

Run from the repository root against a migrated database (it creates and deletes its own
user and tickets):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lc_dev \\
    .venv/bin/python bench/support_first_answer.py --requests 400
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

import yaml  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from support.models import Ticket  # noqa: E402
from support.search import search_articles  # noqa: E402

QUESTIONS = Path(__file__).resolve().parents[1] / "support" / "eval" / "questions.yaml"


def timed(n: int, call: Callable[[int], None]) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    q = statistics.quantiles(ms, n=100)
    print(
        f"{name:<40} n={len(ms):<5} p50 {q[49]:7.2f} ms  p95 {q[94]:7.2f} ms  "
        f"p99 {q[98]:7.2f} ms  max {ms[-1]:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    questions = [item["q"] for item in yaml.safe_load(QUESTIONS.read_text())]
    user = User.objects.create_user(f"bench-support-{uuid.uuid4().hex[:8]}", password="x")
    client = APIClient()
    client.force_authenticate(user)

    def open_ticket(i: int) -> None:
        q = questions[i % len(questions)]
        res = client.post(
            "/api/v1/support/tickets/",
            {"category": "other", "subject": q, "body": f"{q} Thanks for your help."},
            format="json",
        )
        assert res.status_code == 201, res.content
        assert "first_answer" in res.json()

    def search_only(i: int) -> None:
        list(search_articles(questions[i % len(questions)], limit=3))

    def floor(i: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    try:
        timed(20, open_ticket)  # warm-up
        results = {
            "floor: SELECT 1": timed(args.requests, floor),
            "search alone (top 3)": timed(args.requests, search_only),
            "POST /support/tickets/ (first answer)": timed(args.requests, open_ticket),
        }
        for name, ms in results.items():
            report(name, ms)
    finally:
        Ticket.objects.filter(requester=user).delete()
        user.delete()


if __name__ == "__main__":
    main()
