"""pip as a build tool: the pip that serves a target, the lock's sources as pip options, the store as find-links.

Used to build wheels from sdists (:mod:`.sdist`) and to install editable, path
and VCS entries (:mod:`pipenv_sync_ext.install.direct`); pip is the only
place this tool runs a build backend.
"""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from pipenv_sync_ext.errors import InstallError
from pipenv_sync_ext.lock.model import Source
from pipenv_sync_ext.target.interpreter import Interpreter


def pip_command(interp: Interpreter, venv: Path) -> list[str]:
    """pip in the target when it has one, else this tool's pip aimed at the target."""
    if any((site / "pip" / "__init__.py").is_file() for site in interp.site_dirs):
        return [interp.executable, "-m", "pip"]
    import importlib.util

    if importlib.util.find_spec("pip") is None:
        raise InstallError(
            f"{venv}: editable, path and VCS entries are installed with pip, and neither the venv nor "
            "pipenv-sync's own environment has it; rerun with --seed (new venvs) or install pip"
        )
    return [sys.executable, "-m", "pip", "--python", interp.executable]


def index_args(sources: Sequence[Source]) -> list[str]:
    """The lock's sources for pip (build dependencies only: every install is --no-deps)."""
    args: list[str] = []
    for i, source in enumerate(sources):
        url = os.path.expandvars(source.url)  # pipenv's own expansion of ${VAR} credentials
        args += ["--index-url" if i == 0 else "--extra-index-url", url]
        if not source.verify_ssl:
            args += ["--trusted-host", urllib.parse.urlsplit(url).hostname or ""]
    return args


def flat_store_links(store_root: Path) -> Path:
    """A directory of links to every stored artifact: pip's --find-links wants a flat directory."""
    flat = Path(tempfile.mkdtemp(prefix="pipenv-sync-links-"))
    artifacts = store_root / "v1" / "artifacts"
    for dirpath, _dirs, files in os.walk(artifacts):
        for name in files:
            if not name.startswith(".") and not (flat / name).exists():
                os.symlink(os.path.join(dirpath, name), flat / name)
    return flat
