"""Read-only directories of artifacts (``--find-links``, pip's configured ones), matched by sha256."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipenv_sync_ext.confine import component
from pipenv_sync_ext.errors import UnsafePathError
from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.store.artifact import Artifact, project_of
from pipenv_sync_ext.store.cas import LocalArtifact, sha256_of


class FindLinks:
    """Read-only directories of artifacts, matched to the lock by sha256 only.

    A file is hashed only when its name says it belongs to a package being
    looked up, and at most once per run. A file named as the very version the
    lock pins whose content the lock does not allow (truncated, corrupt, or a
    different build) is ignored with a warning.

    ``configured`` are the directories pip's own configuration names
    (``PIP_FIND_LINKS``, ``find-links`` in pip.conf): read the same way, but
    one that does not exist on this machine is skipped without a word.
    """

    def __init__(self, dirs: Iterable[Path], warn: Say, configured: Iterable[Path] = ()) -> None:
        self._warn = warn
        self._by_project: dict[str, list[tuple[Path, str]]] = {}
        self._hashes: dict[Path, str] = {}
        self._warned: set[Path] = set()
        seen: set[str] = set()
        given = [(d, True) for d in dirs] + [(d, False) for d in configured]
        for d, explicit in given:
            key = os.path.realpath(d)
            if key in seen:
                continue
            seen.add(key)
            if not explicit and not d.is_dir():
                continue
            for path in self._files(d, explicit):
                parsed = project_of(path.name) if _plain(path.name) else None
                if parsed is not None:
                    self._by_project.setdefault(parsed[0], []).append((path, parsed[1]))

    def _files(self, directory: Path, explicit: bool) -> Iterator[Path]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            what = "--find-links directory" if explicit else "find-links directory (from pip's configuration)"
            self._warn(f"{directory}: {what} cannot be read: {exc.strerror}")
            return
        for entry in entries:
            if entry.is_file():
                yield Path(entry.path)

    def candidates(self, name: str, allowed: frozenset[str], version: str | None = None) -> list[LocalArtifact]:
        found = []
        for path, file_version in self._by_project.get(name, []):
            digest = self._hashes.get(path)
            if digest is None:
                try:
                    digest = self._hashes[path] = sha256_of(path)
                except OSError as exc:
                    self._warn_once(path, f"{path}: cannot be read ({exc.strerror}); ignored")
                    continue
            if digest in allowed:
                found.append(LocalArtifact(Artifact(digest, path.name), path))
            elif version is not None and _same_version(file_version, version):
                self._warn_once(
                    path,
                    # corrupt, truncated or another build: the path and the digest say enough
                    f"{path}: not a file the lock allows for {name}=={version} (sha256 {digest[:12]}...); ignored",
                )
        return found

    def _warn_once(self, path: Path, message: str) -> None:
        if path not in self._warned:
            self._warned.add(path)
            self._warn(message)


def _plain(name: str) -> bool:
    try:
        component(name, what="find-links file")
    except UnsafePathError:
        return False  # a name no tool makes (a control character): not a candidate
    return True


def _same_version(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version  # only for a candidate: most syncs look at none

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b
