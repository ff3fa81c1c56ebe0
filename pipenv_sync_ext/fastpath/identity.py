"""What the sync stamp records and compares: stat identities, the installed fingerprint, the selection.

Standard library only (``os``), shared by the fast path (:mod:`.noop`) and the
full pipeline's stamp (:mod:`.stamp`), so both agree on every value.
"""

from __future__ import annotations

import os

STAMP_NAME = ".pipenv-sync-stamp.json"
FORMAT = 2
_METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth")


def file_identity(path: str) -> list[int] | None:
    """Size, mtime and inode: equal means unchanged for every tool that writes by replacing or in place."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def interpreter_identity(venv: str) -> list[str]:
    """The venv's python (resolved) and the stat of its binary and of ``pyvenv.cfg``.

    A patch upgrade replaces the binary; an edited or recreated ``pyvenv.cfg``
    changes its stat; a moved venv changes the paths.
    """
    python = os.path.join(venv, "bin", "python")
    parts = [python]
    for path in (os.path.realpath(python), os.path.join(venv, "pyvenv.cfg")):
        try:
            st = os.stat(path)
        except OSError:
            parts.append(f"{path}:missing")
            continue
        parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return parts


def fingerprint(site_dirs: list[str] | tuple[str, ...]) -> list[str]:
    """Each site directory's mtime and every metadata entry's name and mtime in it."""
    found: list[str] = []
    for directory in site_dirs:
        try:
            found.append(f"{directory}:{os.stat(directory).st_mtime_ns}")
            with os.scandir(directory) as entries:
                found += sorted(
                    f"{e.name}:{e.stat(follow_symlinks=False).st_mtime_ns}"
                    for e in entries
                    if e.name.endswith(_METADATA_SUFFIXES)
                )
        except OSError:
            found.append(f"{directory}:missing")
    return found


def selection_of(dev: bool, categories: list[str] | tuple[str, ...], all_sections: bool) -> list[str]:
    if all_sections:
        return ["all"]
    if categories:
        return ["categories", *categories]
    return ["dev"] if dev else []


def split_categories(value: str | None) -> list[str]:
    """pipenv's own splitting: commas and/or spaces."""
    import re

    return [c for c in re.split(r", *| ", value) if c] if value else []


def left_beside(venv: str | os.PathLike[str]) -> bool:
    """Did a killed build or rebuild leave a directory beside the venv (``.<name>.pipenv-sync-*``,
    target/venv.py's names)? Then the full sync runs, and removes it under the venv's lock."""
    real = os.path.realpath(venv)
    parent, name = os.path.split(real)
    ours = (f".{name}.pipenv-sync-new-", f".{name}.pipenv-sync-old-")
    try:
        with os.scandir(parent) as entries:
            return any(e.name.startswith(ours) and e.is_dir(follow_symlinks=False) for e in entries)
    except OSError:
        return False
