from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        # Orders serves catalog's and streams' hooks (core.hooks); imported here because
        # models must be loaded first.
        from catalog import stock
        from orders import inventory
        from orders.selectors import pin_shipping_fee
        from streams import hooks as streams_hooks

        stock.register(inventory)  # stock's one owner serves catalog's stock changes
        streams_hooks.register_pin_shipping_fee(pin_shipping_fee)
