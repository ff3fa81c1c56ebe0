"""Load the chosen lock, whichever format it is, and say when the other format disagrees.

Which file is chosen is :func:`~pipenv_sync_ext.fastpath.lockchoice.choose_lockfile`
(one rule for the fast path, the CLI and the pipenv hook); this module reads it:
a ``pylock.toml`` / ``pylock.<name>.toml`` through :mod:`.pylock`, anything
else as a Pipfile.lock. Install and ``--prune`` both use the one lock loaded
here, so a venv is never pruned against a file it was not installed from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.fastpath.lockchoice import is_pylock, other_format
from pipenv_sync_ext.lock.model import Lock


def load_lock(path: Path, *, warn: Callable[[str], None] | None = None) -> Lock:
    """The lock at ``path``; with ``warn``, one line when the other format beside it disagrees."""
    lock = _read(path)
    if warn is not None:
        other = other_format(str(path.parent), str(path))
        if other is not None:
            note = disagreement(lock, Path(other))
            if note is not None:
                warn(note)
    return lock


def _read(path: Path) -> Lock:
    # The readers (and packaging, which they use) imported only here: is_pylock_lock is imported
    # by modules a cached plan runs through (lock/compiled.py), which must not pay for them.
    from pipenv_sync_ext.lock import pipfile_lock, pylock

    return pylock.load_pylock(path) if is_pylock(str(path)) else pipfile_lock.load_lock(path)


def is_pylock_lock(lock: Lock) -> bool:
    return is_pylock(str(lock.path))


def pinned_set(lock: Lock) -> frozenset[tuple[str, str]]:
    """``(name, version)`` of every pinned package in the lock, all sections: what it describes."""
    return frozenset(
        (e.name, e.version) for entries in lock.sections.values() for e in entries if e.version is not None
    )


def disagreement(lock: Lock, other_path: Path) -> str | None:
    """One line naming the file used when ``other_path`` describes a different set (else None)."""
    try:
        other = _read(other_path)
    except LockError as exc:
        return f"{other_path.name} beside it is not readable ({exc}); using {lock.path} only"
    ours, theirs = pinned_set(lock), pinned_set(other)
    if ours == theirs:
        return None
    only_ours = sorted(f"{n}=={v}" for n, v in ours - theirs)
    only_theirs = sorted(f"{n}=={v}" for n, v in theirs - ours)
    differ = ", ".join([*(f"+{x}" for x in only_ours[:3]), *(f"-{x}" for x in only_theirs[:3])])
    return (
        f"{lock.path.name} and {other_path.name} describe different packages ({differ}); "
        f"installing and pruning against {lock.path} only (choose the other with --lockfile)"
    )
