"""Installing wheels by linking their files from an unpacked store: the fast path of :mod:`.execute`.

Why
    A fresh venv of ~50 packages is ~8,000 files. Writing them out of the zips
    (``installer``: open, decompress, hash, write, per file) is most of a
    sync. Here each stored wheel is unpacked *once*, and every install after
    that only links (or clones, or copies) files that are already on disk.

The unpacked store
    ``<cache>/v1/unpacked/<sha256>/`` holds ``files/`` (the wheel's members at
    their archive paths, except ``RECORD``, ``INSTALLER`` and ``__pycache__``)
    and ``manifest.json``: the distribution's canonical name, its
    ``.dist-info``, the scheme of the archive root (``Root-Is-Purelib``), the
    entry points, and per member its scheme and path within it (``.data/``
    layout), sha256 (RECORD form), size and executable bit. A tree is made on
    first use of a stored wheel whose sha256 and RECORD were verified
    (:func:`.wheelinstall.check_wheel`): the zip is re-hashed through the same
    file descriptor that is unzipped, every member is checked against RECORD
    while it is written, into a staging directory under ``<cache>/v1/tmp``
    that is renamed into place (a concurrent twin wins harmlessly). The zip
    stays in the store as the source of truth; a tree can always be rebuilt.

    Files are made read-only (0o444, 0o555 when executable) and all get one
    mtime, recorded in the manifest. Before a tree is used, every file is
    stat'ed: a size, mtime or write bit that differs (or a missing file) means
    the tree was touched, and it is rebuilt from the zip. ``--repair`` also
    hashes every file of the trees it uses against the manifest. Tree files
    are not fsynced one by one (thousands of fsyncs cost seconds): a tree cut
    short by a power loss has files of the wrong size, which that check sees.
    A wheel with a tree skips the zip checks of preflight but its name (see
    :func:`.execute.check_wheel`): they passed when the tree was made.

Link modes (``--link-mode``)
    ``hardlink``: files share their inode with the store (uv's default on
    Linux too). ``clone``: a reflink (``ioctl FICLONE``), a separate inode
    sharing blocks copy-on-write (btrfs, XFS, bcachefs...), else a copy.
    ``copy``: ``copy_file_range``. ``auto`` (the default) clones where the
    filesystem can, else hard-links on the same filesystem, else copies.
    ``installer`` is PyPA's installer from the zip (:mod:`.wheelinstall`): the
    reference, and the fallback for a wheel whose tree cannot be made.

    Whatever the mode, scripts are never linked: entry-point launchers are
    generated for the target's interpreter (the same text as ``installer``'s),
    ``.data/scripts`` files have a ``#!python`` shebang rewritten, and any file
    landing in the scripts directory is copied (a venv built beside its target
    has the paths in ``bin/`` rewritten in place).

Never let an edit of an installed file reach the cache
    Only a hard link shares bytes with the store, and only with a read-only
    file. Nothing this tool does writes into an installed file: an install over
    an existing file links or copies to a new name and renames it over (the
    ``installer`` path unlinks first, too), removals and ``--repair`` unlink.
    What remains is a user (or root, whom 0o444 does not stop) editing a
    hard-linked file in place: the edit is in the store's inode, and in every
    venv that links it. It is caught three ways: ``--verify`` reports the file
    as modified (RECORD hash); the next use of the tree sees its mtime changed
    and rebuilds it before linking anything from it; ``--repair`` hashes the
    tree, rebuilds it from the zip, and replaces the venv's file (unlink, then
    link from the new tree). Use ``--link-mode clone`` or ``copy`` where
    installed files are meant to be edited.

Guarantees kept from :mod:`.wheelinstall`
    The ``.dist-info`` is written as ``<name>.dist-info.pipenv-sync-partial``
    with its write-ahead list (``.pipenv-sync-written``: every path, ``N`` new
    or ``E`` existing, written before the first file) and renamed into place
    last, so :mod:`.journal` undoes a killed install; ``failpoints.step()``
    runs before every file operation. RECORD lists paths relative to the site
    directory (``../../../bin/x`` for scripts), sha256 and size, itself without
    a hash, sorted as ``installer`` sorts them; ``INSTALLER`` says
    ``pipenv-sync``.

Parallel
    Trees are prepared (before the first change), then wheels installed, by a
    thread pool of one thread per core (up to 8), the largest wheel first;
    directories are made race-free. Wheels that share a target path with
    another wheel of the same sync, and wheels falling back to ``installer``
    (which changes the process umask), are installed one at a time after the
    others, in plan order.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from . import failpoints
from .errors import InstallError
from .interpreter import Interpreter
from .store import LocalArtifact
from .wheelinstall import INSTALLER_NAME, MANIFEST, PARTIAL_SUFFIX, undo_partial

if TYPE_CHECKING:
    import zipfile

MODES = ("auto", "clone", "hardlink", "copy", "installer")
FORMAT = 1
SCHEMES = ("purelib", "platlib", "scripts", "data", "headers")
_FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
_NEW = ".pipenv-sync-new"  # a file installed over an existing one is made under this suffix, then renamed over
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF, errno.EPERM}
_NO_LINK = {errno.EXDEV, errno.EMLINK, errno.EPERM, errno.EOPNOTSUPP, errno.EACCES}
# One thread per core: with more, Python threads doing short syscalls contend for the GIL and the filesystem
# (measured on 2 cores: 4 threads took ~1.6x as long as 2 to link project-medium).
_WORKERS = min(8, os.cpu_count() or 1)
Warn = Callable[[str], None]


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
    dist_info: str
    root_scheme: str  # purelib or platlib
    mtime_ns: int  # every file of the tree has it
    files: tuple[Member, ...]
    entry_points: tuple[tuple[str, str, str, str], ...]  # name, module, attr, section (console/gui)

    @property
    def files_dir(self) -> str:
        return str(self.root / "files")


# -- the unpacked store ------------------------------------------------------------------------------------------


def unpacked_root(cache_dir: Path) -> Path:
    return cache_dir / "v1" / "unpacked"


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
        data = json.loads((root / "manifest.json").read_bytes())
        if data.get("format") != FORMAT or data.get("sha256") != sha256:
            return None
        tree = Unpacked(
            root=root,
            sha256=sha256,
            wheel=str(data["wheel"]),
            name=str(data["name"]),
            metadata_name=str(data["metadata_name"]),
            dist_info=str(data["dist_info"]),
            root_scheme=str(data["root_scheme"]),
            mtime_ns=int(data["mtime_ns"]),
            files=tuple(Member(p, s, d, h, int(n), bool(x)) for p, s, d, h, n, x in data["files"]),
            entry_points=tuple((str(a), str(b), str(c), str(d)) for a, b, c, d in data["entry_points"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    with _loaded_lock:
        _loaded[root] = tree
    return tree


def _forget(root: Path) -> None:
    with _loaded_lock:
        _loaded.pop(root, None)


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
    return _record_hash(h)


def _record_hash(h: hashlib._Hash) -> str:
    return f"{h.name}=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


def discard(cache_dir: Path, sha256: str) -> None:
    """Delete an unpacked tree: renamed out of the way first (atomic for readers), then removed.

    Venvs hard-linked to its files keep them; they are only unlinked from the store.
    """
    root = unpacked_root(cache_dir) / sha256
    _forget(root)
    tmp = cache_dir / "v1" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(dir=tmp, prefix="unpacked-del-"))
    with contextlib.suppress(OSError):  # already gone
        os.rename(root, holder / "x")
    shutil.rmtree(holder, ignore_errors=True)


def prepare(local: LocalArtifact, cache_dir: Path, *, deep: bool, warn: Warn) -> Unpacked:
    """The checked unpacked tree of a verified stored wheel: reused when intact, else (re)built from the zip."""
    sha = local.artifact.sha256
    tree = load(cache_dir, sha)
    if tree is not None:
        bad = damaged(tree, deep=deep)
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
    return unpack(local, cache_dir)


def unpack(local: LocalArtifact, cache_dir: Path) -> Unpacked:
    """Unpack a stored wheel into the store's ``unpacked/`` (staged, then renamed into place)."""
    import zipfile

    sha = local.artifact.sha256
    label = local.artifact.filename
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
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                manifest = _extract(archive, staging / "files", label)
        manifest.update(format=FORMAT, sha256=sha, wheel=label)
        (staging / "manifest.json").write_text(json.dumps(manifest, separators=(",", ":")), encoding="utf-8")
        final = unpacked_root(cache_dir) / sha
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)
        except OSError:
            if load(cache_dir, sha) is None:  # not a concurrent twin that won
                raise
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, csv.Error) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InstallError(f"{label}: not a valid wheel: {first}; not installed") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    tree = load(cache_dir, sha)
    if tree is None:
        raise InstallError(f"{label}: its unpacked copy in {cache_dir} cannot be read back")
    return tree


def _extract(archive: zipfile.ZipFile, dest: Path, label: str) -> dict[str, object]:
    """Write every member under ``dest``, checked against RECORD; the manifest's content."""
    from installer.utils import parse_entrypoints, parse_metadata_file
    from packaging.utils import canonicalize_name

    infos = [i for i in archive.infolist() if not i.filename.endswith("/")]
    tops = {i.filename.split("/", 1)[0] for i in infos}
    dist_infos = [t for t in tops if t.endswith(".dist-info")]
    if len(dist_infos) != 1:
        raise InstallError(f"{label}: holds {len(dist_infos)} .dist-info directories, not 1; not installed")
    dist_info = dist_infos[0]
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    wheel = parse_metadata_file(archive.read(f"{dist_info}/WHEEL").decode("utf-8"))
    if not (wheel["Wheel-Version"] or "").startswith("1."):
        raise InstallError(f"{label}: unsupported Wheel-Version {wheel['Wheel-Version']!r}; not installed")
    root_scheme = "purelib" if wheel["Root-Is-Purelib"] == "true" else "platlib"
    name = parse_metadata_file(archive.read(f"{dist_info}/METADATA").decode("utf-8", "replace"))["Name"] or ""
    record_text = archive.read(f"{dist_info}/RECORD").decode("utf-8")
    record = {row[0]: row for row in csv.reader(io.StringIO(record_text)) if row}
    entry_points: list[list[str]] = []
    if f"{dist_info}/entry_points.txt" in archive.NameToInfo:
        text = archive.read(f"{dist_info}/entry_points.txt").decode("utf-8")
        try:
            entry_points = [list(ep) for ep in parse_entrypoints(text)]
        except (AssertionError, ValueError) as exc:
            raise InstallError(f"{label}: unreadable entry_points.txt ({exc}); not installed") from None

    mtime_ns = int(time.time()) // 2 * 2 * 1_000_000_000  # whole (even) seconds: any filesystem keeps it as is
    base = str(dest)
    made: set[str] = set()
    files: list[list[object]] = []
    skip = {f"{dist_info}/RECORD", f"{dist_info}/INSTALLER"}
    for info in infos:
        path = info.filename
        parts = path.split("/")
        if path in skip or "__pycache__" in parts[:-1]:
            continue  # written by the install / never installed (as installer does)
        if path.startswith("/") or "\\" in path or ".." in parts:
            raise InstallError(f"{label}: archive member {path!r} escapes the install location; not installed")
        if "" in parts or "." in parts or "\0" in path:
            raise ValueError(f"member {path!r} has no place in a tree")  # installer copes: it installs instead
        if parts[0] == data_dir:
            if len(parts) < 3 or parts[1] not in SCHEMES:
                raise ValueError(f"{path} is not in a valid .data subdirectory")
            scheme, rel = parts[1], "/".join(parts[2:])
        else:
            scheme, rel = root_scheme, path
        mode = info.external_attr >> 16
        executable = bool(mode and (mode & 0o170000) == 0o100000 and mode & 0o111)
        target = f"{base}/{path}"
        parent = target.rpartition("/")[0]
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        expected = record.get(path)
        algorithm = expected[1].partition("=")[0] if expected and expected[1] else "sha256"
        digest = hashlib.sha256()
        other = None if algorithm == "sha256" else hashlib.new(algorithm)
        size = 0
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o555 if executable else 0o444)
        try:
            with archive.open(info) as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    if other is not None:
                        other.update(chunk)
                    size += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
        ours = _record_hash(digest)
        if (
            expected
            and expected[1]
            and (_record_hash(other or digest) != expected[1] or (expected[2] and int(expected[2]) != size))
        ):
            raise InstallError(f"{label}: {path} does not match the hash its RECORD gives; not installed")
        files.append([path, scheme, rel, ours, size, int(executable)])
    if files:
        mtime_ns = os.stat(f"{base}/{files[0][0]}").st_mtime_ns  # as the filesystem keeps it
    return {
        "name": canonicalize_name(name),
        "metadata_name": name,
        "dist_info": dist_info,
        "root_scheme": root_scheme,
        "mtime_ns": mtime_ns,
        "files": files,
        "entry_points": entry_points,
    }


# -- putting files in place -------------------------------------------------------------------------------------


def _umask() -> int:
    """The process umask, read without setting it (Linux 4.7+) when possible: threads may be creating files."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Linker:
    """How files get from a tree into the venv: one mode per sync, lowered (clone -> its fallback) on first refusal."""

    def __init__(self, requested: str, same_device: bool, warn: Warn) -> None:
        if requested not in MODES or requested == "installer":
            raise ValueError(f"not a link mode: {requested!r}")
        self.requested = requested
        self._warn = warn
        self._warned = False
        self._lock = threading.Lock()
        if requested == "copy":
            self.mode = self.fallback = "copy"
        elif requested == "hardlink":
            self.mode = self.fallback = "hardlink" if same_device else "copy"
            if not same_device:
                self._say("--link-mode hardlink: the cache and the venv are on different filesystems; copying")
        else:  # clone, auto
            self.mode = "clone" if same_device else "copy"
            self.fallback = "hardlink" if requested == "auto" and same_device else "copy"
        umask = _umask()  # once, before the pool starts: installer's modes for executables and scripts
        self.exec_mode = (0o777 & ~umask) | 0o111
        self.script_mode = self.exec_mode | (self.exec_mode & 0o444) >> 2

    def _say(self, message: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        self._warn(message)

    def _lower(self) -> None:
        if self.mode == "clone":
            self.mode = self.fallback
            if self.requested == "clone":
                self._say("--link-mode clone: the filesystem cannot clone (reflink) files; copying")

    def place(self, src: str, dst: str, executable: bool, existed: bool, *, copy: bool = False) -> None:
        """Put ``src`` at ``dst`` (a copy when ``copy``); an existing ``dst`` is replaced (renamed over), never
        written into: it may be a hard link into the store."""
        create = self._copy if copy else self._create
        if existed:
            target = dst + _NEW
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            create(src, target, executable)
            os.replace(target, dst)
            return
        try:
            create(src, dst, executable)
        except FileExistsError:  # appeared since it was looked at: replace it all the same
            os.unlink(dst)
            create(src, dst, executable)

    def _copy(self, src: str, dst: str, executable: bool) -> None:
        copy_file(src, dst, executable, self.exec_mode)

    def _create(self, src: str, dst: str, executable: bool) -> None:
        if self.mode == "clone":
            if _clone(src, dst, executable, self.exec_mode):
                return
            self._lower()
        if self.mode == "hardlink":
            try:
                os.link(src, dst)
                return
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                # EMLINK (the store's file has too many links), EXDEV, EPERM: this file is copied
        copy_file(src, dst, executable, self.exec_mode)

    def write(self, dst: str, data: bytes, mode: int | None, existed: bool) -> None:
        """A new file with ``data`` (``mode`` when given, else the umask's default)."""
        target = dst + _NEW if existed else dst
        if existed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            os.unlink(target)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        if existed:
            os.replace(target, dst)


def _clone(src: str, dst: str, executable: bool, exec_mode: int) -> bool:
    """Reflink ``src`` to a new ``dst``; False (and no ``dst``) when the filesystem cannot."""
    import fcntl

    sfd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o777 if executable else 0o666)
        try:
            try:
                fcntl.ioctl(dfd, _FICLONE, sfd)
            except OSError as exc:
                if exc.errno not in _NO_CLONE:
                    raise
                os.close(dfd)
                dfd = -1
                os.unlink(dst)
                return False
            if executable:
                os.fchmod(dfd, exec_mode)
        finally:
            if dfd >= 0:
                os.close(dfd)
    finally:
        os.close(sfd)
    return True


_copy_file_range = getattr(os, "copy_file_range", None)


def copy_file(src: str, dst: str, executable: bool, exec_mode: int) -> None:
    """Copy ``src`` to a new file ``dst`` in the kernel where it can (``copy_file_range``)."""
    global _copy_file_range
    sfd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o777 if executable else 0o666)
        try:
            copied = False
            if _copy_file_range is not None:
                try:
                    while _copy_file_range(sfd, dfd, 1 << 30):
                        pass
                    copied = True
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                        raise
                    _copy_file_range = None
                    os.lseek(sfd, 0, os.SEEK_SET)
                    os.lseek(dfd, 0, os.SEEK_SET)
                    os.ftruncate(dfd, 0)
            if not copied:
                while chunk := os.read(sfd, 1 << 20):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(dfd, view) :]
            if executable:
                os.fchmod(dfd, exec_mode)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


# -- scripts -----------------------------------------------------------------------------------------------------

# installer.scripts' posix launcher, byte for byte (tests/test_linkinstall.py compares them): importing installer
# costs ~0.1 s, a tenth of a whole fresh sync.
_SCRIPT = """\
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {import_name}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({func_path}())
"""


def launcher(executable: str, module: str, attr: str) -> bytes:
    """The console/gui script for an entry point, as ``installer`` writes it on POSIX."""
    exe = executable.encode("utf-8")
    if b" " not in exe and len(exe) + 3 <= 127:
        shebang = b"#!" + exe
    else:
        import shlex

        shebang = b"#!/bin/sh\n'''exec' " + shlex.quote(executable).encode("utf-8") + b' "$0" "$@"\n' + b"' '''"
    code = _SCRIPT.format(module=module, import_name=attr.split(".")[0], func_path=attr).encode("utf-8")
    return shebang + b"\n" + code


def _fix_shebang(data: bytes, interpreter: str) -> bytes:
    """``installer.utils.fix_shebang``: a ``#!python`` first line names the target interpreter."""
    if not data.startswith(b"#!python"):
        return data
    end = data.find(b"\n")
    return f"#!{interpreter}\n".encode() + (data[end + 1 :] if end >= 0 else b"")


# -- installing one wheel ----------------------------------------------------------------------------------------

_LINK, _COPY, _SCRIPT_FILE = 0, 1, 2


class _Op(NamedTuple):
    kind: int
    member: Member
    dst: str


def _ops(tree: Unpacked, scheme: dict[str, str]) -> list[_Op]:
    site = scheme[tree.root_scheme]
    staged = f"{site}/{tree.dist_info}{PARTIAL_SUFFIX}"
    prefix = tree.dist_info + "/"
    scripts = scheme["scripts"] + "/"
    ops = []
    for m in tree.files:
        if m.scheme == tree.root_scheme and m.dest.startswith(prefix):
            dst = staged + m.dest[len(tree.dist_info) :]
        else:
            dst = f"{scheme[m.scheme]}/{m.dest}"
        kind = _SCRIPT_FILE if m.scheme == "scripts" else _COPY if dst.startswith(scripts) else _LINK
        ops.append(_Op(kind, m, dst))
    return ops


def _schemes(interpreter: Interpreter) -> dict[str, str]:
    return {k: os.path.abspath(v) for k, v in interpreter.scheme.items()}


def _targets(tree: Unpacked, ops: Sequence[_Op], scheme: dict[str, str]) -> list[str]:
    """Every path outside the staged ``.dist-info`` that installing ``tree`` writes."""
    paths = [op.dst for op in ops if PARTIAL_SUFFIX + "/" not in op.dst]
    paths += [f"{scheme['scripts']}/{ep[0]}" for ep in tree.entry_points]
    return paths


def install_tree(
    tree: Unpacked, interpreter: Interpreter, linker: Linker, label: str, ops: list[_Op] | None = None
) -> None:
    """Install one wheel from its unpacked tree; registered (``.dist-info`` renamed into place) last."""
    scheme = _schemes(interpreter)
    site = scheme[tree.root_scheme]
    staged = f"{site}/{tree.dist_info}{PARTIAL_SUFFIX}"
    final = f"{site}/{tree.dist_info}"
    try:
        _install(tree, interpreter, scheme, staged, linker, _ops(tree, scheme) if ops is None else ops)
        if os.path.lexists(final):
            shutil.rmtree(final) if os.path.isdir(final) and not os.path.islink(final) else os.unlink(final)
        os.unlink(f"{staged}/{MANIFEST}")
        failpoints.step()
        os.rename(staged, final)  # the distribution is registered here
    except BaseException as exc:
        undo_partial(Path(staged), stop_at={Path(p) for p in scheme.values()})
        if isinstance(exc, InstallError):
            raise
        if isinstance(exc, OSError):
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InstallError(f"{label}: cannot be installed: {first}") from None
        raise


def _install(
    tree: Unpacked, interpreter: Interpreter, scheme: dict[str, str], staged: str, linker: Linker, ops: list[_Op]
) -> None:
    scripts = scheme["scripts"]
    entry_scripts = [(f"{scripts}/{name}", module, attr) for name, module, attr, _section in tree.entry_points]
    dsts = [op.dst for op in ops] + [dst for dst, _m, _a in entry_scripts]

    # Write-ahead: every path, new (N) or existing (E, never removed by an undo), before the first file.
    os.makedirs(staged, exist_ok=True)
    dirs = {dst.rpartition("/")[0] for dst in dsts}
    existing_dirs = {d for d in dirs if os.path.isdir(d)}
    existed = [dst.rpartition("/")[0] in existing_dirs and os.path.lexists(dst) for dst in dsts]
    lines = []
    for dst, was in zip(dsts, existed, strict=True):
        lines.append(f"{'E' if was else 'N'}\t{dst}\n")
        if was:
            lines.append(f"N\t{dst}{_NEW}\n")
    with open(f"{staged}/{MANIFEST}", "a", encoding="utf-8") as manifest:
        manifest.write("".join(lines))
    for d in sorted(dirs - existing_dirs, key=len):
        os.makedirs(d, exist_ok=True)  # race-free: another wheel may be making the same directory

    base = tree.files_dir + "/"
    rows: list[tuple[str, str, str, int]] = []  # scheme, path in it, hash, size
    for op, was in zip(ops, existed[: len(ops)], strict=True):
        m = op.member
        failpoints.step()
        if op.kind == _SCRIPT_FILE:
            with open(base + m.path, "rb") as f:
                data = _fix_shebang(f.read(), interpreter.executable)
            linker.write(op.dst, data, linker.exec_mode if m.executable else None, was)
            rows.append((m.scheme, m.dest, _record_hash(hashlib.sha256(data)), len(data)))
        else:
            linker.place(base + m.path, op.dst, m.executable, was, copy=op.kind == _COPY)
            rows.append((m.scheme, m.dest, m.hash, m.size))
    for (dst, module, attr), was in zip(entry_scripts, existed[len(ops) :], strict=True):
        data = launcher(interpreter.executable, module, attr)
        failpoints.step()
        linker.write(dst, data, linker.script_mode, was)
        rows.append(("scripts", dst[len(scripts) + 1 :], _record_hash(hashlib.sha256(data)), len(data)))

    failpoints.step()
    linker.write(f"{staged}/INSTALLER", INSTALLER_NAME, None, False)
    installer_hash = _record_hash(hashlib.sha256(INSTALLER_NAME))
    rows.append((tree.root_scheme, f"{tree.dist_info}/INSTALLER", installer_hash, len(INSTALLER_NAME)))
    failpoints.step()
    linker.write(f"{staged}/RECORD", record_text(rows, tree, scheme).encode("utf-8"), None, False)


def record_text(rows: Sequence[tuple[str, str, str, int]], tree: Unpacked, scheme: dict[str, str]) -> str:
    """RECORD as ``installer`` writes it: sorted by path within the scheme, other schemes relative to the root's."""
    root = scheme[tree.root_scheme]
    prefixes = {s: "" if s == tree.root_scheme else os.path.relpath(scheme[s], start=root) + "/" for s in SCHEMES}
    entries = [(path, s, h, str(size)) for s, path, h, size in rows]
    entries.append((f"{tree.dist_info}/RECORD", tree.root_scheme, "", ""))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=",", quotechar='"', lineterminator="\n")
    for path, s, h, size in sorted(entries, key=lambda e: e[0]):
        writer.writerow((prefixes[s] + path, h, size))
    return out.getvalue()


# -- many wheels -------------------------------------------------------------------------------------------------


def prepare_all(installs: Sequence[LocalArtifact], cache_dir: Path, *, deep: bool, warn: Warn) -> list[Unpacked | None]:
    """An intact unpacked tree per wheel, in parallel; None (with a warning) where one cannot be made."""

    def one(local: LocalArtifact) -> Unpacked | None:
        try:
            return prepare(local, cache_dir, deep=deep, warn=warn)
        except (OSError, ValueError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            warn(
                f"{local.artifact.filename}: cannot be unpacked into {unpacked_root(cache_dir)} ({first}); "
                "installing it from the wheel"
            )
            return None

    if len(installs) <= 1:
        return [one(local) for local in installs]
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(installs))) as pool:
        return list(pool.map(one, installs))


def same_device(cache_dir: Path, interpreter: Interpreter) -> bool:
    try:
        site = interpreter.scheme["purelib"]
        return os.stat(unpacked_root(cache_dir)).st_dev == os.stat(site).st_dev
    except OSError:
        return False


def install_all(
    jobs: Sequence[tuple[LocalArtifact, Unpacked | None]],
    interpreter: Interpreter,
    cache_dir: Path,
    link_mode: str,
    warn: Warn,
    fallback: Callable[[LocalArtifact], None],
) -> None:
    """Install every wheel: from its tree in parallel, then one at a time those that share a path or fall back."""
    linker = Linker(link_mode, same_device(cache_dir, interpreter), warn)
    scheme = _schemes(interpreter)
    plans = {i: _ops(tree, scheme) for i, (_local, tree) in enumerate(jobs) if tree is not None}
    owners: dict[str, int] = {}
    shared: set[int] = set()
    for i, (_local, tree) in enumerate(jobs):
        if tree is None:
            continue
        for path in _targets(tree, plans[i], scheme):
            first = owners.setdefault(path, i)
            if first != i:
                shared.update((first, i))
    parallel = [i for i, (_l, tree) in enumerate(jobs) if tree is not None and i not in shared]
    # The largest first: the sync lasts at least as long as its largest wheel (django: 3,000 directories).
    parallel.sort(key=lambda i: -len(jobs[i][1].files))  # type: ignore[union-attr]
    later = [i for i in range(len(jobs)) if i not in parallel]

    def one(i: int) -> None:
        local, tree = jobs[i]
        if tree is None:
            fallback(local)
            return
        try:
            install_tree(tree, interpreter, linker, local.artifact.filename, plans[i])
        except InstallError:
            if not damaged(tree):
                raise
            # Another sync rebuilt the tree (it found it modified) while this one linked from it;
            # what this one wrote is undone: once more, from the tree as it is now.
            _forget(tree.root)
            tree = prepare(local, cache_dir, deep=False, warn=warn)
            install_tree(tree, interpreter, linker, local.artifact.filename)

    if len(parallel) > 1:
        pool = ThreadPoolExecutor(max_workers=min(_WORKERS, len(parallel)))
        futures: list[Future[None]] = []
        try:
            futures = [pool.submit(one, i) for i in parallel]
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for future in futures:
            if not future.cancelled() and (exc := future.exception()) is not None:
                raise exc
    else:
        later = sorted(parallel + later)
    for i in later:
        one(i)
