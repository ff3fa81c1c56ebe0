"""Is Pipfile.lock up to date with the Pipfile?  pipenv's own answer, exactly.

pipenv 2026.10 (``pipenv/utils/pipfile.py``, ``calculate_hash``) hashes the
Pipfile's sources, requires and every package category with each package name
replaced by its PEP 503 canonical form.  plette's ``Pipfile.get_hash()`` skips
that canonicalisation, so it disagrees for names like ``Requests``; this module
mirrors pipenv, and the test suite checks it against pipenv itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from .errors import LockError

# Pipfile tables that are not package categories (plette's PIPFILE_SECTIONS).
_NOT_CATEGORIES = frozenset(
    ("source", "packages", "dev-packages", "requires", "scripts", "pipfile", "pipenv", "default", "develop")
)


def pipfile_hash(pipfile: Path) -> str:
    """The sha256 that ``pipenv lock`` writes to ``_meta.hash.sha256``."""
    import plette

    try:
        with pipfile.open(encoding="utf-8") as f:
            parsed = plette.Pipfile.load(f)
    except OSError as exc:
        raise LockError(f"{pipfile}: cannot read: {exc.strerror}") from None
    except Exception as exc:  # tomlkit parse errors and plette validation errors
        raise LockError(f"{pipfile}: invalid Pipfile: {exc}") from None
    raw = parsed._data

    def canonical(section: Any) -> dict[str, Any]:
        return {canonicalize_name(k): v for k, v in section.items()}

    data: dict[str, Any] = {
        "_meta": {"sources": raw.get("source", {}), "requires": raw.get("requires", {})},
        "default": canonical(raw.get("packages", {})),
        "develop": canonical(raw.get("dev-packages", {})),
    }
    for category, values in raw.items():
        if category not in _NOT_CATEGORIES:
            data[category] = canonical(values)
    content = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def is_stale(pipfile: Path, locked_hash: str | None) -> bool:
    return locked_hash != pipfile_hash(pipfile)
