"""Output shapes of articles and tickets, shared by the API and the pages."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from orders import clock
from support import selectors
from support.articles import render_markdown
from support.models import Article, Ticket, TicketReply


class ArticleSummaryOutput(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = Article
        fields = ["id", "slug", "title", "summary", "topic", "url"]


class ArticleOutput(ArticleSummaryOutput):
    body_html = serializers.SerializerMethodField()

    class Meta(ArticleSummaryOutput.Meta):
        fields = [*ArticleSummaryOutput.Meta.fields, "keywords", "body", "body_html", "updated_at"]

    def get_body_html(self, article: Article) -> str:
        return render_markdown(article.body)


class FirstAnswerArticle(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()


class FirstAnswerOutput(serializers.Serializer):
    text = serializers.CharField()
    articles = FirstAnswerArticle(many=True)


class TicketReplyOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username")

    class Meta:
        model = TicketReply
        fields = ["id", "author", "from_staff", "text", "created_at"]


class TicketOutput(serializers.ModelSerializer):
    requester = serializers.CharField(source="requester.username")
    queue_position = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    first_answer = FirstAnswerOutput()
    replies = TicketReplyOutput(many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "requester",
            "category",
            "subject",
            "body",
            "order",
            "show",
            "status",
            "priority",
            "priority_reasons",
            "due_at",
            "overdue",
            "escalated",
            "escalated_at",
            "queue_position",
            "first_answer",
            "replies",
            "created_at",
            "resolved_at",
        ]

    def get_queue_position(self, ticket: Ticket) -> int | None:
        return selectors.ticket_queue_position(ticket=ticket)

    def get_overdue(self, ticket: Ticket) -> bool:
        return ticket.status == Ticket.Status.OPEN and ticket.due_at <= clock.now()


def ticket_data(ticket: Ticket) -> dict[str, Any]:
    return dict(TicketOutput(ticket).data)
