"""The journal: a sync that changes a venv says so first, so that a killed one is noticed and repaired.

``<venv>/.pipenv-sync-journal.json`` is written (atomically) before the first
change. It is JSON: a random token of its own (``secrets.token_hex``), the
removals to do, each with every file it will delete (planned before the
first one goes), and the wheels to install. Each removal that completes is
then appended as one more JSON line (``{"removed": <metadata dir>}``, flushed
to disk before anything else changes): appending keeps a prune of many large
packages linear, where rewriting the whole list after each would not. A torn
last line only means that removal is completed again, which is harmless: its
files are gone and nothing was installed after it yet. The journal is removed
once the changes are done, or after a clean failure
(a :class:`~pipenv_sync_ext.errors.SyncError`, a full disk) that left no
removal half-done, so ``--check`` only reports a sync that really was cut short.

Recovery trusts nothing but the journal:

* an interrupted removal is *completed*, from the journal's own list (each path
  confined to the venv, and skipped when a distribution still registered
  claims it). Completing is the simple safe choice: the package was leaving the
  target set or about to be replaced, and the plan that follows reinstalls
  whatever the lock wants;
* a journal is a file in the venv, which anyone who could write the venv may
  have planted (a venv unpacked from an archive), and its token is its own: so
  a removal it lists is completed only for a ``*.dist-info``/``*.egg-info``
  directly in one of the venv's site directories, and only the paths that
  distribution's own RECORD (or ``installed-files.txt``, or its metadata
  directory) still lists. A RECORD that is gone means its files went before it
  (files go first, RECORD last). So a planted journal can at most complete the
  removal of a distribution, never delete a file another one owns, the
  interpreter or ``pyvenv.cfg``;
* an interrupted install is undone from its write-ahead list
  (:mod:`~pipenv_sync_ext.install.writeahead`) only when that list carries the
  journal's token. A ``*.pipenv-sync-partial`` directory the journal did not
  create (shipped inside a wheel, left by another tool) is never acted on.

After recovery the normal plan finishes the job: whatever is missing is
installed, whatever is extra is removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pipenv_sync_ext.fsutil import atomic_write
from pipenv_sync_ext.install import writeahead
from pipenv_sync_ext.install.removal import RemovalPlan, carry_out, claimed_files
from pipenv_sync_ext.target.inventory import InstalledDist, record_paths, scan

JOURNAL = ".pipenv-sync-journal.json"
_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class Journal:
    token: str
    started: float
    removing: tuple[RemovalPlan, ...]
    installing: tuple[str, ...]


def begin(venv: Path, removing: Sequence[RemovalPlan], installing: Sequence[str]) -> Journal:
    """Write the journal before the first change; installs from now on carry its token."""
    journal = Journal(secrets.token_hex(16), time.time(), tuple(removing), tuple(installing))
    writeahead.use_token(journal.token)
    _write(venv, journal)
    return journal


def removed(venv: Path, journal: Journal, plan: RemovalPlan) -> Journal:
    """Record that ``plan`` is complete: recovery must not delete its paths again (an install may reuse them)."""
    with (venv / JOURNAL).open("ab") as f:
        f.write(json.dumps({"removed": plan.metadata_dir}).encode() + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return dataclasses.replace(journal, removing=tuple(r for r in journal.removing if r is not plan))


def end(venv: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (venv / JOURNAL).unlink()


def settle(venv: Path, *, site_dirs: Iterable[Path]) -> None:
    """After a clean failure: drop the journal unless a removal or an install of ours is half-done."""
    journal = read(venv)
    if journal is None or journal.removing:
        return
    if any(writeahead.read(p)[0] == journal.token for p in writeahead.partial_installs(site_dirs)):
        return
    end(venv)


def _write(venv: Path, journal: Journal) -> None:
    data = {"format": _FORMAT, "pid": os.getpid(), **dataclasses.asdict(journal)}
    atomic_write(venv / JOURNAL, json.dumps(data).encode() + b"\n")


def read(venv: Path) -> Journal | None:
    """The journal, None when there is none; a journal that is not ours (unreadable, malformed) has no token."""
    try:
        first, *rest = (venv / JOURNAL).read_bytes().split(b"\n")
        journal = _parse(json.loads(first))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError, TypeError, KeyError):
        return Journal("", 0.0, (), ())
    done = set()
    for line in rest:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the torn last line of a kill mid-append: that removal is simply completed again
        if isinstance(record, dict) and isinstance(record.get("removed"), str):
            done.add(record["removed"])
    return dataclasses.replace(journal, removing=tuple(r for r in journal.removing if r.metadata_dir not in done))


def _parse(data: Any) -> Journal:
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("token"), str):
        raise ValueError("not a journal")
    plans = []
    for item in data["removing"]:
        fields = {f.name: item[f.name] for f in dataclasses.fields(RemovalPlan)}
        for key in ("files", "metadata_files"):
            if not all(isinstance(p, str) for p in fields[key]):
                raise ValueError(key)
            fields[key] = tuple(fields[key])
        if not all(isinstance(fields[k], str) for k in ("name", "metadata_dir", "site_dir")):
            raise ValueError("removal")
        plans.append(RemovalPlan(**fields))
    installing = tuple(str(i) for i in data["installing"])
    return Journal(data["token"], float(data["started"]), tuple(plans), installing)


def interrupted(venv: Path) -> str | None:
    """A description of an interrupted sync, if the journal says there was one."""
    journal = read(venv)
    if journal is None:
        return None
    if not journal.token:
        return f"{venv}: an earlier sync was interrupted (its journal {JOURNAL} is unreadable)"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(journal.started))
    todo = len(journal.removing) + len(journal.installing)
    return f"{venv}: an earlier sync (started {started}, {todo} changes) was interrupted"


def recover(venv: Path, *, site_dirs: Iterable[Path], scheme_dirs: Iterable[Path], log: Callable[[str], None]) -> bool:
    """Complete interrupted removals and undo unfinished installs; True when there was anything to recover."""
    journal = read(venv)
    if journal is None:
        return False
    site_dirs = list(site_dirs)
    stop = set(scheme_dirs)
    undone = 0
    if journal.token:
        leaving = {r.metadata_dir for r in journal.removing}
        # Whatever is still registered and not leaving keeps its files, however the journal spells them.
        keep = claimed_files(d for d in scan(site_dirs) if str(d.metadata_dir) not in leaving)
        for plan in journal.removing:
            own = _own_files(plan, site_dirs)
            if own is not None:
                carry_out(own, venv=venv, keep=keep)
        for staged in writeahead.partial_installs(site_dirs):
            undone += writeahead.undo_partial(staged, stop, root=venv, token=journal.token)
    log(
        f"{interrupted(venv)}: repairing it ({len(journal.removing)} unfinished removal(s) completed, "
        f"{undone} unfinished install(s) undone), then syncing"
    )
    end(venv)
    return True


def _own_files(plan: RemovalPlan, site_dirs: Sequence[Path]) -> RemovalPlan | None:
    """``plan`` cut down to what its distribution owns (see the module's docstring); None if it names none."""
    metadata_dir = Path(os.path.abspath(plan.metadata_dir))
    sites = {os.path.realpath(s) for s in site_dirs}
    if (
        not metadata_dir.name.endswith((".dist-info", ".egg-info"))
        or os.path.abspath(plan.site_dir) != str(metadata_dir.parent)
        or os.path.realpath(metadata_dir.parent) not in sites
    ):
        return None
    owned = set(record_paths(InstalledDist(plan.name, "", metadata_dir)))

    def listed(paths: Sequence[str]) -> tuple[str, ...]:
        return tuple(p for p in paths if Path(os.path.normpath(os.path.abspath(p))) in owned)

    return dataclasses.replace(plan, files=listed(plan.files), metadata_files=listed(plan.metadata_files))
