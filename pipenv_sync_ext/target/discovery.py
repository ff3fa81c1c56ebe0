"""Which interpreter a new venv is made with, found as pipenv's ``--python`` finds it.

An explicit path; a version such as ``3.11`` (``python3.11`` on PATH, then
pyenv's and asdf's installs); with neither, the version the lock's
``_meta.requires`` names when one is found, else the Python running this tool.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from pipenv_sync_ext.errors import TargetError


def find_python(spec: str | None, requires: Mapping[str, str]) -> str:
    if spec:
        if os.sep in spec or Path(spec).is_file():
            if not Path(spec).is_file():
                raise TargetError(f"--python {spec}: no such interpreter")
            return str(Path(spec).absolute())
        found = _which_version(spec)
        if found is None:
            raise TargetError(f"--python {spec}: no python{spec} (or {spec}) found on PATH, in pyenv or asdf")
        return found
    wanted = requires.get("python_full_version") or requires.get("python_version")
    if wanted and re.fullmatch(r"\d+(\.\d+)*", wanted.strip()):
        found = _which_version(wanted.strip(), exact=requires.get("python_full_version"))
        if found:
            return found
    return sys.executable


def _which_version(spec: str, exact: str | None = None) -> str | None:
    if not re.fullmatch(r"\d+(\.\d+)*", spec):
        return shutil.which(spec)
    major_minor = ".".join(spec.split(".")[:2])
    candidates = [shutil.which(f"python{major_minor}")]
    installs = (
        os.path.join(os.environ.get("PYENV_ROOT", "~/.pyenv"), "versions"),
        os.path.join(os.environ.get("ASDF_DATA_DIR", "~/.asdf"), "installs", "python"),
    )
    for root in installs:
        pattern = os.path.join(glob.escape(os.path.expanduser(root)), f"{exact or spec}*")
        for prefix in sorted(glob.glob(pattern), reverse=True):
            candidates.append(os.path.join(prefix, "bin", f"python{major_minor}"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            if exact and not _reports_version(candidate, exact):
                continue
            return candidate
    return None


def _reports_version(python: str, version: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except OSError:
        return False
    return out == version
