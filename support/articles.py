"""The help centre's articles are files: `support/articles/<slug>.md`, each with a front
matter block of `key: value` lines (slug, title, summary, keywords, topic) between `---`
lines, then a small Markdown body. `load_articles` upserts them by slug, removes articles
whose file is gone and refreshes the weighted search vectors; it runs after every
`migrate` (`SupportConfig.ready`) and as `manage.py load_help_articles`."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps as global_apps
from django.contrib.postgres.search import SearchVector
from django.db.utils import DatabaseError

from core.errors import InternalError

ARTICLES_DIR = Path(__file__).resolve().parent / "articles"
REQUIRED = ("slug", "title", "summary")


@dataclass(frozen=True)
class ArticleFile:
    slug: str
    title: str
    summary: str
    keywords: str
    topic: str
    body: str


def parse_article(text: str, *, name: str) -> ArticleFile:
    """Front matter + body; raises ValueError naming the file when it is malformed."""
    parts = text.split("---", 2)
    if len(parts) != 3 or parts[0].strip():
        raise InternalError(f"{name}: expected a front matter block between '---' lines")
    meta: dict[str, str] = {}
    for line in parts[1].strip().splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise InternalError(f"{name}: front matter line without ':': {line!r}")
        meta[key.strip()] = value.strip()
    missing = [key for key in REQUIRED if not meta.get(key)]
    if missing:
        raise InternalError(f"{name}: front matter is missing {', '.join(missing)}")
    return ArticleFile(
        slug=meta["slug"],
        title=meta["title"],
        summary=meta["summary"],
        keywords=meta.get("keywords", ""),
        topic=meta.get("topic", ""),
        body=parts[2].strip(),
    )


def read_article_files(directory: Path | None = None) -> list[ArticleFile]:
    directory = directory or ARTICLES_DIR
    articles = [
        parse_article(path.read_text(encoding="utf-8"), name=path.name)
        for path in sorted(directory.glob("*.md"))
    ]
    slugs = [a.slug for a in articles]
    duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicates:
        raise InternalError(f"duplicate article slugs: {', '.join(duplicates)}")
    return articles


def search_vector() -> Any:
    """Weights: title and keywords A, summary B, body C (English stemming)."""
    return (
        SearchVector("title", weight="A", config="english")
        + SearchVector("keywords", weight="A", config="english")
        + SearchVector("summary", weight="B", config="english")
        + SearchVector("body", weight="C", config="english")
    )


def load_articles(
    *, apps: Any = None, using: str = "default", directory: Path | None = None
) -> int:
    """Bring the Article table in line with the files. Returns the number of articles."""
    model = (apps or global_apps).get_model("support", "Article")
    try:
        existing = {a.slug: a for a in model.objects.using(using).all()}
    except DatabaseError:  # migrating backwards: the table is not there
        return 0
    files = read_article_files(directory)
    new = []
    for item in files:
        fields = {
            "title": item.title,
            "summary": item.summary,
            "keywords": item.keywords,
            "topic": item.topic,
            "body": item.body,
        }
        row = existing.get(item.slug)
        if row is None:
            new.append(model(slug=item.slug, **fields))
        elif any(getattr(row, key) != value for key, value in fields.items()):
            model.objects.using(using).filter(pk=row.pk).update(**fields)
    # One INSERT: after a test flush (post_migrate runs again) every article is new.
    model.objects.using(using).bulk_create(new)
    model.objects.using(using).exclude(slug__in=[a.slug for a in files]).delete()
    model.objects.using(using).update(search_vector=search_vector())
    return len(files)


_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"`(.+?)`"), r"<code>\1</code>"),
    (re.compile(r"\[([^\]]+)\]\((/[^)\s]*)\)"), r'<a href="\2">\1</a>'),
]


def _inline(text: str) -> str:
    out = html.escape(text, quote=True)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


def render_markdown(body: str) -> str:
    """The small Markdown subset articles use: `##`/`###` headings, `-` and `1.` lists,
    paragraphs, **bold**, `code` and site-relative links. Everything else is escaped."""
    out: list[str] = []
    list_tag: str | None = None
    paragraph: list[str] = []

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in body.splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{2,3}) (.+)$", line)
        item = re.match(r"^(-|\d+\.) (.+)$", line)
        if not line:
            flush()
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            tag = "ul" if item.group(1) == "-" else "ol"
            if paragraph or list_tag != tag:
                flush()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline(item.group(2))}</li>")
        elif list_tag and raw.startswith("  "):
            out[-1] = out[-1][: -len("</li>")] + " " + _inline(line) + "</li>"
        else:
            if list_tag:
                flush()
            paragraph.append(line)
    flush()
    return "\n".join(out)
