"""A wheel's members written out as a tree, each checked against RECORD as it is written.

The content of an unpacked tree's ``manifest.json`` (:mod:`.unpacked`) comes
from here: the distribution's name, its ``.dist-info``, the scheme of the
archive root, the entry points, and per member its scheme and path within it
(``.data/`` layout), sha256 (RECORD form), size and executable bit.

Members under ``__pycache__`` are never installed (as ``installer`` does; pip
would install them): a shipped ``.pyc`` may not be the compiled source next
to it. An entry point whose name is not a plain file name (``/``, ``..``)
is refused, as pip 26 refuses one that leaves the scripts directory.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import time
import zipfile
from pathlib import Path

from pipenv_sync_ext.errors import InstallError

SCHEMES = ("purelib", "platlib", "scripts", "data", "headers")


def record_hash(h: hashlib._Hash) -> str:
    """A digest as RECORD writes it: ``sha256=<urlsafe base64, no padding>``."""
    return f"{h.name}=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


def check_script_names(entry_points: list[list[str]], label: str) -> None:
    """Refuse entry points whose launcher would not be a file directly in the scripts directory."""
    for name, *_rest in entry_points:
        if name in ("", ".", "..") or "/" in name or "\0" in name:
            raise InstallError(
                f"{label}: entry point {name!r} would be written outside the scripts directory; not installed"
            )


def extract(archive: zipfile.ZipFile, dest: Path, label: str) -> dict[str, object]:
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
        check_script_names(entry_points, label)

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
        "dist_info": dist_info,
        "root_scheme": root_scheme,
        "mtime_ns": mtime_ns,
        "files": files,
        "entry_points": entry_points,
    }
