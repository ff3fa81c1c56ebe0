"""The unpacked store: each verified wheel unpacked once, so that installs only link files already on disk.

``<cache>/v1/unpacked/<sha256>/`` holds ``files/`` (the wheel's members at
their archive paths, except ``RECORD``, ``INSTALLER`` and ``__pycache__``)
and ``manifest.json``: the distribution's canonical name, its
``.dist-info``, the scheme of the archive root (``Root-Is-Purelib``), the
entry points, and per member its scheme and path within it (``.data/``
layout), sha256 (RECORD form), size and executable bit. A tree is made in
one pass over the stored zip (:func:`unpack`): the zip re-hashed through the
file descriptor that is unzipped, every check of its central directory
(:mod:`.wheelcheck`), the lock entry's identity, then every member inflated
once and hashed against RECORD as it is written, into a staging directory
under ``<cache>/v1/tmp`` that is renamed into place (a concurrent twin wins
harmlessly); a refusal removes the staging directory. ``manifest.json`` is
written last: a tree is the verdict that the wheel passed every check, and
preflight reads it instead of opening the zip again. :func:`start` begins
this as soon as a wheel is in the store (from gather's download threads), in
a pool of one thread per core, so unpacking overlaps the other downloads;
:func:`verified` collects it. The zip stays in the store as the source of
truth; a tree can always be rebuilt.

Files are made read-only (0o444, 0o555 when executable) and all get one
mtime, recorded in the manifest. Before a tree is used, every file is
stat'ed: a size, mtime or write bit that differs (or a missing file) means
the tree was touched, and it is rebuilt from the zip. ``--repair`` also
hashes every file of the trees it uses against the manifest. Tree files
are not fsynced one by one (thousands of fsyncs cost seconds): a tree cut
short by a power loss has files of the wrong size, which that check sees.
A wheel with a tree skips the zip checks of preflight but its identity (see
:mod:`pipenv_sync_ext.install.preflight`): they passed when the tree was made.
A tree made by this process is not stat'ed again before linking (``_fresh``).

Trees are made, checked and discarded here; :mod:`.extract` writes a tree's
files from the zip; :mod:`pipenv_sync_ext.install.linkinstall` installs from it.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipenv_sync_ext.confine import component, relative
from pipenv_sync_ext.errors import InstallError, UnsafePathError
from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.fsutil import atomic_write, read_private
from pipenv_sync_ext.store.cas import LocalArtifact
from pipenv_sync_ext.store.extract import SCHEMES, extract, record_hash

FORMAT = 3  # 2: entry-point names checked; 3: the version recorded (trees made before are made again)
# One thread per core: with more, Python threads doing short syscalls contend for the GIL and the filesystem
# (measured on 2 cores: 4 threads took ~1.6x as long as 2 to link project-medium).
WORKERS = min(8, os.cpu_count() or 1)


class Member(NamedTuple):
    path: str  # in the archive, and under the tree's files/
    scheme: str  # purelib, platlib, scripts, data or headers
    dest: str  # relative to the scheme's directory
    hash: str  # "sha256=<urlsafe b64>", as RECORD writes it
    size: int
    executable: bool


@dataclass(frozen=True)
class Unpacked:
    root: Path  # <cache>/v1/unpacked/<sha256>
    sha256: str
    wheel: str  # the wheel's file name
    name: str  # canonical distribution name
    metadata_name: str  # METADATA's Name, as written
    version: str  # METADATA's Version, as written
    dist_info: str
    root_scheme: str  # purelib or platlib
    mtime_ns: int  # every file of the tree has it
    files: tuple[Member, ...]
    entry_points: tuple[tuple[str, str, str, str], ...]  # name, module, attr, section (console/gui)

    @property
    def files_dir(self) -> str:
        return str(self.root / "files")


def unpacked_root(cache_dir: Path) -> Path:
    return cache_dir / "v1" / "unpacked"


_MAX_MANIFEST = 256 << 20  # bytes: 200,000 members (extract.py's bound) of a few hundred bytes each
_loaded: dict[Path, Unpacked] = {}  # per process: check_wheel loads a manifest, prepare uses it
_loaded_lock = threading.Lock()


def load(cache_dir: Path, sha256: str) -> Unpacked | None:
    """The unpacked tree of ``sha256`` as its manifest describes it, if there is one (not checked)."""
    root = unpacked_root(cache_dir) / sha256
    with _loaded_lock:
        found = _loaded.get(root)
    if found is not None:
        return found
    try:
        # its trees are linked into venvs as they are: a manifest another user could write is not ours
        data = json.loads(read_private(root / "manifest.json", _MAX_MANIFEST))
        if data.get("format") != FORMAT or data.get("sha256") != sha256:
            return None
        tree = Unpacked(
            root=root,
            sha256=sha256,
            wheel=str(data["wheel"]),
            name=str(data["name"]),
            metadata_name=str(data["metadata_name"]),
            version=str(data["version"]),
            dist_info=str(data["dist_info"]),
            root_scheme=str(data["root_scheme"]),
            mtime_ns=int(data["mtime_ns"]),
            files=tuple(Member(p, s, d, h, int(n), bool(x)) for p, s, d, h, n, x in data["files"]),
            entry_points=tuple((str(a), str(b), str(c), str(d)) for a, b, c, d in data["entry_points"]),
        )
        # The manifest is read back from disk: its paths obey the rule a wheel's members do.
        what = f"{root / 'manifest.json'}: an entry"
        for m in tree.files:
            relative(m.path, what=what)
            relative(m.dest, what=what)
            if m.scheme not in SCHEMES:
                raise ValueError(f"unknown scheme {m.scheme!r}")
        for name, *_rest in tree.entry_points:
            component(name, what=what)
        component(tree.dist_info, what=what)
    except (OSError, ValueError, KeyError, TypeError, UnsafePathError):
        return None  # not ours to trust: made again from the zip
    with _loaded_lock:
        _loaded[root] = tree
    return tree


def forget(root: Path) -> None:
    with _loaded_lock:
        _loaded.pop(root, None)
        _fresh.discard(root)


def damaged(tree: Unpacked, *, deep: bool = False) -> list[str]:
    """Members of ``tree`` that are not as unpacked: missing, resized, re-timed, writable, or (``deep``) rehashed."""
    bad = []
    base = tree.files_dir + "/"
    for m in tree.files:
        path = base + m.path
        try:
            st = os.stat(path)
        except OSError:
            bad.append(m.path)
            continue
        if st.st_size != m.size or st.st_mtime_ns != tree.mtime_ns or st.st_mode & 0o222:
            bad.append(m.path)
        elif deep:
            try:
                actual = _file_hash(path)
            except OSError:
                actual = ""
            if actual != m.hash:
                bad.append(m.path)
    return bad


def _file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return record_hash(h)


def discard(cache_dir: Path, sha256: str) -> None:
    """Delete an unpacked tree: renamed out of the way first (atomic for readers), then removed.

    Venvs hard-linked to its files keep them; they are only unlinked from the store.
    """
    root = unpacked_root(cache_dir) / sha256
    forget(root)
    tmp = cache_dir / "v1" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(dir=tmp, prefix="unpacked-del-"))
    with contextlib.suppress(OSError):  # already gone
        os.rename(root, holder / "x")
    shutil.rmtree(holder, ignore_errors=True)


def prepare(local: LocalArtifact, cache_dir: Path, *, deep: bool, warn: Say) -> Unpacked:
    """The checked unpacked tree of a verified stored wheel: reused when intact, else (re)built from the zip."""
    sha = local.artifact.sha256
    tree = load(cache_dir, sha)
    if tree is not None:
        with _loaded_lock:
            fresh = tree.root in _fresh
        bad = [] if fresh and not deep else damaged(tree, deep=deep)
        if not bad:
            return tree
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        warn(
            f"{tree.root}: the unpacked copy of {local.artifact.filename} was modified ({bad[0]}{more}; "
            "an installed hard link edited in place?); unpacked again from the verified wheel"
        )
        discard(cache_dir, sha)
    elif (unpacked_root(cache_dir) / sha).exists():
        discard(cache_dir, sha)  # no readable manifest: not ours to trust
    return unpack(local, cache_dir, expect=local.locked)


def unpack(local: LocalArtifact, cache_dir: Path, *, expect: tuple[str, str | None] | None = None) -> Unpacked:
    """Check a stored wheel and unpack it into the store's ``unpacked/`` in one pass (staged, then renamed
    into place): the zip re-hashed, :func:`~.wheelcheck.check_archive`, the lock entry ``expect`` (name,
    pin) against its identity, then every member inflated once, hashed against RECORD as it is written.
    A refusal is a :class:`~pipenv_sync_ext.errors.SyncError` naming the wheel (and the lock entry), and
    leaves no tree; a :class:`ValueError` or :class:`OSError`: no tree can be made (installer may cope)."""
    import zipfile

    from pipenv_sync_ext.lock.names import canonical_name
    from pipenv_sync_ext.store.wheelcheck import check_archive, identity, where_of

    sha = local.artifact.sha256
    label = local.artifact.filename
    where = where_of(label, *expect) if expect is not None else label
    tmp = cache_dir / "v1" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=tmp, prefix="unpack-"))
    try:
        with local.path.open("rb") as f:
            h = hashlib.sha256()
            while chunk := f.read(1 << 20):
                h.update(chunk)
            if h.hexdigest() != sha:
                raise InstallError(f"{local.path}: content changed since it was verified; not installed")
            size = f.tell()
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                checked = check_archive(archive, size, where)
                if expect is not None:
                    name, version = expect
                    found = checked.dist_info, checked.metadata_name, checked.version
                    identity(found, name=name, version=version, where=where)
                files, mtime_ns = extract(
                    archive, staging / "files", label=where, dist_info=checked.dist_info, root_scheme=checked.root,
                    record=checked.record, read=checked.read,
                )  # fmt: skip
        manifest = {
            "format": FORMAT,
            "sha256": sha,
            "wheel": label,
            "name": canonical_name(checked.metadata_name),  # packaging's, without its import in the pool
            "metadata_name": checked.metadata_name,
            "version": checked.version,
            "dist_info": checked.dist_info,
            "root_scheme": checked.root,
            "mtime_ns": mtime_ns,
            "files": files,
            "entry_points": [list(e) for e in checked.entry_points],
        }
        # Written last: a tree with a manifest passed every check (the verdict preflight reads).
        atomic_write(staging / "manifest.json", json.dumps(manifest, separators=(",", ":")).encode(), mode=0o644)
        final = unpacked_root(cache_dir) / sha
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)
        except OSError:
            if load(cache_dir, sha) is None:  # not a concurrent twin that won
                raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, UnicodeDecodeError, csv.Error, EOFError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InstallError(f"{where}: not a valid wheel: {first}; not installed") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    tree = load(cache_dir, sha)
    if tree is None:
        raise InstallError(f"{label}: its unpacked copy in {cache_dir} cannot be read back")
    with _loaded_lock:
        _fresh.add(tree.root)
    return tree


_fresh: set[Path] = set()  # trees this process made: intact (prepare does not stat them again, unless deep)

# Checks and unpacks begun as soon as a wheel is in the store (gather), collected by preflight.
_jobs: dict[tuple[Path, str, str, str | None], Future[Unpacked]] = {}
_jobs_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _verify_unpack(local: LocalArtifact, cache_dir: Path, expect: tuple[str, str | None]) -> Unpacked:
    tree = load(cache_dir, local.artifact.sha256)
    if tree is not None:
        return tree  # checked when it was made; its identity is the caller's to compare, damage prepare's
    if (unpacked_root(cache_dir) / local.artifact.sha256).exists():
        discard(cache_dir, local.artifact.sha256)  # no readable manifest: not ours to trust
    return unpack(local, cache_dir, expect=expect)


def start(local: LocalArtifact, cache_dir: Path, *, name: str, version: str | None) -> None:
    """Begin checking and unpacking a stored wheel for the lock entry ``name==version`` now, in a pool of
    :data:`WORKERS` threads (so it overlaps downloads still running); :func:`verified` collects it.

    Decided here: the pool is the process's, shared by every caller, because the
    work is CPU-bound (inflate, hash) and the machine's cores are the bound.
    """
    global _pool
    key = (cache_dir, local.artifact.sha256, name, version)
    with _jobs_lock:
        if key in _jobs:
            return
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="unpack")
        _jobs[key] = _pool.submit(_verify_unpack, local, cache_dir, (name, version))


def verified(local: LocalArtifact, cache_dir: Path, *, name: str, version: str | None) -> Unpacked:
    """The tree of a stored wheel, checked (every member against RECORD) as :func:`unpack` does: the job
    :func:`start` began (waited for), else done now. Raises as :func:`unpack` does."""
    with _jobs_lock:
        job = _jobs.get((cache_dir, local.artifact.sha256, name, version))
    if job is None:
        return _verify_unpack(local, cache_dir, (name, version))
    return job.result()


def cancel_pending() -> None:
    """Drop the jobs not begun yet: the sync is failing, nobody will collect them."""
    with _jobs_lock:
        for job in _jobs.values():
            job.cancel()


def prepare_all(
    installs: Sequence[LocalArtifact],
    cache_dir: Path,
    *,
    deep: bool,
    warn: Say,
    done: Callable[[], None] | None = None,
) -> list[Unpacked | None]:
    """An intact unpacked tree per wheel, in parallel; None (with a warning) where one cannot be made.
    ``done``: called once per wheel (from any thread), for a progress display."""

    said = threading.Lock()

    def say(message: str) -> None:  # one at a time: the pool's threads would interleave their lines
        with said:
            warn(message)

    def one(local: LocalArtifact) -> Unpacked | None:
        try:
            return attempt(local)
        finally:
            if done is not None:
                with said:  # the progress line is redrawn on the same terminal as the warnings
                    done()

    def attempt(local: LocalArtifact) -> Unpacked | None:
        try:
            return prepare(local, cache_dir, deep=deep, warn=say)
        except (OSError, ValueError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            say(
                f"{local.artifact.filename}: cannot be unpacked into {unpacked_root(cache_dir)} ({first}); "
                "installing it from the wheel"
            )
            return None

    if len(installs) <= 1:
        return [one(local) for local in installs]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(installs))) as pool:
        return list(pool.map(one, installs))
