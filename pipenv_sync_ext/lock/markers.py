"""Lock markers evaluated for the *target* interpreter, with pipenv's rules for PEP 751's set-valued names.

A Pipfile.lock marker is PEP 508 as pipenv writes it, but locks converted from
``pylock.toml`` (pipenv's own ``PylockFile.convert_to_pipenv_lockfile``, or
other tools) carry PEP 751's ``dependency_groups`` and ``extras`` names too:

* every ``dependency_groups`` term (``'dev' in dependency_groups``, ``not in``
  alike) is **true**, as pipenv 2026.10's ``Lockfile._pip_marker`` makes it: the
  selection of lock sections already says which groups are wanted, so only the
  rest of the marker is evaluated; a marker left with nothing is unconditional;
* ``extras`` is the set of extras selected for the lock, which is always empty:
  ``pipenv sync`` takes no extras (it ignores ``--extras``), so ``'x' in extras``
  is false and ``'x' not in extras`` true, as PEP 751 defines them for an
  install that selects none. (pipenv keeps such an entry and then pip fails
  on it: a deliberate difference, see README "Decisions".)
* ``extra`` is ``""``, as pip evaluates a requirement's marker.

A marker that still cannot be evaluated is the lock's fault: a one-line
:class:`LockError` naming the file, the section and the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from packaging.markers import Marker

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.schema import shown

# What the names PEP 751 adds stand for in a sync of a Pipfile.lock (see the module docstring).
_NO_EXTRAS: frozenset[str] = frozenset()


@lru_cache(maxsize=1024)
def _marker(text: str) -> Marker:
    return Marker(text)


@lru_cache(maxsize=1024)
def without_dependency_groups(text: str) -> str | None:
    """``text`` with every ``dependency_groups`` term taken as true (pipenv's ``Lockfile._pip_marker``).

    None when nothing else is left (the entry is unconditional). Raises
    packaging's ``InvalidMarker`` for text that is not a marker at all.
    """
    if "dependency_groups" not in text:
        return text
    simplified = _simplify(_marker(text)._markers)
    return None if simplified is None else format_markers(simplified)


def _is_group_term(atom: tuple[Any, ...]) -> bool:
    return any(type(node).__name__ == "Variable" and node.value == "dependency_groups" for node in atom)


def or_branches(markers: list[Any]) -> list[list[Any]]:
    """One level of packaging's marker tree as the "or" of its "and"-branches (the terms of each).

    The tree holds atoms (lhs, op, rhs), nested lists for parentheses, and "and"/"or"
    between them; "and" binds tighter, so a level is an "or" of "and"-branches.
    """
    branches: list[list[Any]] = [[]]
    for item in markers:
        if item == "or":
            branches.append([])
        elif item != "and":
            branches[-1].append(item)
    return branches


def _simplify(markers: list[Any]) -> list[Any] | None:
    """The tree without group terms; None when that makes it always true."""
    result: list[Any] = []
    for branch in or_branches(markers):
        kept: list[Any] = []
        for term in branch:
            if isinstance(term, list):
                term = _simplify(term)
                if term is None:
                    continue
            elif _is_group_term(term):
                continue
            kept.extend(["and", term] if kept else [term])
        if not kept:
            return None  # this branch holds for the selected groups, so the whole level does
        result.extend(["or", *kept] if result else kept)
    return result


def format_markers(markers: list[Any]) -> str:
    """packaging's parsed marker list back to text (both lock formats rewrite group terms this way)."""
    parts = []
    for item in markers:
        if isinstance(item, list):
            parts.append(f"({format_markers(item)})")
        elif isinstance(item, tuple):
            parts.append(" ".join(node.serialize() for node in item))
        else:
            parts.append(item)
    return " ".join(parts)


def markers_true(markers: str | None, environment: Mapping[str, str], where: str = "markers") -> bool:
    """Evaluate for the target; an expression that cannot be evaluated is the lock's fault."""
    if not markers:
        return True
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName

    try:
        effective = without_dependency_groups(markers)
        if effective is None:
            return True
        values: dict[str, str | frozenset[str]] = {**environment, "extra": "", "extras": _NO_EXTRAS}
        return _marker(effective).evaluate(values)
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        what = f"markers {shown(markers)}"
        raise LockError(f"{where}: {what} cannot be evaluated for this interpreter: {first}") from None
    except RecursionError:  # packaging recurses once per parenthesis; lock/schema.py bounds the length
        raise LockError(f"{where}: markers nested too deeply to evaluate") from None
