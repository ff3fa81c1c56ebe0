"""Entries locked only by an sdist: build the wheel once, keep it, reuse it offline.

The lock allows the sdist's sha256; the wheel built from it is ours, so it is
kept apart from the content-addressed store, keyed by what determines it:

    <cache>/v1/built/<sdist sha256>/<target's most specific tag>/<wheel file>
    <cache>/v1/built/<sdist sha256>/<target's most specific tag>/<wheel file>.sha256

The build is PEP 517 through pip (``pip wheel --no-deps``) in the target
interpreter (the venv's pip, or this tool's with ``--python``), offered only the
sdist's recorded build requirements and ``--find-links`` (``--no-index``; see
:mod:`.buildreqs`, which fetches and records them first, from the lock's sources).
The sidecar holds the wheel's sha256 at build time, re-checked on every use, so
a built wheel that changed on disk is rebuilt, never installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.fsutil import atomic_write
from pipenv_sync_ext.lock.model import LockedPackage
from pipenv_sync_ext.store import buildreqs, piptool
from pipenv_sync_ext.store.artifact import Artifact
from pipenv_sync_ext.store.cas import LocalArtifact, sha256_of
from pipenv_sync_ext.target.interpreter import Interpreter


class WheelBuilder:
    def __init__(
        self,
        cache_dir: Path,
        interp: Interpreter,
        *,
        build_requirements: buildreqs.BuildRequirements,
        log: Callable[[str], None],
    ) -> None:
        self._root = cache_dir / "v1" / "built"
        self._cache_dir = cache_dir
        self._interp = interp
        self._tag = interp.tags[0] if interp.tags else "unknown"
        self._requirements = build_requirements
        self._log = log

    def _dir(self, sdist_sha256: str) -> Path:
        return self._root / sdist_sha256 / self._tag

    def built(self, package: LockedPackage) -> LocalArtifact | None:
        """A wheel built earlier, for this target, from one of the sdists the lock allows."""
        for digest in sorted(package.hashes):
            directory = self._dir(digest)
            try:
                wheels = [n for n in os.listdir(directory) if n.endswith(".whl")]
            except OSError:
                continue
            for name in wheels:
                path = directory / name
                try:
                    expected = (directory / f"{name}.sha256").read_text().strip()
                    if sha256_of(path) == expected:
                        return LocalArtifact(Artifact(expected, name), path)
                except OSError:
                    pass
                shutil.rmtree(directory, ignore_errors=True)  # changed on disk: build again
        return None

    def build(self, package: LockedPackage, sdist: LocalArtifact) -> LocalArtifact:
        label = f"[{package.category}] {package.name}=={package.version} (sdist {sdist.artifact.filename})"
        declared = buildreqs.of_archive(sdist.path)
        need = None if declared is None else buildreqs.Need(declared, label)
        if need is not None:
            self._requirements.ensure(need)
        self._log(f"Building a wheel of {package.name}=={package.version} from {sdist.artifact.filename}")
        base = piptool.pip_command(self._interp, Path(self._interp.prefix))
        staging = self._cache_dir / "v1" / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=staging, prefix="build-"))  # same filesystem: the move is a rename
        try:
            command = [*base, "wheel", "--no-deps", "--no-cache-dir", "-w", str(tmp), str(sdist.path)]
            proc = self._requirements.run_build(need, command)
            wheels = list(tmp.glob("*.whl"))
            if proc.returncode != 0 or len(wheels) != 1:
                cause = piptool.failure_cause(proc.stderr or proc.stdout) if proc.returncode else "no wheel"
                raise FetchError(f"building a wheel from {sdist.artifact.filename} failed: {cause}")
            wheel = wheels[0]
            digest = sha256_of(wheel)
            directory = self._dir(sdist.artifact.sha256)
            directory.mkdir(parents=True, exist_ok=True)
            target = directory / wheel.name
            os.replace(wheel, target)
            atomic_write(directory / f"{wheel.name}.sha256", digest.encode())
            return LocalArtifact(Artifact(digest, wheel.name), target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
