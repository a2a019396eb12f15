from tests.orders.conftest import _real_clock, clock, live_pin  # noqa: F401 (fixtures)
