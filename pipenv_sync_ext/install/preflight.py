"""Every check of a wheel, before the first change: a wheel that would fail, fails here.

:func:`check_wheel` runs for every wheel of a sync before anything is removed
or written (``pipeline.steps`` calls it per package, and :func:`check_all`,
from :func:`~pipenv_sync_ext.install.execute.prepare`, makes sure of it for
every install and every link mode). A failure is one line naming the wheel,
the package and the problem; the venv is unchanged.

What is checked (:mod:`pipenv_sync_ext.store.wheelcheck`, from the zip's
central directory and three small members, then every member's bytes while
:func:`pipenv_sync_ext.store.unpacked.unpack` writes the wheel's tree into the
store: one pass, each member inflated once, begun by gather right after the
download so it overlaps the others; this module waits for its verdict):

* sizes: :func:`pipenv_sync_ext.store.extract.check_sizes` (zip bombs:
  per member, in total, by ratio, by count);
* members: each a safe relative path (the lexical rule of :mod:`pipenv_sync_ext.confine`),
  none twice, no file where another member needs a directory, no two members
  installed at one place (``.data/purelib/x`` and ``x``);
* exactly one top-level ``.dist-info``; ``.data/<scheme>/...`` only for the
  known schemes (purelib, platlib, headers, scripts, data), never a file at
  ``.data/<scheme>`` itself;
* identity: the ``.dist-info`` directory's name and version, and METADATA's
  ``Name`` and ``Version``, equal the lock's name (normalized) and pin
  (compared as versions): a file the lock allows for A holding B's dist-info,
  or another version of A, is refused;
* ``WHEEL`` says ``Wheel-Version: 1.x``; ``entry_points.txt`` parses, strictly
  (:func:`pipenv_sync_ext.store.extract.parse_entry_points`: launcher names
  are single file names);
* ``RECORD`` is present, parses, and lists every member with a hash and a
  size (``installer``'s ``validate_record`` rules), and every member's bytes
  match it (:func:`pipenv_sync_ext.store.extract.extract`, as it writes
  them). Where no tree can be made (no cache, a store that cannot hold it),
  the zip is judged as it is by ``installer``'s ``validate_record``, once per
  stored artifact (the store re-hashes the file on every use).

Then :func:`check_targets` (from ``execute.prepare``, before the first removal, with the
venv's interpreter) confines every path the wheels write under the venv as it
is now, and refuses clashes with what it holds. It runs after the pipeline has
removed the venv's stamp, the one change a refusal there leaves; called from
``pipeline.steps.preflight`` instead, it would leave none.

A wheel already unpacked in the store passed all of this when its tree was
made (the tree's manifest records what was found); only its identity is
compared with the lock entry, which may name the same bytes differently.

Decided here: the lock's pin is the authority on the version, so a wheel whose
file name says one version and whose METADATA another is refused even when
the lock's hash allows it; versions are compared as pip matches ``==pin``
(``1.0`` is ``1.0.0``; a pin without a local label accepts ``+cpu``).
"""

from __future__ import annotations

import os
import stat
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from pipenv_sync_ext.confine import Confiner
from pipenv_sync_ext.errors import InstallError, SyncError, UnsafePathError
from pipenv_sync_ext.install.record import dist_scheme
from pipenv_sync_ext.install.wheelinstall import CONTENTS_VERIFIED
from pipenv_sync_ext.install.writeahead import PARTIAL_SUFFIX
from pipenv_sync_ext.store import unpacked
from pipenv_sync_ext.store.cas import LocalArtifact
from pipenv_sync_ext.store.wheelcheck import check_archive, identity, where_of
from pipenv_sync_ext.target.interpreter import Interpreter
from pipenv_sync_ext.target.inventory import InstalledDist, record_paths

__all__ = ["check_all", "check_targets", "check_wheel"]


class _Targets(NamedTuple):
    """What a checked wheel writes: where each file goes (scheme, path in it) and its launchers' names."""

    name: str  # the lock's (canonical) name: the headers directory's
    dist_info: str
    root: str  # the archive root's scheme (purelib or platlib): the .dist-info's
    placed: tuple[tuple[str, str], ...]
    scripts: tuple[str, ...]


# (sha256, name, version) checked by this process, with what the wheel writes: apply's check_all
# does not check twice, and check_targets confines those paths.
_checked: dict[tuple[str, str, str | None], _Targets] = {}
_checked_lock = threading.Lock()


def check_wheel(local: LocalArtifact, *, name: str, version: str | None, cache_dir: Path | None) -> None:
    """Refuse a wheel that is not, completely, the lock entry ``name`` (``==version``); see the module."""
    key = (local.artifact.sha256, name, version)
    with _checked_lock:
        if key in _checked:
            return
    where = where_of(local.artifact.filename, name, version)
    tree = None
    if cache_dir is not None:
        try:
            # One pass: the checks of the zip run while it is unpacked (begun after its download, by gather).
            tree = unpacked.verified(local, cache_dir, name=name, version=version)
        except SyncError:
            unpacked.cancel_pending()
            raise
        except (OSError, ValueError):
            tree = None  # no tree can be made here: the zip is checked as it is, and installer installs it
    if tree is not None:
        identity((tree.dist_info, tree.metadata_name, tree.version), name=name, version=version, where=where)
        placed = tuple((m.scheme, m.dest) for m in tree.files)
        targets = _Targets(name, tree.dist_info, tree.root_scheme, placed, tuple(e[0] for e in tree.entry_points))
    else:
        try:
            targets = _check_archive(local, name=name, version=version, where=where)
        except SyncError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError, OSError, EOFError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InstallError(f"{where}: not a valid wheel: {first}; not installed") from None
    with _checked_lock:
        _checked[key] = targets


def check_targets(
    installs: Sequence[LocalArtifact],
    *,
    interpreter: Interpreter,
    venv: Path,
    removals: Sequence[InstalledDist] = (),
) -> None:
    """Every path installing ``installs`` writes, confined under its scheme directory as the venv is now.

    Run before the first removal, for every link mode: a symlink in the venv
    (``lib64 -> /``, a package directory linked elsewhere) that would lead a
    write out of it refuses the sync while nothing is changed. A ``.dist-info``
    is judged where it is written first (its ``.pipenv-sync-partial`` name).

    Clashes with what the venv holds are refused too: a file to install where
    a directory is, or below a file, unless a distribution being removed
    (``removals``) owns that directory's files or that file (an upgrade that
    turns ``pkg/x.py`` into ``pkg/x/``). Owners are compared by resolved path,
    and only for a clash (rare), so the usual sync pays no ``realpath``.
    """
    clashes = _Clashes(removals)
    confiners: dict[str, Confiner] = {}
    # Confined under the venv itself (the data scheme's directory), not each scheme's own: a scheme
    # directory that is a link out of the venv (include -> /elsewhere) is caught too.
    data = os.path.abspath(interpreter.scheme["data"])
    _inside_venv(data, venv, "data")
    data = data.rstrip("/")

    bases: dict[str, tuple[Confiner, str]] = {}  # scheme directory -> its confiner, and its path under it

    def place(directory: str, dest: str, label: str, what: str) -> None:
        base = bases.get(directory)
        if base is None:  # once per directory, not per file: abspath and the split are the same for all
            absolute = os.path.abspath(directory)
            _inside_venv(absolute, venv, what)
            root, lead = absolute, ""
            if absolute.startswith(data + "/"):
                root, lead = data or "/", f"{absolute[len(data) + 1 :]}/"
            if root not in confiners:
                confiners[root] = Confiner(root)
            base = bases[directory] = (confiners[root], lead)
        confiner, lead = base
        clashes.check(confiner, *confiner.resolve(lead + dest, what=what), label)

    checked: dict[str, _Targets] = {}  # by sha256: the first lock entry checked (one wheel writes the same paths)
    with _checked_lock:
        for (sha, _n, _v), t in _checked.items():
            checked.setdefault(sha, t)
    for local in installs:
        targets = checked.get(local.artifact.sha256)
        if targets is None:
            raise InstallError(f"{local.artifact.filename}: was not checked before installing; not installed")
        scheme = dist_scheme(interpreter.scheme, targets.name)
        label = local.artifact.filename
        prefix = targets.dist_info + "/"
        whats = {key: f"{label}: a file for the {key} directory" for key in scheme}
        for key, dest in targets.placed:
            if key == targets.root and dest.startswith(prefix):
                dest = targets.dist_info + PARTIAL_SUFFIX + dest[len(targets.dist_info) :]
            place(scheme[key], dest, label, whats[key])
        for script in targets.scripts:
            place(scheme["scripts"], script, label, f"{label}: an entry point's launcher")


def _inside_venv(directory: str, venv: Path, what: str) -> None:
    """The interpreter's scheme directories come from its probe, which the cache keeps
    (``<cache>/probes/``): one planted there must not lead an install out of the venv the
    pipeline named. Compared lexically and resolved (the venv reached through a symlink)."""
    for base in {os.path.abspath(venv), os.path.realpath(venv)}:
        if directory == base or directory.startswith(base.rstrip("/") + "/"):
            return
    raise UnsafePathError(
        f"{venv}: the interpreter says {what} goes to {directory}, outside the venv; nothing installed",
        hint=f"remove the interpreter probes the cache keeps (<cache>/probes/) and sync again, or --rebuild {venv}",
    )


class _Clashes:
    def __init__(self, removals: Sequence[InstalledDist]) -> None:
        self._removals = removals
        self._owned: tuple[set[str], set[str]] | None = None  # real paths of removed files, their directories
        self._dirs_ok: set[str] = set()

    def _removed(self) -> tuple[set[str], set[str]]:
        if self._owned is None:
            files = {os.path.realpath(p) for dist in self._removals for p in record_paths(dist)}
            dirs = {os.path.dirname(f) for f in files}
            for d in list(dirs):
                while d not in ("", "/") and (d := os.path.dirname(d)) not in dirs:
                    dirs.add(d)
            self._owned = files, dirs
        return self._owned

    def check(self, confiner: Confiner, path: str, mode: int, label: str) -> None:
        parent = path.rpartition("/")[0]
        if parent not in self._dirs_ok:
            blocker = confiner.blocking_file(path)
            if blocker is not None and os.path.realpath(blocker) not in self._removed()[0]:
                raise InstallError(
                    f"{label}: {path} cannot be installed: {blocker} is a file, not a directory "
                    "(and no package being removed owns it); not installed"
                )
            self._dirs_ok.add(parent)
        if stat.S_ISDIR(mode) and os.path.realpath(path) not in self._removed()[1]:
            raise InstallError(
                f"{label}: {path} cannot be installed: a directory is there "
                "(and no package being removed owns its files); not installed"
            )


def check_all(installs: Sequence[LocalArtifact], *, cache_dir: Path | None) -> None:
    """:func:`check_wheel` for every wheel about to be installed, with the lock entry gather chose it for."""
    for local in installs:
        name, version = local.locked if local.locked is not None else (_name_of(local), None)
        check_wheel(local, name=name, version=version, cache_dir=cache_dir)


def _name_of(local: LocalArtifact) -> str:
    from pipenv_sync_ext.store.artifact import project_of

    parsed = project_of(local.artifact.filename)
    if parsed is None:
        raise InstallError(f"{local.artifact.filename}: not a wheel file name; not installed")
    return parsed[0]


def _check_archive(local: LocalArtifact, *, name: str, version: str | None, where: str) -> _Targets:
    """The checks :func:`~pipenv_sync_ext.store.unpacked.unpack` makes, for a wheel no tree is made of
    (no cache, or the store cannot hold its tree): the members' bytes by ``installer``'s ``validate_record``."""
    from installer.exceptions import InstallerError
    from installer.records import InvalidRecordEntry
    from installer.sources import WheelFile

    with local.path.open("rb") as f, zipfile.ZipFile(f) as archive:
        checked = check_archive(archive, local.path.stat().st_size, where)
        identity((checked.dist_info, checked.metadata_name, checked.version), name=name, version=version, where=where)
        try:
            source = WheelFile(archive)
            # Every member against RECORD, once per artifact: the store re-hashes the file on each
            # use, so a wheel whose contents checked out once still does.
            verified = local.path.parent / CONTENTS_VERIFIED
            source.validate_record(validate_contents=not verified.exists())
        except (InstallerError, InvalidRecordEntry) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InstallError(f"{where}: not a valid wheel: {first}; not installed") from None
        if not verified.exists():
            verified.touch()
    root = checked.root
    placed = tuple((s or root, d) for s, d in checked.where_to)
    return _Targets(name, checked.dist_info, root, placed, tuple(e[0] for e in checked.entry_points))
