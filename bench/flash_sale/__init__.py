"""Flash-sale benchmark: `python bench/flash_sale/run.py` (docs/benchmarks.md)."""
