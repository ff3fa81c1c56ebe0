"""A wheel's checks that need only its central directory and three small members (nothing inflated but those).

Run by :func:`pipenv_sync_ext.store.unpacked.unpack` before the first member
is written (then every member is hashed against RECORD as it is written:
:func:`pipenv_sync_ext.store.extract.extract`), and by
:mod:`pipenv_sync_ext.install.preflight` for a wheel no tree can be made of.
What is checked is listed in :mod:`pipenv_sync_ext.install.preflight`.

Decided here: the checks live in the store layer, beside the unpacking they
guard, so a wheel can be checked and unpacked in one pass right after its
download (in the download's thread pool), before the install stage runs.
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import NamedTuple

from pipenv_sync_ext.confine import path_problem
from pipenv_sync_ext.errors import InstallError, UnsafePathError
from pipenv_sync_ext.lock.names import canonical_name
from pipenv_sync_ext.store.extract import SCHEMES, check_sizes, parse_entry_points

__all__ = ["Checked", "check_archive", "identity", "where_of"]


class Checked(NamedTuple):
    dist_info: str
    root: str  # the archive root's scheme: purelib or platlib
    metadata_name: str  # METADATA's Name, as written
    version: str  # METADATA's Version, as written
    where_to: tuple[tuple[str, str], ...]  # per file (sorted): scheme ("" for the root's) and path in it
    entry_points: tuple[tuple[str, str, str, str], ...]  # name, module, attr, console/gui
    record: dict[str, list[str]]  # RECORD's rows by path
    read: dict[str, bytes]  # the members read to check (METADATA, WHEEL...): extract does not inflate them again


def where_of(filename: str, name: str, version: str | None) -> str:
    """How a message names a wheel and the lock entry it is checked for."""
    return f"{filename} (locked as {name}{'==' + version if version else ''})"


def check_archive(archive: zipfile.ZipFile, archive_size: int, where: str) -> Checked:
    """Every check of the archive short of its members' bytes; one-line errors naming ``where``."""
    from installer.utils import parse_metadata_file

    check_sizes(archive, archive_size, where)
    dist_info, where_to = _check_members(archive, where)
    read: dict[str, bytes] = {}

    def member(name: str) -> bytes:
        read[f"{dist_info}/{name}"] = data = archive.read(f"{dist_info}/{name}")
        return data

    metadata = parse_metadata_file(member("METADATA").decode("utf-8", "replace"))
    wheel = parse_metadata_file(member("WHEEL").decode("utf-8", "replace"))
    wheel_version = wheel["Wheel-Version"] or ""
    root = "purelib" if wheel["Root-Is-Purelib"] == "true" else "platlib"
    entry_points: list[list[str]] = []
    if f"{dist_info}/entry_points.txt" in archive.NameToInfo:
        try:
            text = member("entry_points.txt").decode("utf-8")
        except UnicodeDecodeError:
            raise InstallError(f"{where}: entry_points.txt is not UTF-8; not installed") from None
        entry_points = parse_entry_points(text, where)
    record = _check_record(archive, dist_info, where)
    if not wheel_version.startswith("1."):
        raise InstallError(f"{where}: unsupported Wheel-Version {wheel_version!r}; not installed")
    return Checked(
        dist_info,
        root,
        metadata["Name"] or "",
        metadata["Version"] or "",
        tuple(where_to),
        tuple((a, b, c, d) for a, b, c, d in entry_points),
        record,
        read,
    )


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


def _check_record(archive: zipfile.ZipFile, dist_info: str, where: str) -> dict[str, list[str]]:
    try:
        text = archive.read(f"{dist_info}/RECORD").decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InstallError(f"{where}: {dist_info}/RECORD cannot be read ({exc}); not installed") from None
    for number, row in enumerate(rows, 1):
        if row and len(row) != 3:
            raise InstallError(f"{where}: {dist_info}/RECORD line {number} has {len(row)} fields, not 3; not installed")
    return {row[0]: row for row in rows if row}


def identity(found: tuple[str, str, str], *, name: str, version: str | None, where: str) -> None:
    """The ``.dist-info``'s and METADATA's name and version (``found``: the directory, METADATA's Name and
    Version) are the lock entry's (see preflight's decisions)."""
    dist_info, meta_name, meta_version = found
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
        versions = [(what, Version(v)) for what, v in ((dist_info, dir_version), ("METADATA", meta_version))]
    except (InvalidVersion, InvalidSpecifier):
        raise InstallError(
            f"{where}: {dist_info} / METADATA give version {dir_version!r} / {meta_version!r}, "
            f"not the lock's {version}; not installed"
        ) from None
    for what, v in versions:
        if not pin.contains(v, prereleases=True):
            raise InstallError(f"{where}: {what} says version {v}, the lock pins {version}; not installed")
