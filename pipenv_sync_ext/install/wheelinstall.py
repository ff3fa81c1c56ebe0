"""Checking and installing one wheel, with PyPA's ``installer``, so that nothing half-done is visible.

:mod:`.preflight` checks each wheel completely before anything is removed;
:func:`install_wheel` then installs it with three guarantees on top of
``installer``'s:

* the bytes installed are the bytes verified: the file is re-hashed through the
  same open file descriptor that is unzipped;
* every member's content is checked against the wheel's own RECORD while it is
  written (no second decompression); a mismatch stops the install and removes
  what it wrote;
* the distribution is *registered* last: its ``.dist-info`` is written under a
  temporary name (``<name>.dist-info.pipenv-sync-partial``) and renamed into
  place once every file is on disk. A sync killed mid-install leaves no
  half-installed distribution that looks installed; the next run's recovery
  (:mod:`~pipenv_sync_ext.install.journal`) removes the partial files.

A file already at a target path is unlinked, never written into: it may be a
hard link into the store's unpacked trees (:mod:`~pipenv_sync_ext.install.linkinstall`, which installs
by default; this module is ``--link-mode installer`` and its fallback).

What is installed is what the link modes install, pip 26's layout: ``installer``
writes the archive's files, but the headers folder, the scripts (launchers with
pip's names and text, ``#!python`` rewrites, data scripts a launcher replaces),
``REQUESTED`` and RECORD are :mod:`.scripts`' and :mod:`.record`'s, through
the destination below.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from pipenv_sync_ext.confine import Confiner
from pipenv_sync_ext.errors import InstallError
from pipenv_sync_ext.fsutil import sha256_stream
from pipenv_sync_ext.install import failpoints
from pipenv_sync_ext.install.record import INSTALLER_NAME, REQUESTED, dist_scheme, prefixes, record_bytes
from pipenv_sync_ext.install.scripts import fix_shebang, launcher, replaced_by_launcher, script_names
from pipenv_sync_ext.install.writeahead import MANIFEST, PARTIAL_SUFFIX, undo_partial
from pipenv_sync_ext.install.writeahead import append as write_ahead
from pipenv_sync_ext.store.cas import LocalArtifact
from pipenv_sync_ext.store.extract import parse_entry_points
from pipenv_sync_ext.target.interpreter import Interpreter

CONTENTS_VERIFIED = ".contents-verified"  # beside a stored wheel whose members matched its RECORD


def _entry_points(archive: zipfile.ZipFile, dist_info: str, label: str) -> list[tuple[str, str, str, str]]:
    path = f"{dist_info}/entry_points.txt"
    if path not in archive.NameToInfo:
        return []
    text = archive.read(path).decode("utf-8")
    return [(n, m, a, s) for n, m, a, s in parse_entry_points(text, label)]


class _CheckedStream(io.RawIOBase):
    """Hashes a member as ``installer`` reads it; :meth:`verify` compares with RECORD."""

    def __init__(self, stream: BinaryIO, path: str, expected: str, label: str) -> None:
        super().__init__()
        self._stream = stream
        self._path = path
        self._algorithm, _, self._expected = expected.partition("=")
        self._hash = hashlib.new(self._algorithm)
        self._label = label

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(-1 if size is None else size)
        self._hash.update(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = self._stream.readline(-1 if size is None else size)
        self._hash.update(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # installer rewinds script members to look at their shebang; only a rewind
        # to the start can be hashed from scratch.
        if offset != 0 or whence != io.SEEK_SET:
            raise io.UnsupportedOperation("only a rewind to the start is supported")
        self._hash = hashlib.new(self._algorithm)
        return self._stream.seek(0)

    def verify(self) -> None:
        import base64

        rest = self._stream.read()  # installer may not read to the end (it always does today)
        self._hash.update(rest)
        actual = base64.urlsafe_b64encode(self._hash.digest()).rstrip(b"=").decode()
        if actual != self._expected:
            raise InstallError(
                f"{self._label}: {self._path} does not match the hash its RECORD gives; nothing of it was kept"
            )


def _verified_source(archive: zipfile.ZipFile, label: str) -> Any:
    from installer.sources import WheelFile

    class VerifiedWheel(WheelFile):
        @property
        def dist_info_filenames(self) -> list[str]:
            # installer writes no launchers: the destination writes pip's (see _staged_destination)
            return [n for n in super().dist_info_filenames if n != "entry_points.txt"]

        def get_contents(self) -> Iterator[tuple[tuple[str, str, str], BinaryIO, bool]]:
            for record, stream, is_executable in super().get_contents():
                path, expected = record[0], record[1]
                if not expected:  # RECORD itself (validate_record made sure nothing else lacks a hash)
                    yield record, stream, is_executable
                    continue
                checked = _CheckedStream(stream, path, expected, label)
                yield record, checked, is_executable  # type: ignore[misc]
                # Back here once installer has written the member, while the zip stream is still open.
                checked.verify()

    return VerifiedWheel(archive)


def _staged_destination(
    interpreter: Interpreter, site: Path, dist_info: str, *, name: str, entry_points: list[tuple[str, str, str, str]]
) -> Any:
    from installer.destinations import SchemeDictionaryDestination
    from installer.records import RecordEntry
    from installer.utils import Scheme

    staged = dist_info + PARTIAL_SUFFIX
    (site / staged).mkdir(parents=True, exist_ok=True)
    made: set[Path] = set()  # directories known to exist
    under: dict[str, Confiner] = {}  # per scheme: every path written is confined (preflight did it too)
    launchers = script_names(entry_points, interpreter.version)
    replaced = RecordEntry("", None, None)  # a data script a launcher replaces: neither written nor recorded

    class StagedDestination(SchemeDictionaryDestination):
        def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
            target = staged + path[len(dist_info) :] if path.startswith(dist_info + "/") else path
            if scheme not in under:
                under[scheme] = Confiner(self.scheme_dict[scheme])
            full = under[scheme](target, what=f"{dist_info}: a file to install")
            # Write-ahead: the next run can undo a killed install from this list. A file that
            # existed before belongs to someone else too and is never removed by an undo.
            existed = os.path.lexists(full)
            write_ahead(site / staged, [(existed, str(full))])
            failpoints.step()
            if existed:
                # Never written into: it may be a hard link into the unpacked store (another link mode).
                full.unlink()
            elif full.parent not in made:
                full.parent.mkdir(parents=True, exist_ok=True)  # race-free (installs may run in threads)
                made.add(full.parent)
            entry = super().write_to_fs(scheme, target, stream, is_executable)
            # RECORD names where the file will be once the dist-info is renamed into place.
            return RecordEntry(path, entry.hash_, entry.size)

        def write_file(self, scheme: Scheme, path: Any, stream: BinaryIO, is_executable: bool) -> RecordEntry:
            path = os.fspath(path)
            if scheme != "scripts":
                return self.write_to_fs(scheme, path, stream, is_executable)
            if replaced_by_launcher(path, entry_points, launchers):
                return replaced
            data = fix_shebang(stream.read(), interpreter.executable)
            return self.write_to_fs(scheme, path, io.BytesIO(data), is_executable)

        def finalize_installation(
            self, scheme: Scheme, record_file_path: str, records: Iterable[tuple[Scheme, RecordEntry]]
        ) -> None:
            written = [(s, r) for s, r in records if r is not replaced and r.path != record_file_path]
            for script, (module, attr, _section) in launchers.items():
                data = launcher(interpreter.executable, interpreter.version, module=module, attr=attr)
                entry = self.write_to_fs(Scheme("scripts"), script, io.BytesIO(data), False)
                written.append((Scheme("scripts"), entry))
                path = os.path.join(self.scheme_dict["scripts"], script)
                os.chmod(path, (os.stat(path).st_mode | 0o555) & 0o7777)  # distlib's set_executable_mode
            prefix = prefixes(self.scheme_dict, self.scheme_dict[scheme])
            rows = [(prefix[s] + r.path, str(r.hash_ or ""), "" if r.size is None else str(r.size)) for s, r in written]
            self.write_to_fs(scheme, record_file_path, io.BytesIO(record_bytes(rows, record_file_path)), False)

        def close(self) -> None:
            pass  # each write-ahead record is appended and flushed on its own

    return StagedDestination(
        scheme_dict=dist_scheme(interpreter.scheme, name),
        interpreter=interpreter.executable,
        script_kind="posix",
        overwrite_existing=True,
    )


def install_wheel(local: LocalArtifact, interpreter: Interpreter) -> None:
    from installer import install
    from installer.exceptions import InstallerError
    from installer.records import InvalidRecordEntry
    from installer.utils import parse_metadata_file
    from packaging.utils import canonicalize_name

    label = local.artifact.filename
    site: Path | None = None
    dist_info = ""
    try:
        with local.path.open("rb") as f:
            digest = sha256_stream(f)
            if digest != local.artifact.sha256:
                raise InstallError(
                    f"{local.path}: content changed since it was verified (sha256 {digest}); not installed"
                )
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                source = _verified_source(archive, label)
                source.validate_record(validate_contents=False)
                dist_info = source.dist_info_dir
                purelib = parse_metadata_file(source.read_dist_info("WHEEL"))["Root-Is-Purelib"] == "true"
                site = Path(interpreter.scheme["purelib" if purelib else "platlib"])
                name = canonicalize_name(parse_metadata_file(source.read_dist_info("METADATA"))["Name"] or "")
                entry_points = _entry_points(archive, dist_info, label)
                destination = _staged_destination(interpreter, site, dist_info, name=name, entry_points=entry_points)
                try:
                    install(source, destination, {"INSTALLER": INSTALLER_NAME, "REQUESTED": REQUESTED})
                finally:
                    destination.close()
        final = site / dist_info
        if final.exists():
            shutil.rmtree(final)
        (site / (dist_info + PARTIAL_SUFFIX) / MANIFEST).unlink()
        failpoints.step()
        os.rename(site / (dist_info + PARTIAL_SUFFIX), final)  # the distribution is registered here
    except BaseException as exc:
        if site is not None and dist_info:
            undo_partial(site / (dist_info + PARTIAL_SUFFIX), stop_at=set(map(Path, interpreter.scheme.values())))
        if isinstance(exc, InstallError):
            raise
        if isinstance(exc, (InstallerError, InvalidRecordEntry, zipfile.BadZipFile, ValueError, KeyError, OSError)):
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InstallError(f"{label}: cannot be installed: {first}") from None
        raise
