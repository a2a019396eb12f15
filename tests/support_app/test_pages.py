"""Pages: /help/ (server-side search), /help/<slug>/, a ticket page, the dashboard's
Support section."""

from __future__ import annotations

import pytest
from django.test import Client

from support import services
from support.models import Article, Ticket
from tests.factories import ShopFactory, UserFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_help_lists_every_article_and_searches():
    everything = Client().get("/help/")
    assert everything.status_code == 200
    html = everything.content.decode()
    assert 'role="search"' in html
    assert html.count("/help/") > Article.objects.count()
    found = Client().get("/help/", {"q": "import products from a spreadsheet"}).content.decode()
    results = found[found.index('id="help-results"') :]
    first = results.index('href="/help/')
    assert results[first:].startswith('href="/help/csv-import/"')


def test_help_search_without_results_says_so():
    html = Client().get("/help/", {"q": "zzqxv"}).content.decode()
    assert "No article matches" in html


def test_article_page_renders_the_body():
    res = Client().get("/help/disputes-for-sellers/")
    assert res.status_code == 200
    html = res.content.decode()
    assert "<h1>Answering a dispute: the 48-hour deadline</h1>" in html
    assert "<strong>Refund</strong>" in html
    assert Client().get("/help/no-such-thing/").status_code == 404


def test_ticket_page_shows_first_answer_escalation_and_forms(clock):
    user = UserFactory()
    ticket = services.ticket_create(
        requester=user, category="disputes", subject="Dispute deadline", body="How long?"
    )
    clock.advance(9 * 3600)
    services.tickets_escalate_overdue()
    html = logged_in(user).get(f"/support/tickets/{ticket.pk}/").content.decode()
    assert ticket.first_answer["articles"][0]["url"] in html
    assert 'id="ticket-escalated"' in html
    assert f"/api/v1/support/tickets/{ticket.pk}/replies/" in html
    assert f"/api/v1/support/tickets/{ticket.pk}/resolve/" in html
    assert logged_in(UserFactory()).get(f"/support/tickets/{ticket.pk}/").status_code == 404
    assert Client().get(f"/support/tickets/{ticket.pk}/").status_code == 302


def test_dashboard_support_section_lists_tickets_and_the_new_ticket_form(clock):
    seller = ShopFactory().owner
    ticket = services.ticket_create(
        requester=seller, category="other", subject="A question", body="Hello"
    )
    Ticket.objects.filter(pk=ticket.pk).update(escalated=True)
    html = logged_in(seller).get("/dashboard/").content.decode()
    assert 'id="support"' in html
    assert f'href="/support/tickets/{ticket.pk}/"' in html
    assert "escalated" in html
    assert 'data-then="ticketAnswer"' in html
    assert 'id="first-answer"' in html
