"""Every check of a wheel, before the first change: a wheel that would fail, fails here.

:func:`check_wheel` runs for every wheel of a sync before anything is removed
or written (``pipeline.steps`` calls it per package, and :func:`check_all`,
from :func:`~pipenv_sync_ext.install.execute.apply`, makes sure of it for
every install and every link mode). A failure is one line naming the wheel,
the package and the problem; the venv is unchanged.

What is checked, from the zip's central directory and three small members
(nothing is unpacked):

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
* ``RECORD`` is present, parses, and lists every member with a hash
  (``installer``'s check); the members' bytes against it once per stored
  artifact (the store re-hashes the file on every use).

Then :func:`check_targets` (from ``apply``, before the first removal, with the
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

import csv
import io
import os
import stat
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from pipenv_sync_ext.confine import Confiner, path_problem
from pipenv_sync_ext.errors import InstallError, SyncError, UnsafePathError
from pipenv_sync_ext.install.record import dist_scheme
from pipenv_sync_ext.install.wheelinstall import CONTENTS_VERIFIED
from pipenv_sync_ext.install.writeahead import PARTIAL_SUFFIX
from pipenv_sync_ext.lock.names import canonical_name
from pipenv_sync_ext.store import unpacked
from pipenv_sync_ext.store.cas import LocalArtifact
from pipenv_sync_ext.store.extract import SCHEMES, check_sizes, parse_entry_points
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
    label = local.artifact.filename
    where = f"{label} (locked as {name}{'==' + version if version else ''})"
    tree = unpacked.load(cache_dir, local.artifact.sha256) if cache_dir is not None else None
    if tree is not None:
        _identity(tree.dist_info, tree.metadata_name, tree.version, name=name, version=version, where=where)
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

    def place(directory: str, dest: str, label: str, what: str) -> None:
        directory = os.path.abspath(directory)
        _inside_venv(directory, venv, what)
        venv_dir = data
        root, rel = directory, dest
        if directory.startswith(venv_dir + "/"):
            root, rel = venv_dir or "/", f"{directory[len(venv_dir) + 1 :]}/{dest}"
        if root not in confiners:
            confiners[root] = Confiner(root)
        confiner = confiners[root]
        clashes.check(confiner, *confiner.resolve(rel, what=f"{label}: {what}"), label)

    for local in installs:
        with _checked_lock:
            found = [t for (sha, _n, _v), t in _checked.items() if sha == local.artifact.sha256]
        if not found:
            raise InstallError(f"{local.artifact.filename}: was not checked before installing; not installed")
        targets = found[0]
        scheme = dist_scheme(interpreter.scheme, targets.name)
        label = local.artifact.filename
        prefix = targets.dist_info + "/"
        for key, dest in targets.placed:
            if key == targets.root and dest.startswith(prefix):
                dest = targets.dist_info + PARTIAL_SUFFIX + dest[len(targets.dist_info) :]
            place(scheme[key], dest, label, f"a file for the {key} directory")
        for script in targets.scripts:
            place(scheme["scripts"], script, label, "an entry point's launcher")


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
    from installer.exceptions import InstallerError
    from installer.records import InvalidRecordEntry
    from installer.sources import WheelFile
    from installer.utils import parse_metadata_file

    with local.path.open("rb") as f, zipfile.ZipFile(f) as archive:
        check_sizes(archive, local.path.stat().st_size, where)
        dist_info, where_to = _check_members(archive, where)
        metadata = parse_metadata_file(archive.read(f"{dist_info}/METADATA").decode("utf-8", "replace"))
        _identity(dist_info, metadata["Name"] or "", metadata["Version"] or "", name=name, version=version, where=where)
        wheel = parse_metadata_file(archive.read(f"{dist_info}/WHEEL").decode("utf-8", "replace"))
        wheel_version = wheel["Wheel-Version"] or ""
        root = "purelib" if wheel["Root-Is-Purelib"] == "true" else "platlib"
        if not wheel_version.startswith("1."):
            raise InstallError(f"{where}: unsupported Wheel-Version {wheel_version!r}; not installed")
        if f"{dist_info}/entry_points.txt" in archive.NameToInfo:
            try:
                text = archive.read(f"{dist_info}/entry_points.txt").decode("utf-8")
            except UnicodeDecodeError:
                raise InstallError(f"{where}: entry_points.txt is not UTF-8; not installed") from None
            scripts = [n for n, _m, _a, _s in parse_entry_points(text, where)]
        else:
            scripts = []
        _check_record(archive, dist_info, where)
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
    return _Targets(name, dist_info, root, tuple((s or root, d) for s, d in where_to), tuple(scripts))


def _check_members(archive: zipfile.ZipFile, where: str) -> tuple[str, list[tuple[str, str]]]:
    """The one ``.dist-info`` directory and where each file goes (scheme, "" for the root's; path in it)."""
    names = archive.namelist()
    files: set[str] = set()
    dirs: set[str] = set()
    for item in names:
        path = item[:-1] if item.endswith("/") else item
        problem = path_problem(path)
        if problem is not None:
            raise UnsafePathError(
                f"{where}: archive member {item!r} escapes the install location (it {problem}); refused"
            )
        parts = path.split("/")
        if item.endswith("/"):
            dirs.add(path)
        elif path in files:
            raise InstallError(f"{where}: archive member {path!r} appears twice; not installed")
        else:
            files.add(path)
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    if clash := sorted(files & dirs):
        raise InstallError(f"{where}: archive member {clash[0]!r} is both a file and a directory; not installed")
    tops = {n.split("/", 1)[0] for n in files}
    dist_infos = sorted(t for t in tops if t.endswith(".dist-info") and t in dirs)
    if len(dist_infos) != 1:
        found = ", ".join(dist_infos) or "none"
        raise InstallError(f"{where}: holds {len(dist_infos)} .dist-info directories ({found}), not 1; not installed")
    dist_info = dist_infos[0]
    for required in ("METADATA", "WHEEL", "RECORD"):
        if f"{dist_info}/{required}" not in files:
            raise InstallError(f"{where}: {dist_info}/{required} is missing; not installed")
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    # Where each file lands, schemes resolved: purelib and platlib are one directory in a venv.
    placed: dict[tuple[str, str], str] = {}
    placed_dirs: set[tuple[str, str]] = set()
    where_to: list[tuple[str, str]] = []
    for path in sorted(files):
        parts = path.split("/")
        if parts[0] == data_dir:
            if len(parts) < 3 or parts[1] not in SCHEMES:
                raise InstallError(
                    f"{where}: {path} is not in a valid .data subdirectory ({data_dir}/<scheme>/..., "
                    f"schemes {', '.join(SCHEMES)}); not installed"
                )
            scheme, dest = parts[1], parts[2:]
        else:
            scheme, dest = "", parts
        where_to.append((scheme, "/".join(dest)))
        scheme = "purelib" if scheme in ("platlib", "") else scheme
        target = (scheme, "/".join(dest))
        if target in placed and "__pycache__" not in dest[:-1]:
            raise InstallError(f"{where}: {placed[target]} and {path} would be installed at one place; not installed")
        placed[target] = path
        placed_dirs.update((scheme, "/".join(dest[:i])) for i in range(1, len(dest)))
    if clash2 := sorted(set(placed) & placed_dirs):
        raise InstallError(
            f"{where}: {placed[clash2[0]]} would be installed where another member needs a directory; not installed"
        )
    return dist_info, where_to


def _check_record(archive: zipfile.ZipFile, dist_info: str, where: str) -> None:
    try:
        text = archive.read(f"{dist_info}/RECORD").decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InstallError(f"{where}: {dist_info}/RECORD cannot be read ({exc}); not installed") from None
    for number, row in enumerate(rows, 1):
        if row and len(row) != 3:
            raise InstallError(f"{where}: {dist_info}/RECORD line {number} has {len(row)} fields, not 3; not installed")


def _identity(dist_info: str, meta_name: str, meta_version: str, *, name: str, version: str | None, where: str) -> None:
    stem = dist_info[: -len(".dist-info")]
    dir_name, _, dir_version = stem.rpartition("-")
    if (
        version is not None
        and canonical_name(dir_name) == name == canonical_name(meta_name)
        and dir_version == meta_version == version
    ):
        return  # the usual wheel, spelled as locked: no version parser needed (issue 16)
    from packaging.specifiers import InvalidSpecifier, Specifier
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    if canonicalize_name(dir_name) != name or canonicalize_name(meta_name) != name:
        other = meta_name if canonicalize_name(meta_name) != name else dir_name
        raise InstallError(f"{where}: is a wheel of {other!r}, not of {name!r} ({dist_info}); not installed")
    if version is None:
        return
    try:
        # As pip matches a pin: "==2.1.0" accepts 2.1.0+cpu (no local label in the pin), "==2.1.0+cpu" only it.
        pin = Specifier(f"=={version}")
        found = [(what, Version(v)) for what, v in ((dist_info, dir_version), ("METADATA", meta_version))]
    except (InvalidVersion, InvalidSpecifier):
        raise InstallError(
            f"{where}: {dist_info} / METADATA give version {dir_version!r} / {meta_version!r}, "
            f"not the lock's {version}; not installed"
        ) from None
    for what, v in found:
        if not pin.contains(v, prereleases=True):
            raise InstallError(f"{where}: {what} says version {v}, the lock pins {version}; not installed")
