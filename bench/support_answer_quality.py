"""Top-3 hit rate of the support ticket's first answer (docs/support.md, "Answer quality").

For each question of support/eval/questions.yaml, the first answer is computed exactly as
for a new ticket (`support.services.first_answer`, subject and body = the question) and a
hit is the expected article among its (at most three) citations. Prints the rate and the
misses. tests/support_app/test_answer_quality.py keeps the same figure at or above 0.85.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lc_dev \\
    .venv/bin/python bench/support_answer_quality.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livecommerce.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

import yaml  # noqa: E402

from orders import clock  # noqa: E402
from support.articles import load_articles  # noqa: E402
from support.services import first_answer  # noqa: E402

QUESTIONS = Path(__file__).resolve().parents[1] / "support" / "eval" / "questions.yaml"


def main() -> None:
    load_articles()  # the database answers with the articles as they are in the files
    questions = yaml.safe_load(QUESTIONS.read_text())
    hits_at = {1: 0, 3: 0}
    for item in questions:
        cited = [
            a["slug"]
            for a in first_answer(subject=item["q"], body=item["q"], due_at=clock.now())["articles"]
        ]
        if cited[:1] == [item["slug"]]:
            hits_at[1] += 1
        if item["slug"] in cited:
            hits_at[3] += 1
        else:
            print(f"miss: {item['q']!r} -> {cited} (expected {item['slug']})")
    n = len(questions)
    print(f"questions: {n}  top-1: {hits_at[1] / n:.3f}  top-3: {hits_at[3] / n:.3f}")


if __name__ == "__main__":
    main()
