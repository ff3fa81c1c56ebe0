"""The journal: a sync that changes a venv says so first, so that a killed one is noticed and repaired.

``<venv>/.pipenv-sync-journal.json`` is written (atomically) before the first
change and removed after the last. Finding it means an earlier sync was cut
short. Recovery is then simple, because every step is made to be safe to
interrupt: a removal deletes the metadata last (the distribution still shows
as installed and is planned again), and an install registers its metadata last
and keeps a write-ahead list of the files it wrote (:mod:`~pipenv_sync_ext.install.wheelinstall`), so
its partial files can be undone. After recovery the normal plan finishes the
job: whatever is missing is installed, whatever is extra is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pipenv_sync_ext.fsutil import atomic_write
from pipenv_sync_ext.install.wheelinstall import partial_installs, undo_partial

JOURNAL = ".pipenv-sync-journal.json"


def begin(venv: Path, removing: Sequence[str], installing: Sequence[str]) -> None:
    data = {"pid": os.getpid(), "started": time.time(), "removing": list(removing), "installing": list(installing)}
    atomic_write(venv / JOURNAL, json.dumps(data).encode())


def end(venv: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (venv / JOURNAL).unlink()


def interrupted(venv: Path) -> str | None:
    """A description of an interrupted sync, if the journal says there was one."""
    try:
        data = json.loads((venv / JOURNAL).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return f"{venv}: an earlier sync was interrupted (its journal is unreadable)"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(data.get("started", 0))))
    todo = len(data.get("removing", [])) + len(data.get("installing", []))
    return f"{venv}: an earlier sync (started {started}, {todo} changes) was interrupted"


def recover(venv: Path, *, site_dirs: Iterable[Path], scheme_dirs: Iterable[Path], log: Callable[[str], None]) -> bool:
    """Undo unfinished installs; True when there was anything to recover."""
    note = interrupted(venv)
    partial = partial_installs(site_dirs)
    if note is None and not partial:
        return False
    log(f"{note or venv}: repairing it ({len(partial)} unfinished install(s) undone), then syncing")
    stop = set(scheme_dirs)
    for staged in partial:
        undo_partial(staged, stop)
    return True
