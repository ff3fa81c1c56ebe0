"""PEP 503 names without importing ``packaging``: what a cached plan needs on its way to a prune.

:func:`canonical_name` is ``packaging.utils.canonicalize_name`` (no ``validate``),
the same string operations (``tests/test_plancache.py`` checks them equal), so
the modules a cache hit runs through stay free of ``packaging``'s import (~20 ms).
"""

from __future__ import annotations


def canonical_name(name: str) -> str:
    value = name.lower().replace("_", "-").replace(".", "-")
    while "--" in value:
        value = value.replace("--", "-")
    return value
