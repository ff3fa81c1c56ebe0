"""Which lock sections a sync installs, chosen as ``pipenv sync`` chooses them."""

from __future__ import annotations

from collections.abc import Sequence

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.model import Lock

# pipenv's names for the two built-in sections, in both vocabularies.
_PIPFILE_TO_LOCK = {"packages": "default", "dev-packages": "develop"}


def select_sections(
    lock: Lock,
    *,
    dev: bool = False,
    categories: Sequence[str] = (),
    all_sections: bool = False,
) -> tuple[str, ...]:
    """The lock sections to sync, chosen the way ``pipenv sync`` chooses them.

    ``--categories`` wins over ``--dev`` (as in pipenv); Pipfile names
    (``packages``, ``dev-packages``) and lock names (``default``, ``develop``)
    are both accepted. ``--all`` takes every section of the lock. An unknown
    category is an error, not an empty sync.
    """
    if all_sections:
        return tuple(lock.sections)
    if categories:
        chosen: list[str] = []
        for category in categories:
            section = _PIPFILE_TO_LOCK.get(category, category)
            if section not in lock.sections:
                known = ", ".join(lock.sections)
                raise LockError(f"{lock.path}: no category {category!r} in the lock (it has: {known})")
            if section not in chosen:
                chosen.append(section)
        return tuple(chosen)
    return ("default", "develop") if dev else ("default",)
