"""Stage 7: apply a plan to the venv. Remove first, then install.

Removing first means a package replaced by another that ships the same files
(a rename, a drop-in fork) ends up with its files: they are deleted with the
old distribution and written again by the new one. Removal deletes only files
inside the venv and never a file that a distribution being kept also claims.

Wheels are installed with PyPA's ``installer`` into the target's scheme, with
console scripts pointing at the target interpreter. The wheel's bytes are
hashed through the same open file that is then unzipped, so what is installed
is exactly what was checked against the lock.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .errors import InstallError
from .fsutil import is_inside, sha256_stream
from .interpreter import Interpreter
from .inventory import InstalledDist, record_paths
from .store import LocalArtifact

Warn = Callable[[str], None]
INSTALLER_NAME = b"pipenv-sync\n"


def claimed_files(dists: Iterable[InstalledDist]) -> set[Path]:
    claimed: set[Path] = set()
    for dist in dists:
        claimed.update(record_paths(dist))
    return claimed


def remove_dist(dist: InstalledDist, venv: Path, keep: set[Path], warn: Warn) -> None:
    """Delete a distribution's files (RECORD order is irrelevant), then its metadata."""
    touched_dirs: set[Path] = set()
    metadata_files: list[Path] = []
    real_venv = Path(os.path.realpath(venv))
    for path in record_paths(dist):
        # The lexical check catches "..", the real-path check a symlinked directory on the way.
        if (
            not is_inside(path, venv)
            or not is_inside(Path(os.path.realpath(path.parent)), real_venv)
            or (path.is_symlink() and not is_inside(Path(os.path.realpath(path)), real_venv))
        ):
            warn(f"{dist.name}: RECORD lists {path}, outside the venv; not removed")
            continue
        if path in keep:
            continue
        if is_inside(path, dist.metadata_dir):
            metadata_files.append(path)
            continue
        _unlink(path, touched_dirs)
        if path.suffix == ".py":
            _drop_bytecode(path, touched_dirs)
    # The metadata goes last: a removal cut short still shows the dist as installed,
    # so the next sync sees it and finishes the job.
    for path in metadata_files:
        _unlink(path, touched_dirs)
    if dist.metadata_dir.is_dir():
        touched_dirs.add(dist.metadata_dir)
    elif dist.metadata_dir.exists():
        _unlink(dist.metadata_dir, touched_dirs)
    _prune_empty_dirs(touched_dirs, stop_at={dist.site_dir, venv})


def _unlink(path: Path, touched: set[Path]) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        return
    touched.add(path.parent)


def _drop_bytecode(source: Path, touched: set[Path]) -> None:
    cache = source.parent / "__pycache__"
    try:
        names = os.listdir(cache)
    except OSError:
        return
    prefix = source.stem + "."
    for name in names:
        if name.startswith(prefix) and name.endswith(".pyc"):
            _unlink(cache / name, touched)


def _prune_empty_dirs(dirs: set[Path], stop_at: set[Path]) -> None:
    # Deepest first, so a parent emptied by its child's removal goes too.
    for directory in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        current = directory
        while current not in stop_at and any(is_inside(current, s) for s in stop_at):
            try:
                current.rmdir()
            except OSError:
                break
            current = current.parent


def check_wheel(local: LocalArtifact, name: str) -> None:
    """Refuse, before anything is removed, a wheel that ``installer`` would choke on.

    Checks the archive opens, the WHEEL file says version 1.x, the RECORD lists
    every file, the files stay inside the wheel's own layout, and the wheel is the
    package the lock entry names (a hash allowed for the wrong name is refused).
    """
    from installer.exceptions import InstallerError
    from installer.records import InvalidRecordEntry
    from installer.sources import WheelFile
    from installer.utils import parse_metadata_file
    from packaging.utils import canonicalize_name

    label = local.artifact.filename
    try:
        with zipfile.ZipFile(local.path) as archive:
            # The name inside (METADATA), not the file name: the file name is whatever the index said.
            metadata = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(metadata) != 1:
                raise InstallError(f"{label}: holds {len(metadata)} .dist-info/METADATA files, not 1; not installed")
            inner = parse_metadata_file(archive.read(metadata[0]).decode("utf-8", "replace"))["Name"] or "?"
            if canonicalize_name(inner) != name:
                raise InstallError(f"{label}: is a wheel of {inner!r}, not of {name!r}; not installed")
            source = WheelFile(archive)
            wheel_version = parse_metadata_file(source.read_dist_info("WHEEL"))["Wheel-Version"] or ""
            if not wheel_version.startswith("1."):
                raise InstallError(f"{label}: unsupported Wheel-Version {wheel_version!r}; not installed")
            source.validate_record(validate_contents=False)
            for item in archive.namelist():
                if item.startswith("/") or ".." in item.split("/"):
                    raise InstallError(f"{label}: archive member {item!r} escapes the install location")
    except InstallError:
        raise
    except (InstallerError, InvalidRecordEntry, zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InstallError(f"{label}: not a valid wheel: {first}; not installed") from None


def install_wheel(local: LocalArtifact, interpreter: Interpreter) -> None:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.exceptions import InstallerError
    from installer.records import InvalidRecordEntry
    from installer.sources import WheelFile

    try:
        with local.path.open("rb") as f:
            digest = sha256_stream(f)
            if digest != local.artifact.sha256:
                raise InstallError(
                    f"{local.path}: content changed since it was verified (sha256 {digest}); not installed"
                )
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                source = WheelFile(archive)
                source.validate_record(validate_contents=False)
                destination = SchemeDictionaryDestination(
                    scheme_dict=dict(interpreter.scheme),
                    interpreter=interpreter.executable,
                    script_kind="posix",
                    overwrite_existing=True,
                )
                install(source, destination, {"INSTALLER": INSTALLER_NAME})
    except InstallError:
        raise
    except (InstallerError, InvalidRecordEntry, zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InstallError(f"{local.artifact.filename}: cannot be installed: {first}") from None


def apply(
    removals: Sequence[InstalledDist],
    installs: Sequence[LocalArtifact],
    kept: Sequence[InstalledDist],
    interpreter: Interpreter,
    venv: Path,
    warn: Warn,
) -> None:
    if installs:
        # Loaded before anything is removed: a prune of the venv this tool runs in
        # must not pull the installer out from under the installs that follow.
        import installer.destinations
        import installer.records
        import installer.sources
        import installer.utils  # noqa: F401
    if removals:
        keep = claimed_files(kept)
        for dist in removals:
            remove_dist(dist, venv, keep, warn)
    for local in installs:
        install_wheel(local, interpreter)
