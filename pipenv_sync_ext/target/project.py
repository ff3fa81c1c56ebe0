"""Find the project and its virtualenv by pipenv's own rules.

This re-implements (without importing pipenv, which costs ~0.4 s) the rules of
pipenv 2026.10 ``pipenv/utils/pipfile.py`` (Pipfile search) and
``pipenv/utils/venv_locator.py`` (venv location), in their order:

1. an active ``VIRTUAL_ENV`` (unless ``PIPENV_ACTIVE`` or ``PIPENV_IGNORE_VIRTUALENVS``);
2. ``<project>/.venv`` when ``PIPENV_VENV_IN_PROJECT`` is true, or the Pipfile's
   ``[pipenv] venv_in_project``, or (when neither says no) the directory exists;
   a ``.venv`` *file* names the venv (a path, or a name under WORKON_HOME);
3. ``$WORKON_HOME/<name>``: ``PIPENV_CUSTOM_VENV_NAME``, or pipenv's
   ``<sanitised dir name>-<8 chars of urlsafe-b64 sha256 of the Pipfile path>``
   (plus ``-<python>`` when ``PIPENV_PYTHON`` is set).

A test compares the result with ``pipenv --venv`` for the same project.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

from pipenv_sync_ext.errors import LockError, TargetError
from pipenv_sync_ext.fastpath.lockchoice import choose_lockfile

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Project:
    directory: Path
    pipfile: Path  # may not exist: a deploy can ship only the lock
    lockfile: Path

    @property
    def has_pipfile(self) -> bool:
        return self.pipfile.is_file()


def _env_flag(env: Mapping[str, str], name: str) -> bool | None:
    """pipenv's ``get_from_env``: PIPENV_X / PIPENV_NO_X, None when unset."""
    for key, negate in ((f"PIPENV_{name}", False), (f"PIPENV_NO_{name}", True)):
        if key in env:
            value = env[key].lower()
            if value in _TRUE:
                return not negate
            if value in _FALSE:
                return negate
    return None


def find_project(
    project_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    lockfile: Path | None = None,
) -> Project:
    """The Pipfile (``PIPENV_PIPFILE``, or searched upwards like pipenv) and its lock.

    The lock is chosen by :func:`~pipenv_sync_ext.fastpath.lockchoice.choose_lockfile`
    (``lockfile`` when given, else Pipfile.lock, pylock.toml, the only pylock.<name>.toml):
    every reader (sync, fetch, the fast path, the pipenv hook) takes it from here.
    """
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    if project_dir is not None:
        pipfile = Path(os.path.abspath(project_dir)) / "Pipfile"
    elif env.get("PIPENV_PIPFILE"):
        pipfile = Path(os.path.abspath(env["PIPENV_PIPFILE"]))
        if not pipfile.is_file():
            raise LockError(f"{pipfile}: PIPENV_PIPFILE names a file that does not exist")
    else:
        pipfile = _search_pipfile(cwd, env) or Path(os.path.abspath(cwd / "Pipfile"))
    directory = pipfile.parent
    chosen, problem = choose_lockfile(str(directory), str(lockfile) if lockfile is not None else None)
    if problem is not None:
        raise LockError(problem)
    return Project(directory=directory, pipfile=pipfile, lockfile=Path(chosen))


def _search_pipfile(cwd: Path, env: Mapping[str, str]) -> Path | None:
    # pipenv: PIPENV_MAX_DEPTH (default 10) + 1, and its loop checks `i < max_depth`
    # after incrementing, so it looks in `max_depth - 1` directories; NO_INHERIT: cwd only.
    try:
        depth = int(env.get("PIPENV_MAX_DEPTH", "10")) + 1
    except ValueError:
        depth = 11
    if _env_flag(env, "NO_INHERIT") or env.get("PIPENV_NO_INHERIT"):
        depth = 2
    directory = cwd.resolve()
    for _ in range(depth - 1):
        candidate = directory / "Pipfile"
        if candidate.is_file():
            return Path(os.path.abspath(candidate))
        if directory.parent == directory:
            break
        directory = directory.parent
    return None


def workon_home(env: Mapping[str, str]) -> Path:
    home = env.get("WORKON_HOME")
    if home:
        path = Path(os.path.expandvars(home))
    else:
        path = Path(env.get("XDG_DATA_HOME", "~/.local/share")) / "virtualenvs"
    return Path(os.path.abspath(path.expanduser()))


def _sanitize(name: str) -> str:
    return re.sub(r'[ &$`!*@"()\[\]\\\r\n\t]', "_", name)[0:42]


def venv_name(project: Project, env: Mapping[str, str]) -> str:
    custom = env.get("PIPENV_CUSTOM_VENV_NAME")
    if custom:
        return custom
    digest = hashlib.sha256(str(project.pipfile).encode()).digest()[:6]
    name = f"{_sanitize(project.pipfile.parent.name)}-{base64.urlsafe_b64encode(digest).decode()[:8]}"
    python = env.get("PIPENV_PYTHON")
    if python:
        name += f"-{Path(python).name}" if Path(python).is_absolute() else f"-{python}"
    return name


def _pipfile_venv_in_project(project: Project) -> bool | None:
    if not project.has_pipfile:
        return None
    text = project.pipfile.read_text(encoding="utf-8", errors="replace")
    if "venv_in_project" not in text:  # spare the TOML parse in the common case
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        value = tomllib.loads(text).get("pipenv", {}).get("venv_in_project")
    except tomllib.TOMLDecodeError:
        return None
    return None if value is None else bool(value)


def locate_venv(project: Project, env: Mapping[str, str] | None = None) -> Path:
    """Where pipenv would put (or find) this project's virtualenv."""
    env = os.environ if env is None else env
    active = env.get("VIRTUAL_ENV")
    if active and "PIPENV_ACTIVE" not in env and not _env_flag(env, "IGNORE_VIRTUALENVS"):
        return Path(active)

    env_in_project = _env_flag(env, "VENV_IN_PROJECT")
    pipfile_in_project = _pipfile_venv_in_project(project) if env_in_project is None else None
    if env_in_project is not None:
        in_project = env_in_project
    elif pipfile_in_project is not None:
        in_project = pipfile_in_project
    else:
        in_project = (project.directory / ".venv").is_dir()

    dot_venv = project.directory / ".venv"
    home = workon_home(env)
    if not dot_venv.exists() or dot_venv.is_dir():
        if in_project:
            # pipenv prefers an existing WORKON_HOME venv over an auto-detected .venv
            if not env_in_project and not pipfile_in_project:
                candidate = home / venv_name(project, env)
                if candidate.exists():
                    return candidate
            return dot_venv
        return home / venv_name(project, env)

    # A .venv *file* names the venv.
    try:
        name = dot_venv.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise TargetError(f"{dot_venv}: cannot read the venv name it holds: {reason}") from None
    if not name:
        return home / venv_name(project, env)
    if name.endswith(os.sep) or len(PurePath(name).parts) > 1:
        return Path(os.path.abspath(project.directory / name))
    return home / name
