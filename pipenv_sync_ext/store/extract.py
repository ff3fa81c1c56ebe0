"""A wheel's members written out as a tree, each checked against RECORD as it is written.

The content of an unpacked tree's ``manifest.json`` (:mod:`.unpacked`) comes
from here: the distribution's name, its ``.dist-info``, the scheme of the
archive root, the entry points, and per member its scheme and path within it
(``.data/`` layout), sha256 (RECORD form), size and executable bit.

Members under ``__pycache__`` are never installed (as ``installer`` does; pip
would install them): a shipped ``.pyc`` may not be the compiled source next
to it. An entry point whose name is not a plain file name (``/``, ``..``)
is refused, as pip 26 refuses one that leaves the scripts directory.

Zip bombs (:func:`check_sizes`, run by preflight before anything is written):
the sizes a zip *declares* bound what it can produce (``zipfile`` stops at a
member's declared size and fails on a CRC mismatch), so the declared sizes
are judged, three ways. Each limit is far above any real wheel (torch's
largest CUDA wheels unpack to ~4 GB at a ratio under 3; the most
compressible real wheels, all text, stay under 20):

* a member inflating more than :data:`MAX_RATIO` times its compressed size,
  when it is over :data:`RATIO_FLOOR`;
* the whole archive inflating more than :data:`MAX_TOTAL_RATIO` times the
  archive's own size, when the total is over :data:`RATIO_FLOOR` (many members
  each small and each under the per-member limit: a 0.5 MB wheel declaring
  512 MiB);
* more than :data:`MAX_UNPACKED` bytes or :data:`MAX_MEMBERS` members in all.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import io
import os
import re
import time
import zipfile
from pathlib import Path

from pipenv_sync_ext.confine import component_problem
from pipenv_sync_ext.errors import InstallError, UnsafePathError

SCHEMES = ("purelib", "platlib", "scripts", "data", "headers")
MAX_UNPACKED = 4 << 30
MAX_MEMBERS = 200_000
MAX_RATIO = 200
MAX_TOTAL_RATIO = 100
RATIO_FLOOR = 16 << 20


def check_sizes(archive: zipfile.ZipFile, archive_size: int, label: str) -> None:
    """Refuse a zip whose declared sizes say it is a bomb (see the module's docstring for the limits)."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InstallError(f"{label}: holds {len(infos)} members, over the {MAX_MEMBERS} limit; not installed")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InstallError(
                f"{label}: member {info.filename!r} inflates {info.compress_size} bytes to {info.file_size} "
                "(a zip bomb?); not installed"
            )
    if total > MAX_UNPACKED:
        raise InstallError(f"{label}: declares {total} bytes unpacked, over the {MAX_UNPACKED} limit; not installed")
    if total > RATIO_FLOOR and total > MAX_TOTAL_RATIO * max(archive_size, 1):
        raise InstallError(
            f"{label}: its {len(infos)} members inflate {archive_size} bytes to {total} "
            f"(over {MAX_TOTAL_RATIO} times: a zip bomb?); not installed"
        )


def record_hash(h: hashlib._Hash) -> str:
    """A digest as RECORD writes it: ``sha256=<urlsafe base64, no padding>``."""
    return f"{h.name}=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


_ENTRY_POINT = re.compile(r"(?P<module>[\w.]+)\s*:\s*(?P<attrs>[\w.]+)\s*(\[[^\]]*\])?\s*$")
_DOTTED = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*$")


def parse_entry_points(text: str, label: str) -> list[list[str]]:
    """``[name, module, attr, "console"|"gui"]`` per launcher ``entry_points.txt`` asks for; malformed: refused.

    Stricter than ``installer`` (whose asserts vanish under ``python -O`` and whose
    ``configparser`` errors escape): every ``console_scripts``/``gui_scripts`` line
    must be ``name = module:attr [extras]`` with dotted identifiers, and the name
    one safe file name (:func:`pipenv_sync_ext.confine.component`): a launcher is
    a file directly in the scripts directory. Other sections are not ours to judge.
    """
    parser = configparser.ConfigParser(delimiters="=", interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InstallError(f"{label}: unreadable entry_points.txt ({first}); not installed") from None
    found: list[list[str]] = []
    for section in ("console_scripts", "gui_scripts"):
        if not parser.has_section(section):
            continue
        for name, value in parser.items(section):
            match = _ENTRY_POINT.match(value)
            if match is None or not _DOTTED.match(match["module"]) or not _DOTTED.match(match["attrs"]):
                raise InstallError(
                    f"{label}: entry point {name!r} in entry_points.txt [{section}] is {value!r}, "
                    "not 'module:attr'; not installed"
                )
            problem = component_problem(name)
            if problem is not None:
                raise UnsafePathError(
                    f"{label}: entry point {name!r} would be written outside the scripts directory "
                    f"(it {problem}); refused"
                )
            found.append([name, match["module"], match["attrs"], section[: -len("_scripts")]])
    return found


_SIGNATURES = ("RECORD.jws", "RECORD.p7s")


def _expected(row: list[str] | None, path: str, label: str) -> tuple[str, str, int]:
    """RECORD's hash algorithm, value (RECORD form) and size for ``path``: as strict as ``installer``'s
    ``validate_record`` (listed, a known algorithm, an integer size, neither missing)."""
    if row is None:
        raise InstallError(f"{label}: {path} is not listed in RECORD; not installed")
    algorithm, _, value = row[1].partition("=")
    if not row[1] or not row[2]:
        raise InstallError(f"{label}: RECORD gives no hash or no size for {path}; not installed")
    if not value or algorithm not in hashlib.algorithms_available:
        raise InstallError(f"{label}: RECORD's hash for {path} is not '<algorithm>=<digest>'; not installed")
    try:
        size = int(row[2])
    except ValueError:
        raise InstallError(f"{label}: RECORD's size for {path} is not a number; not installed") from None
    return algorithm, row[1], size


def extract(
    archive: zipfile.ZipFile,
    dest: Path,
    *,
    label: str,
    dist_info: str,
    root_scheme: str,
    record: dict[str, list[str]],
    read: dict[str, bytes],
) -> tuple[list[list[object]], int]:
    """Write every member under ``dest``, each hashed against RECORD as it is written; the manifest's
    ``files`` rows (path, scheme, path in it, sha256, size, executable) and the tree's mtime.

    Every member is inflated once, here: RECORD lists every file with its hash
    and size (``installer``'s rule), and a member whose bytes differ refuses the
    wheel (the caller removes what was written); those the checks read already
    (``read``: METADATA, WHEEL...) are written from memory. Members that are not written
    (``__pycache__``, ``INSTALLER``) are hashed all the same, as ``installer``
    would; RECORD itself must list itself without a hash; signatures
    (``RECORD.jws``/``.p7s``) must not be listed, and are not installed.
    """
    infos = [i for i in archive.infolist() if not i.filename.endswith("/")]
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    mtime_ns = int(time.time()) // 2 * 2 * 1_000_000_000  # whole (even) seconds: any filesystem keeps it as is
    base = str(dest)
    made: set[str] = set()
    files: list[list[object]] = []
    record_path = f"{dist_info}/RECORD"
    signatures = {f"{dist_info}/{name}" for name in _SIGNATURES}
    skip = {f"{dist_info}/INSTALLER"}
    for info in infos:
        path = info.filename
        parts = path.split("/")
        row = record.get(path)
        if path in signatures:
            if row is not None:
                raise InstallError(f"{label}: RECORD lists {path}, a signature of RECORD itself; not installed")
            continue
        if path == record_path:
            if row is None or row[1] or row[2]:
                raise InstallError(f"{label}: RECORD must list itself without a hash or size; not installed")
            continue
        algorithm, expected, expected_size = _expected(row, path, label)
        if path.startswith("/") or "\\" in path or ".." in parts:
            raise InstallError(f"{label}: archive member {path!r} escapes the install location; not installed")
        if "" in parts or "." in parts or "\0" in path:
            raise ValueError(f"member {path!r} has no place in a tree")  # installer copes: it installs instead
        digest = hashlib.sha256()
        other = None if algorithm == "sha256" else hashlib.new(algorithm)
        if path in skip or "__pycache__" in parts[:-1]:
            # Not installed (as installer does), but checked as installer would.
            size = _hash_member(archive, info, digest, other, data=read.get(path))
            _compare(record_hash(other or digest), size, expected, expected_size, path, label)
            continue
        if parts[0] == data_dir:
            if len(parts) < 3 or parts[1] not in SCHEMES:
                raise InstallError(f"{label}: {path} is not in a valid .data subdirectory; not installed")
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
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o555 if executable else 0o444)
        try:
            size = _hash_member(archive, info, digest, other, fd=fd, data=read.get(path))
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
        _compare(record_hash(other or digest), size, expected, expected_size, path, label)
        files.append([path, scheme, rel, record_hash(digest), size, int(executable)])
    if files:
        mtime_ns = os.stat(f"{base}/{files[0][0]}").st_mtime_ns  # as the filesystem keeps it
    return files, mtime_ns


def _hash_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    digest: hashlib._Hash,
    other: hashlib._Hash | None,
    *,
    fd: int = -1,
    data: bytes | None = None,
) -> int:
    """Inflate one member once (or take ``data``, read already): hashed, and written to ``fd`` when given,
    chunk by chunk; its size."""
    size = 0
    with io.BytesIO(data) if data is not None else archive.open(info) as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            if other is not None:
                other.update(chunk)
            size += len(chunk)
            if fd >= 0:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
    return size


def _compare(actual: str, size: int, expected: str, expected_size: int, path: str, label: str) -> None:
    # The digests compared, not the algorithm's spelling ("SHA256=" names sha256 too, as installer reads it).
    if actual.partition("=")[2] != expected.partition("=")[2] or size != expected_size:
        raise InstallError(f"{label}: {path} does not match the hash its RECORD gives; not installed")
