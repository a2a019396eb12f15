from django.apps import AppConfig


class AuctionsConfig(AppConfig):
    name = "auctions"

    def ready(self) -> None:
        # The live-room snapshot's `auction` field (streams.hooks); imported here because
        # models must be loaded first.
        from auctions.selectors import auction_running_payload
        from streams import hooks as streams_hooks

        streams_hooks.register_running_auction(auction_running_payload)
