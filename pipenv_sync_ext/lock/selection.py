"""Which lock sections a sync installs, and in which order, chosen as ``pipenv sync`` chooses them.

The order matters: pipenv installs one category after the other, so when a
name is pinned differently in two selected sections the later one's pin is
what ends up installed (:func:`pipenv_sync_ext.plan.make_plan` applies that
rule and says so once, as a warning).

* nothing given: ``default``; ``--dev``: ``default``, ``develop``;
* ``--categories``: those, in the order typed (``"docs packages"`` installs
  ``docs`` first, so ``default``'s pins win), and it wins over ``--dev``;
  Pipfile names (``packages``, ``dev-packages``) and lock names (``default``,
  ``develop``) both work; a repeated name counts where it last appears;
* ``--all``: ``default``, ``develop``, then the Pipfile's other categories in
  Pipfile order (pipenv's ``get_package_categories``). A lock section the
  Pipfile no longer has is not installed; without a Pipfile (a deploy that
  ships only the lock) the lock's other sections follow in lock order.

A category the Pipfile declares but the lock lacks is empty, as in pipenv. A
category neither has is an error, where pipenv installs nothing and succeeds:
a typo must not turn ``--prune`` into "remove everything".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.model import Lock
from pipenv_sync_ext.lock.pipfile import PIPFILE_TO_LOCK, PipfileView, read_pipfile, with_pipfile_markers


def select_sections(
    lock: Lock,
    *,
    dev: bool = False,
    categories: Sequence[str] = (),
    all_sections: bool = False,
    pipfile: PipfileView | None = None,
) -> tuple[str, ...]:
    """The lock sections to sync, in install order (module docstring).

    Every returned name is a key of ``lock.sections`` (an empty one is added
    by :func:`select` for a Pipfile category the lock lacks).
    """
    declared = pipfile.sections if pipfile is not None else ()
    if all_sections:
        if pipfile is None:
            rest = [s for s in lock.sections if s not in ("default", "develop")]
            return ("default", "develop", *rest)
        return _last_occurrences(declared)
    if categories:
        chosen: list[str] = []
        for category in categories:
            section = PIPFILE_TO_LOCK.get(category, category)
            if section not in lock.sections and section not in declared:
                known = ", ".join(dict.fromkeys([*lock.sections, *declared]))
                where = f"the lock or {pipfile.path.name}" if pipfile is not None else "the lock"
                raise LockError(
                    f"{lock.path}: no category {category!r} in {where} (it has: {known})",
                    hint="pass --categories with one of those, or add the category to the Pipfile and `pipenv lock`",
                )
            chosen.append(section)
        return _last_occurrences(chosen)
    return ("default", "develop") if dev else ("default",)


def _last_occurrences(sections: Sequence[str]) -> tuple[str, ...]:
    # Installing a category again re-applies its pins, so only its last place in the order counts.
    return tuple(reversed(dict.fromkeys(reversed(sections))))


def select(
    lock: Lock,
    pipfile: Path | None,
    *,
    dev: bool = False,
    categories: Sequence[str] = (),
    all_sections: bool = False,
) -> tuple[Lock, tuple[str, ...]]:
    """The selection for a run: the lock as the run sees it (Pipfile markers restored, see
    :mod:`.pipfile`; empty sections for Pipfile categories it lacks) and the sections in order."""
    view = read_pipfile(pipfile) if pipfile is not None else None
    lock = with_pipfile_markers(lock, view)
    sections = select_sections(lock, dev=dev, categories=categories, all_sections=all_sections, pipfile=view)
    missing = [s for s in sections if s not in lock.sections]
    if missing:
        lock = dataclasses.replace(lock, sections={**lock.sections, **dict.fromkeys(missing, ())})
    return lock, sections
