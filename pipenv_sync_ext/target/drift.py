"""Interpreter drift: is this venv still the one the lock and its base interpreter expect?

Two questions, both answered before anything changes:

* **The lock against the venv** (:func:`requires_mismatch`): ``_meta.requires``
  ``python_full_version`` must match exactly; ``python_version`` matches
  major.minor (a one-part value, the major only; a value with an operator is a
  specifier set), as pipenv matches the Pipfile's ``[requires]``.
* **The venv against itself** (:func:`inspect_venv`, :func:`base_upgraded`):
  ``pyvenv.cfg`` missing, its base interpreter gone, its base interpreter
  upgraded in place, the directory moved or copied (:mod:`~pipenv_sync_ext.target.moved`
  reads what each creator really writes), or system site-packages visible while
  ``--prune`` wants to own every package.

Only the filesystem is read here; the interpreter's own version comes from the
probe, which the caller runs (and which the sync stamp lets a no-op skip).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.target.moved import moved_from

# Problem codes, stable for --json consumers.
NO_PYVENV_CFG = "no-pyvenv-cfg"
BASE_MISSING = "base-interpreter-missing"
BASE_UPGRADED = "base-interpreter-upgraded"
MOVED = "moved"
SYSTEM_SITE_PACKAGES = "system-site-packages"
PYTHON_DRIFT = "python-drift"


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    breaks_venv: bool  # True: the venv cannot be synced in place, only rebuilt


@dataclass(frozen=True)
class PyvenvCfg:
    home: str | None
    version: str | None  # the base interpreter's version when the venv was made
    executable: str | None
    system_site_packages: bool
    command: str | None  # how it was made (venv 3.11+, virtualenv); uv writes none


def parse_pyvenv_cfg(text: str) -> PyvenvCfg:
    """Parse ``pyvenv.cfg`` as ``site.py`` does (``key = value``, keys case-insensitive).

    ``venv`` writes ``version``, ``virtualenv`` ``version_info`` (and ``version``), uv ``version_info``.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    version = values.get("version") or values.get("version_info")
    if version:
        version = ".".join(version.split(".")[:3])
    return PyvenvCfg(
        home=values.get("home"),
        version=version,
        executable=values.get("executable") or values.get("base-executable"),
        system_site_packages=values.get("include-system-site-packages", "false").lower() == "true",
        command=values.get("command"),
    )


def read_pyvenv_cfg(venv: Path) -> PyvenvCfg | None:
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return parse_pyvenv_cfg(text)


def inspect_venv(venv: Path, *, prune: bool) -> tuple[Problem, ...]:
    """What is wrong with an existing venv, judged from its files alone."""
    cfg = read_pyvenv_cfg(venv)
    if cfg is None:
        return (
            Problem(NO_PYVENV_CFG, f"{venv}: pyvenv.cfg is missing; this is not (or no longer) a virtualenv", True),
        )
    problems: list[Problem] = []
    base = cfg.executable or (os.path.join(cfg.home, "python3") if cfg.home else None)
    if cfg.home and not os.path.isdir(cfg.home):
        problems.append(Problem(BASE_MISSING, f"{venv}: its base interpreter's directory {cfg.home} is gone", True))
    elif base and not os.path.exists(base):
        problems.append(Problem(BASE_MISSING, f"{venv}: its base interpreter {base} is gone", True))
    elif not os.path.exists(venv / "bin" / "python"):
        problems.append(Problem(BASE_MISSING, f"{venv}: bin/python is missing or a dangling link", True))
    moved = moved_from(venv, cfg.command)
    if moved is not None:
        files = ", ".join(moved.files[:3]) + (f" and {len(moved.files) - 3} more" if len(moved.files) > 3 else "")
        problems.append(
            Problem(
                MOVED,
                f"{venv}: was made at {moved.old} and moved or copied; {files} still "
                f"point{'s' if len(moved.files) == 1 else ''} there",
                True,
            )
        )
    if cfg.system_site_packages and prune:
        problems.append(
            Problem(
                SYSTEM_SITE_PACKAGES,
                f"{venv}: include-system-site-packages is on, so --prune cannot own every visible package "
                "(the system's stay importable); rebuild it without, or drop --prune",
                True,
            )
        )
    return tuple(problems)


def base_upgraded(venv: Path, actual_version: str) -> Problem | None:
    """The base interpreter was upgraded in place (3.11.6 -> 3.11.9) since the venv was made."""
    cfg = read_pyvenv_cfg(venv)
    if cfg is None or not cfg.version or cfg.version == actual_version:
        return None
    # Another minor version means another site-packages directory: the venv is broken.
    breaks = cfg.version.split(".")[:2] != actual_version.split(".")[:2]
    return Problem(
        BASE_UPGRADED,
        f"{venv}: made with Python {cfg.version}, its base interpreter is now {actual_version} (upgraded in place)",
        breaks,
    )


def requires_mismatch(
    requires: Mapping[str, str], version: str, *, environment: Mapping[str, str] | None = None
) -> str | None:
    """What the lock requires of the interpreter when ``version`` (and ``environment``) do not satisfy it, else None.

    Pipfile.lock's ``_meta.requires`` holds ``python_full_version`` or
    ``python_version`` (a version, or a specifier); a pylock.toml's
    ``requires-python`` is a specifier and its ``environments`` markers
    (:mod:`~pipenv_sync_ext.lock.pylock`), of which one must hold; they are
    evaluated only when the target's marker ``environment`` is known.
    """
    if "requires-python" in requires or "environments" in requires:
        return _pylock_mismatch(requires, version, environment)
    full = requires.get("python_full_version")
    if full:
        return None if _version_eq(full, version) else f"python_full_version {full}"
    wanted = requires.get("python_version")
    if not wanted:
        return None
    wanted = wanted.strip()
    if wanted and wanted[0] in "<>=!~":
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            ok = SpecifierSet(wanted).contains(version, prereleases=True)
        except InvalidSpecifier:
            return f"python_version {wanted} (not a valid version or specifier)"
        return None if ok else f"python_version {wanted}"
    parts = wanted.split(".")
    have = version.split(".")
    return None if have[: len(parts[:2])] == parts[:2] else f"python_version {wanted}"


def _pylock_mismatch(requires: Mapping[str, str], version: str, environment: Mapping[str, str] | None) -> str | None:
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    wanted = requires.get("requires-python")
    if wanted:
        try:
            if not SpecifierSet(wanted).contains(version, prereleases=True):
                return f"requires-python {wanted}"
        except InvalidSpecifier:
            return f"requires-python {wanted} (not a version specifier)"
    markers = requires.get("environments")
    if markers and environment is not None:
        try:
            if not Marker(markers).evaluate({**environment, "extra": ""}):
                return f"environments {markers}"
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            return f"environments {markers} (cannot be evaluated for this interpreter)"
    return None


def _version_eq(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a.strip() == b.strip()
