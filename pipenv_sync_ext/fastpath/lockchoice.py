"""Which lock file a run reads: one rule, shared by the fast path and the full CLI (standard library only).

1. ``--lockfile PATH`` (a Pipfile.lock or any ``pylock.toml`` / ``pylock.<name>.toml``);
2. else ``Pipfile.lock`` beside the Pipfile, when it exists: pipenv's own install rule
   (``pipenv sync`` reads Pipfile.lock first, pylock.toml only without one);
3. else ``pylock.toml``;
4. else the only ``pylock.<name>.toml`` (PEP 751's named locks). Several of them are
   an error that lists them, sorted: never the first the filesystem happens to return.

With none of them the answer is ``Pipfile.lock``, whose loader then says
"not found (run `pipenv lock` first)".
"""

from __future__ import annotations

import os
import re

PIPFILE_LOCK = "Pipfile.lock"
PYLOCK = "pylock.toml"
_NAMED = re.compile(r"^pylock\.[^.\s/\\]+\.toml$")


def is_pylock(path: str) -> bool:
    """PEP 751's file names: ``pylock.toml`` and ``pylock.<name>.toml``."""
    name = os.path.basename(path)
    return name == PYLOCK or bool(_NAMED.match(name))


def named_pylocks(directory: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(n for n in names if _NAMED.match(n) and os.path.isfile(os.path.join(directory, n)))


def choose_lockfile(directory: str, explicit: str | None = None) -> tuple[str, str | None]:
    """The lock's absolute path, and a one-line problem when the choice is ambiguous (else None)."""
    if explicit:
        return os.path.abspath(explicit), None
    for name in (PIPFILE_LOCK, PYLOCK):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate, None
    named = named_pylocks(directory)
    if len(named) == 1:
        return os.path.join(directory, named[0]), None
    default = os.path.join(directory, PIPFILE_LOCK)
    if named:
        listed = ", ".join(named)
        return default, f"{directory}: several PEP 751 locks ({listed}) and no Pipfile.lock; choose one with --lockfile"
    return default, None


def other_format(directory: str, chosen: str) -> str | None:
    """The lock of the other format beside the chosen one, when there is one (to compare them)."""
    if is_pylock(chosen):
        candidate = os.path.join(directory, PIPFILE_LOCK)
        return candidate if os.path.isfile(candidate) else None
    candidate = os.path.join(directory, PYLOCK)
    if os.path.isfile(candidate):
        return candidate
    named = named_pylocks(directory)
    return os.path.join(directory, named[0]) if len(named) == 1 else None
