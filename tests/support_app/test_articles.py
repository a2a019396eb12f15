"""The help centre: articles loaded from support/articles/*.md at migrate, searched with
PostgreSQL full-text search, served by the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InternalError
from support.articles import ARTICLES_DIR, load_articles, parse_article, render_markdown
from support.models import Article

pytestmark = pytest.mark.django_db


def test_every_article_file_is_in_the_database_after_migrate():
    files = sorted(p.stem for p in Path(ARTICLES_DIR).glob("*.md"))
    assert len(files) >= 30
    assert sorted(Article.objects.values_list("slug", flat=True)) == files
    assert not Article.objects.filter(search_vector__isnull=True).exists()


def test_loading_again_changes_nothing_and_keeps_ids():
    before = dict(Article.objects.values_list("slug", "pk"))
    assert load_articles() == len(before)
    assert dict(Article.objects.values_list("slug", "pk")) == before


def test_a_removed_file_removes_its_article_and_an_edited_one_is_updated(tmp_path):
    for path in sorted(Path(ARTICLES_DIR).glob("*.md"))[:3]:
        (tmp_path / path.name).write_text(path.read_text())
    first = sorted(tmp_path.glob("*.md"))[0]
    first.write_text(first.read_text().replace("title: ", "title: Edited ", 1))
    assert load_articles(directory=tmp_path) == 3
    assert Article.objects.count() == 3
    assert Article.objects.filter(title__startswith="Edited ").count() == 1


@pytest.mark.parametrize(
    "text",
    ["no front matter", "---\ntitle: x\n---\nbody", "---\nslug: a\ntitle: b\nsummary\n---\n"],
)
def test_malformed_article_files_are_refused(text):
    with pytest.raises(InternalError, match=r"bad\.md"):
        parse_article(text, name="bad.md")


def test_markdown_is_rendered_and_html_escaped():
    out = render_markdown("## Hi\n\n- **a** `b`\n- [link](/help/x/)\n\n<script>x</script>")
    assert "<h2>Hi</h2>" in out
    assert "<li><strong>a</strong> <code>b</code></li>" in out
    assert '<a href="/help/x/">link</a>' in out
    assert "<script>" not in out and "&lt;script&gt;" in out


def test_search_ranks_the_matching_article_first(api_client):
    res = api_client.get("/api/v1/help/articles/", {"q": "when do I get my payout"})
    assert res.status_code == 200
    results = res.json()["results"]
    assert results[0]["slug"] == "payouts"
    assert results[0]["url"] == "/help/payouts/"
    assert res.json()["next"] is None


def test_search_words_are_stemmed(api_client):
    results = api_client.get("/api/v1/help/articles/", {"q": "bundling parcels"}).json()
    assert results["results"][0]["slug"] == "bundled-shipping"


def test_without_a_query_every_article_is_listed(api_client):
    results = api_client.get("/api/v1/help/articles/").json()["results"]
    assert len(results) == Article.objects.count()


def test_a_query_of_only_punctuation_or_unknown_words_finds_nothing(api_client):
    for q in ["!!! ???", "zzxqv"]:
        assert api_client.get("/api/v1/help/articles/", {"q": q}).json()["results"] == []


def test_tsquery_syntax_in_a_query_is_just_text(api_client):
    res = api_client.get("/api/v1/help/articles/", {"q": "refund & | ! ( ) :* 'x"})
    assert res.status_code == 200
    assert res.json()["results"][0]["slug"] == "refunds"


@pytest.mark.parametrize("params", [{"q": "x" * 501}, {"limit": "0"}, {"limit": "abc"}])
def test_bad_search_parameters(api_client, params):
    res = api_client.get("/api/v1/help/articles/", params)
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "invalid"


def test_article_by_slug_or_id(api_client):
    article = Article.objects.get(slug="csv-import")
    by_slug = api_client.get("/api/v1/help/articles/csv-import/").json()
    by_id = api_client.get(f"/api/v1/help/articles/{article.pk}/").json()
    assert by_slug == by_id
    assert by_slug["title"] == article.title
    assert "<li>" in by_slug["body_html"]


@pytest.mark.parametrize("ref", ["no-such-article", "999999999", "9" * 30])
def test_unknown_article(api_client, ref):
    res = api_client.get(f"/api/v1/help/articles/{ref}/")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "not_found"
