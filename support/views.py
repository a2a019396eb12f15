"""Pages: the help centre (`/help/`, `/help/<slug>/`) and a ticket (`/support/tickets/<id>/`).
Search runs on the server (the same `search_articles` as the API), so /help/ works
without JavaScript."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import NotFound
from support import selectors
from support.api import MAX_QUERY_CHARS
from support.articles import render_markdown
from support.models import Ticket
from support.search import search_articles


def help_index(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:MAX_QUERY_CHARS].strip()
    articles = list(search_articles(q, limit=10)) if q else list(selectors.articles_all())
    return render(request, "support/help_index.html", {"q": q, "articles": articles})


def help_article(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        article = selectors.article_get(slug_or_id=slug)
    except NotFound as exc:
        raise Http404("No such help article.") from exc
    return render(
        request,
        "support/help_article.html",
        {"article": article, "body_html": render_markdown(article.body)},
    )


@login_required
def ticket_page(request: HttpRequest, ticket_id: int) -> HttpResponse:
    try:
        ticket = selectors.ticket_for_user(user=request.user, ticket_id=ticket_id)
    except NotFound as exc:
        raise Http404("No such ticket.") from exc
    return render(
        request,
        "support/ticket.html",
        {
            "ticket": ticket,
            "replies": ticket.replies.select_related("author"),
            "queue_position": selectors.ticket_queue_position(ticket=ticket),
            "open": ticket.status != Ticket.Status.RESOLVED,
        },
    )
