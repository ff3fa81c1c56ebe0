"""1. The lock: Pipfile.lock read into value objects, the selection of its sections, its freshness."""
