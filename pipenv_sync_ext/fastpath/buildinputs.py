"""Fingerprints of what a local (path, editable, file) install was built from.

Standard library only: the sync stamp's fast path re-checks these without
importing the rest of the tool.

* a file (a local wheel or sdist): its sha256;
* an editable install: the files that shape its metadata and entry points
  (``pyproject.toml``, ``setup.py``, ``setup.cfg``), since its code is read in
  place and edits to it need no reinstall;
* a plain path install: every source file's relative path, size and mtime
  (VCS, virtualenv, build and cache directories left out), since the installed
  copy is a snapshot of the tree.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

METADATA_INPUTS = ("pyproject.toml", "setup.py", "setup.cfg")
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "build", "dist", "__pycache__", ".tox", ".nox"})


def fingerprint(local: Path, editable: bool) -> str | None:
    """None when ``local`` does not exist."""
    h = hashlib.sha256()
    if local.is_file():
        with local.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest()
    if not local.is_dir():
        return None
    if editable:
        for name in METADATA_INPUTS:
            path = local / name
            h.update(f"{name}\0".encode())
            if path.is_file():
                h.update(path.read_bytes())
        return h.hexdigest()
    for dirpath, dirs, files in os.walk(local):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            st = os.stat(full)
            h.update(f"{os.path.relpath(full, local)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()
