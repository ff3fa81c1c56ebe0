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


# Names of a build's directories (target/venv.py makes them): beside the venv as ``.<name>STAGING*``
# while it is built, ``.<name>TRASH*`` holding the old venv of a rebuild until it is deleted.
STAGING = ".pipenv-sync-new-"
TRASH = ".pipenv-sync-old-"
# What the top of a staging directory can hold: a venv being written (venv 3.8-3.13, venvwrite.py).
_VENV_TOP = {"bin", "lib", "lib64", "include", "share", "pyvenv.cfg", ".gitignore"}


def leftovers_beside(venv: str | os.PathLike[str]) -> list[str]:
    """The staging and trash directories a killed build or rebuild left beside the venv (real path).

    Ours by name *and* by content: a directory (not a link) made by this user holding only what
    ours hold (a trash: the old venv as ``venv``; a staging directory: a venv's top level). A
    look-alike holding anything else (someone's ``.venv.pipenv-sync-old-backup``) is not ours:
    it is never deleted, and it does not keep the sync stamp from answering."""
    real = os.path.realpath(venv)
    parent, name = os.path.split(real)
    staging, trash = f".{name}{STAGING}", f".{name}{TRASH}"
    try:
        with os.scandir(parent) as entries:
            named = [e for e in entries if e.name.startswith((staging, trash)) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return [e.path for e in named if _ours(e.path, trash=e.name.startswith(trash))]


def left_beside(venv: str | os.PathLike[str]) -> bool:
    """Did a killed build or rebuild leave one of :func:`leftovers_beside`? Then the full sync runs,
    and removes it under the venv's lock."""
    return bool(leftovers_beside(venv))


def _ours(path: str, *, trash: bool) -> bool:
    try:
        if os.lstat(path).st_uid != os.geteuid():
            return False
        names = set(os.listdir(path))
    except OSError:
        return False
    if trash:
        return names <= {"venv"}
    return all(n in _VENV_TOP or n.startswith(".pipenv-sync-") for n in names)  # and our journal, stamp, lock
