"""Build requirements (PEP 518) of what pip builds: fetched once, kept in the store, offered offline.

Editable, ``path`` and local VCS entries and sdist-only packages are built by
pip, and pip first installs their ``[build-system] requires`` (pip's default
for a project without one: ``setuptools>=40.8.0`` and ``wheel``) into an
isolated build environment. Left to itself pip downloads them on every build
and keeps nothing, so an offline fresh venv could not build them. Here:

* **What is needed** is read from the source itself, never by running it:
  ``pyproject.toml`` of the directory, of the sdist archive (its top
  directory), or of the locked commit of a local git repository.
* **Fetched by pip, from the lock's sources** (``pip wheel`` in the target
  interpreter, so markers and tags are the target's; ``pip download`` with
  the platform options for ``fetch``'s explicit targets), with their own
  dependencies, or under ``--offline`` from ``--find-links`` only.
* **Trust.** Build requirements have no lock hashes. They are trusted as pip
  trusts them (whatever the lock's sources serve, over the lock's
  ``verify_ssl``), and *pinned by what was first fetched*: each file is kept
  in the content-addressed store by its sha256, and a record
  ``<cache>/v1/build-requires/<key>.json`` (the key is the sha256 of the
  sorted requirement list) lists those sha256s and which entries needed
  them. Every later build, online or offline, is offered exactly the
  recorded files (each re-hashed) with ``--no-index``: the same bytes every
  time, nothing the index changed since, and no request.
* **Requirements the backend adds** (``get_requires_for_build_*``, e.g. an
  old setuptools asking for ``wheel``) are not declared anywhere: when pip
  reports ``No matching distribution found for X`` online, X is fetched the
  same way, added to the record, and the build retried.

A record whose files are gone (``cache prune``) is fetched again online;
offline, the sync fails before changing anything and says how to get them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipenv_sync_ext.errors import MissingArtifactsError
from pipenv_sync_ext.fsutil import atomic_write
from pipenv_sync_ext.lock.model import Source
from pipenv_sync_ext.store import piptool
from pipenv_sync_ext.store.artifact import is_sdist
from pipenv_sync_ext.store.cas import LocalArtifact, Store, sha256_of

# pip's own default for a project without [build-system] (pip/_internal/pyproject.py).
DEFAULT_REQUIRES = ("setuptools>=40.8.0", "wheel")
_MAX_PYPROJECT = 1 << 20  # a pyproject.toml in an archive is read only up to this size
_ROUNDS = 4  # builds retried after fetching what the backend asked for


@dataclass(frozen=True)
class Need:
    """The declared build requirements of one thing pip builds, and what it is (for messages and the record)."""

    requires: tuple[str, ...]
    needed_by: str

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(sorted(self.requires)).encode()).hexdigest()


def declared(pyproject: str | None) -> tuple[str, ...] | None:
    """``[build-system] requires`` of a pyproject.toml's text (None: there is none, so pip's default).

    None back when the file is not valid: pip will refuse it and say why.
    """
    if pyproject is None:
        return DEFAULT_REQUIRES
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        build_system = tomllib.loads(pyproject).get("build-system")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    if build_system is None:
        return DEFAULT_REQUIRES
    requires = build_system.get("requires") if isinstance(build_system, dict) else None
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        return None
    try:
        return tuple(sorted({str(Requirement(r)) for r in requires}))
    except InvalidRequirement:
        return None


def of_tree(directory: Path) -> tuple[str, ...] | None:
    try:
        return declared((directory / "pyproject.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return declared(None)
    except (OSError, UnicodeDecodeError):
        return None


def of_archive(path: Path) -> tuple[str, ...] | None:
    """From an sdist (``.tar.gz``, ``.zip``...): its ``<top>/pyproject.toml``; () for a wheel (nothing to build)."""
    if path.name.endswith(".whl"):
        return ()
    if not is_sdist(path.name):
        return None
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/pyproject.toml")]
                if not names:
                    return declared(None)
                info = zf.getinfo(names[0])
                if info.file_size > _MAX_PYPROJECT:
                    return None
                return declared(zf.read(info).decode("utf-8"))
        with tarfile.open(path) as tf:
            for member in tf:
                parts = member.name.strip("/").split("/")
                if len(parts) == 2 and parts[1] == "pyproject.toml" and member.isfile():
                    if member.size > _MAX_PYPROJECT:
                        return None
                    handle = tf.extractfile(member)
                    return declared(handle.read().decode("utf-8")) if handle else None
        return declared(None)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError, EOFError):
        return None


def of_git(repo: Path, ref: str | None, subdirectory: str | None) -> tuple[str, ...] | None:
    """From the locked commit of a local git repository (``git show``), without a checkout."""
    path = f"{subdirectory.strip('/')}/pyproject.toml" if subdirectory else "pyproject.toml"
    rev = ref or "HEAD"
    try:
        listed = subprocess.run(
            ["git", "-C", str(repo), "ls-tree", "--name-only", rev, "--", path],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if listed.returncode != 0:
            return None
        if not listed.stdout.strip():
            return declared(None)
        shown = subprocess.run(
            ["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return declared(shown.stdout) if shown.returncode == 0 else None


@dataclass(frozen=True)
class PipFetch:
    """How pip gets build requirements for one target: its pip, the subcommand and options, and the target."""

    pip: tuple[str, ...]  # e.g. (python, "-m", "pip")
    args: tuple[str, ...]  # ("wheel", "--wheel-dir") or ("download", <platform options>, "--dest")
    markers: Mapping[str, str]
    tag_rank: Mapping[str, int]


@dataclass
class _Record:
    requires: list[str]
    added: list[str] = field(default_factory=list)  # asked for by the backend, beyond the declared ones
    needed_by: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # sha256 -> file name


class BuildRequirements:
    def __init__(
        self,
        cache_dir: Path,
        store: Store,
        fetcher: Callable[[], PipFetch],
        *,
        find_links: Sequence[Path],
        sources: Sequence[Source],
        offline: bool,
        log: Callable[[str], None],
    ) -> None:
        self._dir = cache_dir / "v1" / "build-requires"
        self._tmp = cache_dir / "v1" / "tmp"
        self._store = store
        self._fetcher = fetcher  # made when first needed: it may have to find a pip
        self._fetch: PipFetch | None = None
        self._find_links = list(find_links)
        self._sources = list(sources)
        self._offline = offline
        self._log = log
        self._lock = threading.RLock()  # sdists are built from download threads: one record update at a time

    def _target(self) -> PipFetch:
        if self._fetch is None:
            self._fetch = self._fetcher()
        return self._fetch

    def _load(self, need: Need) -> _Record:
        try:
            data = json.loads((self._dir / f"{need.key}.json").read_text(encoding="utf-8"))
            return _Record(
                requires=list(need.requires),
                added=[str(r) for r in data.get("added", [])],
                needed_by=[str(n) for n in data.get("needed_by", [])],
                files={str(h): str(n) for h, n in dict(data.get("files", {})).items()},
            )
        except (OSError, ValueError, TypeError, AttributeError):
            return _Record(requires=list(need.requires))

    def _save(self, need: Need, record: _Record) -> None:
        if need.needed_by not in record.needed_by:
            record.needed_by.append(need.needed_by)
        data = {
            "requires": record.requires,
            "added": record.added,
            "needed_by": record.needed_by,
            "files": dict(sorted(record.files.items(), key=lambda item: item[1])),
        }
        atomic_write(self._dir / f"{need.key}.json", json.dumps(data, indent=1).encode())

    def _stored(self, record: _Record) -> list[LocalArtifact]:
        found = []
        for digest in record.files:
            local = self._store.get(digest)
            if local is not None and self._store.verify(local):
                found.append(local)
        return found

    def ensure(self, need: Need) -> list[LocalArtifact]:
        """The stored files for ``need``, fetched first when the record does not cover it (before any change)."""
        if not need.requires:
            return []
        with self._lock:
            return self._ensure(need)

    def _ensure(self, need: Need) -> list[LocalArtifact]:
        record = self._load(need)
        stored = self._stored(record)
        uncovered = self._uncovered([*record.requires, *record.added], stored)
        if not uncovered:
            if need.needed_by not in record.needed_by:
                self._save(need, record)
            return stored
        if self._offline and not self._find_links:
            raise MissingArtifactsError(
                f"{need.needed_by}: its build requirements ({', '.join(uncovered)}) are not in the store, and "
                "--offline fetches nothing, nothing was changed; sync once online or run `pipenv-sync fetch` "
                "(which keep them in the store), or pass --find-links with them"
            )
        return self._fetch_into(need, record, uncovered)

    def _fetch_into(self, need: Need, record: _Record, requirements: Sequence[str]) -> list[LocalArtifact]:
        target = self._target()
        where = ["--no-index"] if self._offline else piptool.index_args(self._sources)
        links = [arg for d in self._find_links for arg in ("--find-links", str(d))]
        self._log(f"Fetching the build requirements of {need.needed_by}: {', '.join(requirements)}")
        self._tmp.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self._tmp, prefix="build-requires-"))
        try:
            proc = subprocess.run(
                [*target.pip, *target.args, str(tmp), *where, *links, *requirements],
                capture_output=True,
                text=True,
                env=piptool.pip_env(),
            )
            if proc.returncode != 0:
                where_from = "--find-links (--offline)" if self._offline else "the lock's sources"
                raise MissingArtifactsError(
                    f"{need.needed_by}: its build requirements ({', '.join(requirements)}) could not be fetched "
                    f"from {where_from}, nothing was changed: {piptool.failure_cause(proc.stderr or proc.stdout)}"
                )
            for path in sorted(tmp.iterdir()):
                digest = sha256_of(path)
                self._store.add_copy(path, digest)
                record.files[digest] = path.name
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._save(need, record)
        return self._stored(record)

    def _uncovered(self, requirements: Sequence[str], stored: Sequence[LocalArtifact]) -> list[str]:
        """Requirements (markers true for the target) that no stored file satisfies."""
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import (
            InvalidSdistFilename,
            InvalidWheelFilename,
            canonicalize_name,
            parse_sdist_filename,
            parse_wheel_filename,
        )

        target = self._target()
        available: dict[str, list[str]] = {}
        for local in stored:
            name = local.artifact.filename
            try:
                if name.endswith(".whl"):
                    project, version, _build, tags = parse_wheel_filename(name)
                    if not any(str(t) in target.tag_rank for t in tags):
                        continue
                else:
                    project, version = parse_sdist_filename(name)
            except (InvalidWheelFilename, InvalidSdistFilename):
                continue
            available.setdefault(canonicalize_name(project), []).append(str(version))
        uncovered = []
        for text in requirements:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue  # pip will say what is wrong with it
            if req.marker is not None and not req.marker.evaluate(dict(target.markers)):
                continue
            versions = available.get(canonicalize_name(req.name), [])
            if not any(req.specifier.contains(v, prereleases=True) for v in versions):
                uncovered.append(text)
        return uncovered

    def links(self, need: Need) -> Path:
        """A flat directory of links to the recorded files (pip's --find-links); the caller removes it."""
        flat = Path(tempfile.mkdtemp(prefix="pipenv-sync-build-requires-"))
        for local in self._stored(self._load(need)) if need.requires else []:
            if not (flat / local.artifact.filename).exists():
                os.symlink(local.path, flat / local.artifact.filename)
        return flat

    def run_build(self, need: Need | None, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run a pip command that builds (``install``, ``wheel``) with ``need``'s recorded requirements only.

        Online, what the backend asks for beyond them is fetched, recorded and the
        build retried. ``need`` None (a remote VCS URL, an unreadable
        pyproject.toml): pip gets the lock's sources, as it would by itself.
        """
        links = [arg for d in self._find_links for arg in ("--find-links", str(d))]
        if need is None:
            where = ["--no-index"] if self._offline else piptool.index_args(self._sources)
            return subprocess.run([*command, *where, *links], capture_output=True, text=True, env=piptool.pip_env())
        tried: set[str] = set()
        for _round in range(_ROUNDS):
            flat = self.links(need)
            try:
                proc = subprocess.run(
                    [*command, "--no-index", "--find-links", str(flat), *links],
                    capture_output=True,
                    text=True,
                    env=piptool.pip_env(),
                )
            finally:
                shutil.rmtree(flat, ignore_errors=True)
            wanted = piptool.missing_requirement(proc.stderr) if proc.returncode != 0 else None
            if wanted is None or self._offline or wanted in tried:
                return proc
            tried.add(wanted)
            with self._lock:
                record = self._load(need)
                record.added = sorted({*record.added, wanted})
                self._fetch_into(need, record, [wanted])
        return proc
