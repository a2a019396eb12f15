from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        # Stock's owner (orders.inventory) serves catalog's stock changes (catalog.stock).
        from catalog import stock
        from orders import inventory

        stock.register(inventory)
