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
import csv
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


def extract(archive: zipfile.ZipFile, dest: Path, label: str) -> dict[str, object]:
    """Write every member under ``dest``, checked against RECORD; the manifest's content."""
    from installer.utils import parse_metadata_file
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
    metadata = parse_metadata_file(archive.read(f"{dist_info}/METADATA").decode("utf-8", "replace"))
    name, version = metadata["Name"] or "", metadata["Version"] or ""
    record_text = archive.read(f"{dist_info}/RECORD").decode("utf-8")
    record = {row[0]: row for row in csv.reader(io.StringIO(record_text)) if row}
    entry_points: list[list[str]] = []
    if f"{dist_info}/entry_points.txt" in archive.NameToInfo:
        text = archive.read(f"{dist_info}/entry_points.txt").decode("utf-8")
        entry_points = parse_entry_points(text, label)

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
        ours = record_hash(digest)
        if (
            expected
            and expected[1]
            and (record_hash(other or digest) != expected[1] or (expected[2] and int(expected[2]) != size))
        ):
            raise InstallError(f"{label}: {path} does not match the hash its RECORD gives; not installed")
        files.append([path, scheme, rel, ours, size, int(executable)])
    if files:
        mtime_ns = os.stat(f"{base}/{files[0][0]}").st_mtime_ns  # as the filesystem keeps it
    return {
        "name": canonicalize_name(name),
        "metadata_name": name,
        "version": version,
        "dist_info": dist_info,
        "root_scheme": root_scheme,
        "mtime_ns": mtime_ns,
        "files": files,
        "entry_points": entry_points,
    }
