"""Settings for the benchmark's server only: the product's settings plus a bench urlconf
that mounts a no-op endpoint. Never used outside `bench/flash_sale/run.py`."""

from livecommerce.settings import *  # noqa: F403

ROOT_URLCONF = "bench.flash_sale.urls"
