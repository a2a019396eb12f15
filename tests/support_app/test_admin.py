"""Staff work the support queue in the Django admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from support import services
from support.models import Article, Ticket
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-Secret-123")
    client.force_login(admin)
    return client


def test_admin_pages_render(admin_client):
    ticket = services.ticket_create(
        requester=UserFactory(), category="other", subject="Hi", body="Question"
    )
    article = Article.objects.first()
    assert article is not None
    for url in [
        "/admin/support/ticket/",
        f"/admin/support/ticket/{ticket.pk}/change/",
        "/admin/support/article/",
        f"/admin/support/article/{article.pk}/change/",
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_a_staff_reply_from_the_admin_answers_the_ticket(admin_client):
    ticket = services.ticket_create(
        requester=UserFactory(), category="other", subject="Hi", body="Question"
    )
    res = admin_client.post(
        f"/admin/support/ticket/{ticket.pk}/change/",
        {
            "staff_reply": "Here is the answer.",
            "replies-TOTAL_FORMS": "0",
            "replies-INITIAL_FORMS": "0",
        },
    )
    assert res.status_code == 302, res.content.decode()[:2000]
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.status == "answered"
    reply = ticket.replies.get()
    assert (reply.text, reply.from_staff) == ("Here is the answer.", True)
