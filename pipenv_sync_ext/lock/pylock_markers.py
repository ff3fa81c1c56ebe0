"""PEP 751 markers with ``extras`` and ``dependency_groups``, evaluated for the selected groups.

A pylock.toml entry's marker may name the groups and extras an install selects
(``'dev' in dependency_groups``). Those two names are known when the lock is
read (the selection), the rest (``python_version``...) only for the target
interpreter. So :func:`for_selection` evaluates the set-valued terms now and
leaves the rest as marker text for :func:`~pipenv_sync_ext.lock.markers.markers_true`:
``False`` when the entry is not for this selection, ``None`` when it is
unconditionally, else the remaining marker.

Names are compared normalized (PEP 685/735: ``Dev_Tools`` is ``dev-tools``).
Only ``in`` and ``not in`` are defined for these names; anything else on them
is the lock's fault.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from pipenv_sync_ext.lock.markers import format_markers, or_branches

_SET_NAMES = ("dependency_groups", "extras")

Residual = str | bool | None  # False: not selected; None: always; str: what is left for the target


class SelectionMarkerError(ValueError):
    """A term on ``extras``/``dependency_groups`` that is not ``'name' in`` / ``not in``."""


def for_selection(text: str, *, groups: frozenset[str], extras: frozenset[str]) -> Residual:
    """``text`` with every ``dependency_groups`` / ``extras`` term replaced by its value (module docstring)."""
    if not any(name in text for name in _SET_NAMES):
        return text
    return _evaluated(text, groups, extras)


@lru_cache(maxsize=4096)
def _evaluated(text: str, groups: frozenset[str], extras: frozenset[str]) -> Residual:
    reduced = _reduce(Marker(text)._markers, {"dependency_groups": groups, "extras": extras})
    if reduced is True:
        return None
    if reduced is False:
        return False
    return format_markers(reduced)


def _set_term(atom: tuple[Any, ...], sets: dict[str, frozenset[str]]) -> bool | None:
    """The value of an atom on a set-valued name, or None when it names neither set."""
    lhs, op, rhs = atom
    kinds = (type(lhs).__name__, type(rhs).__name__)
    if kinds == ("Value", "Variable") and rhs.value in sets:
        chosen, value = sets[rhs.value], lhs.value
    elif kinds == ("Variable", "Value") and lhs.value in sets:
        raise SelectionMarkerError(f"{lhs.value} {op.value} {rhs.value!r}: write '{rhs.value}' in {lhs.value}")
    else:
        return None
    if op.value not in ("in", "not in"):
        raise SelectionMarkerError(f"{rhs.value} takes only 'in' and 'not in', not {op.value!r}")
    inside = canonicalize_name(str(value)) in chosen
    return inside if op.value == "in" else not inside


def _reduce(markers: list[Any], sets: dict[str, frozenset[str]]) -> bool | list[Any]:
    result: list[Any] = []
    for branch in or_branches(markers):
        kept: list[Any] = []
        false = False
        for term in branch:
            value: bool | list[Any] | tuple[Any, ...]
            if isinstance(term, list):
                value = _reduce(term, sets)
            else:
                known = _set_term(term, sets)
                value = term if known is None else known
            if value is False:
                false = True
                break
            if value is True:
                continue
            kept.extend(["and", value] if kept else [value])
        if false:
            continue
        if not kept:
            return True  # this branch holds for the selection, so the whole level does
        result.extend(["or", *kept] if result else kept)
    return result if result else False
