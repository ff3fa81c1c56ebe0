"""Create a target virtualenv, and choose the interpreter to create it with.

Creation uses the chosen interpreter's own ``venv`` module without pip
(``--without-pip``): a sync installs everything itself, and seeding pip costs
seconds. The interpreter is ``--python`` (a path, or a version such as
``3.11`` looked up as ``python3.11`` on PATH), else the one the lock's
``_meta.requires`` names when it is on PATH, else the one running this tool.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from .errors import TargetError


def find_python(spec: str | None, requires: Mapping[str, str]) -> str:
    if spec:
        if os.sep in spec or Path(spec).is_file():
            if not Path(spec).is_file():
                raise TargetError(f"--python {spec}: no such interpreter")
            return str(Path(spec).absolute())
        found = _which_version(spec)
        if found is None:
            raise TargetError(f"--python {spec}: no python{spec} (or {spec}) found on PATH")
        return found
    wanted = requires.get("python_full_version") or requires.get("python_version")
    if wanted:
        major_minor = ".".join(wanted.split(".")[:2])
        found = _which_version(major_minor)
        if found:
            return found
    return sys.executable


def _which_version(spec: str) -> str | None:
    if re.fullmatch(r"\d+(\.\d+)*", spec):
        return shutil.which(f"python{'.'.join(spec.split('.')[:2])}")
    return shutil.which(spec)


def create(venv: Path, python: str) -> None:
    if venv.exists() and any(venv.iterdir()):
        raise TargetError(f"{venv}: exists but is not a virtualenv (no bin/python); not touching it")
    try:
        proc = subprocess.run(
            [python, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True, timeout=300
        )
    except OSError as exc:
        raise TargetError(f"{python}: cannot run it to create {venv}: {exc.strerror}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"{venv}: creating the virtualenv with {python} failed: {last}")
