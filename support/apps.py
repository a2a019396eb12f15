from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _load_articles(sender: AppConfig, **kwargs: Any) -> None:
    from support.articles import load_articles  # uses the models: after migrate only

    load_articles(apps=kwargs.get("apps"), using=kwargs.get("using", "default"))


class SupportConfig(AppConfig):
    name = "support"

    def ready(self) -> None:
        # The help centre lives in support/articles/*.md; every `migrate` (a fresh
        # database, the test database, a deploy) brings the table in line with the files.
        post_migrate.connect(_load_articles, sender=self, dispatch_uid="support-load-articles")
