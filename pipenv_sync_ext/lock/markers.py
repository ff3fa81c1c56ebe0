"""Lock markers evaluated for the *target* interpreter."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from packaging.markers import Marker

from pipenv_sync_ext.errors import LockError


@lru_cache(maxsize=1024)
def _marker(text: str) -> Marker:
    return Marker(text)


def markers_true(markers: str | None, environment: Mapping[str, str], where: str = "markers") -> bool:
    """Evaluate for the target; an expression that cannot be evaluated is the lock's fault."""
    if not markers:
        return True
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName

    try:
        return _marker(markers).evaluate({**environment, "extra": ""})
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise LockError(f"{where}: markers {markers!r} cannot be evaluated for this interpreter: {first}") from None
