from django.apps import AppConfig


class TrustConfig(AppConfig):
    name = "trust"

    def ready(self) -> None:
        # Trust's rules run inside catalog and streams writes through their hooks
        # (core.hooks); imported here because models must be loaded first.
        from catalog import hooks as catalog_hooks
        from streams import hooks as streams_hooks
        from trust.quality import listing_require_ready
        from trust.services import case_for_moderation, listing_review

        catalog_hooks.register_products_written(listing_review)
        streams_hooks.register_pin_check(listing_require_ready)
        streams_hooks.register_moderation_applied(case_for_moderation)
