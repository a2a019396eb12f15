from typing import Any

from django.core.management.base import BaseCommand

from support.articles import load_articles


class Command(BaseCommand):
    help = "Load support/articles/*.md into the help centre (also runs after every migrate)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = load_articles()
        self.stdout.write(f"{count} help articles loaded.")
