"""Help-centre search: PostgreSQL full-text search over the articles' weighted vectors
(GIN index `article_search_gin`). No external service; works offline.

A question is free text ("why was my payout held?"), so its words are OR-ed: to_tsquery
with the English configuration stems them and drops stop words, and `ts_rank` with the
weights below (title/keywords ≫ summary > body) orders the articles that match any.
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, QuerySet

from support.models import Article

# ts_rank weights for D, C, B, A: body (C) counts a fifth of a title or keyword hit (A).
RANK_WEIGHTS = [0.05, 0.2, 0.4, 1.0]
# Enough words to describe a problem; a pasted log does not make a slower query.
MAX_TERMS = 40
_WORD = re.compile(r"[a-z0-9]+")


def query_terms(text: str) -> list[str]:
    """The distinct words of `text` (lowercase letters and digits only, so the raw
    tsquery built from them cannot be malformed), in order, at most MAX_TERMS."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) > 1 and word not in seen:
            seen[word] = None
    return list(seen)[:MAX_TERMS]


def search_articles(text: str, *, limit: int = 10) -> QuerySet[Article]:
    """Articles matching any word of `text`, best first (annotated with `rank`)."""
    terms = query_terms(text)
    if not terms:
        return Article.objects.none()
    query = SearchQuery(" | ".join(terms), search_type="raw", config="english")
    return (
        Article.objects.filter(search_vector=query)
        .annotate(rank=SearchRank(F("search_vector"), query, weights=RANK_WEIGHTS))
        .order_by("-rank", "id")[:limit]
    )
