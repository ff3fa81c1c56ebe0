"""The no-op fast path: answer "already in sync" from the sync stamp, importing only os, sys and json.

A repeat sync of a venv that is in sync should cost an interpreter start and a
few ``stat`` calls (uv's offline no-op is ~40-70 ms here; importing argparse,
pathlib and dataclasses alone costs about that). So the console script enters
here first. The fast path answers only when it can do so exactly:

* the command line holds only options it knows (anything else, an
  abbreviation, ``--dry-run``, ``--rebuild``, ``--verify``, a subcommand, goes
  to the full CLI);
* the venv is named (``--venv`` or ``VIRTUAL_ENV``) and the project too
  (``--project`` or ``PIPENV_PIPFILE``): pipenv's discovery rules stay in one
  place, :mod:`~pipenv_sync_ext.target.project`;
* the stamp records this lock path (the one
  :func:`~pipenv_sync_ext.fastpath.lockchoice.choose_lockfile` picks, as the full
  CLI does), these options, and stat identities of that lock and Pipfile, the
  interpreter, ``pyvenv.cfg`` and the installed distributions that all still hold; and it has no local build inputs to
  re-hash (editable and path installs go the full way).

Otherwise it returns None and the full CLI runs; :mod:`~pipenv_sync_ext.fastpath.stamp` then checks the
stamp again by content (sha256), so a touched but unchanged lock is still a
no-op, just a slower one. The stamp's identity primitives are in :mod:`.identity`,
so both paths agree on them.
"""

from __future__ import annotations

import json
import os
import sys
import time

from pipenv_sync_ext.fastpath.identity import (
    FORMAT,
    STAMP_NAME,
    file_identity,
    fingerprint,
    interpreter_identity,
    left_beside,
    selection_of,
    split_categories,
)
from pipenv_sync_ext.fastpath.lockchoice import choose_lockfile

_FLAGS = {
    "-d": "dev",
    "--dev": "dev",
    "--all": "all",
    "--prune": "prune",
    "--deploy": "deploy",
    "--allow-python-drift": "allow_python_drift",
    "--json": "json",
    "-q": "quiet",
    "--quiet": "quiet",
    "-v": "verbose",
    "--verbose": "verbose",
    "--offline": "",
    "--no-pip-cache": "",
    "--no-lock-sources": "",
    "--seed": "",
    "--no-seed": "",
    "--check": "",
    "--rebuild-on-drift": "",
    "--compile": "",  # compiles what a sync installs: nothing, when the stamp answers
}
_VALUED = {
    "--project": "project",
    "--venv": "venv",
    "--categories": "categories",
    "--keep": "keep",
    "--find-links": "",
    "--index-url": "",  # where files would come from: nothing to fetch on a no-op
    "--extra-index-url": "",
    "--cache-dir": "",
    "--python": "",
    "--lock-timeout": "",
    "--link-mode": "",
    "--lockfile": "lockfile",
}


def _parse(argv: list[str]) -> dict[str, object] | None:
    opts: dict[str, object] = {"keep": []}
    i = 0
    while i < len(argv):
        arg, value = argv[i], None
        if arg.startswith("--") and "=" in arg:
            arg, value = arg.split("=", 1)
        if arg in _FLAGS and value is None:
            if _FLAGS[arg]:
                opts[_FLAGS[arg]] = True
        elif arg in _VALUED:
            if value is None:
                i += 1
                if i >= len(argv):
                    return None
                value = argv[i]
            name = _VALUED[arg]
            if name == "keep":
                opts["keep"].append(value)  # type: ignore[attr-defined]
            elif name:
                opts[name] = value
        else:
            return None
        i += 1
    return opts


def try_noop(argv: list[str], env: dict[str, str] | os._Environ[str]) -> int | None:
    started = time.perf_counter()
    opts = _parse(argv)
    if opts is None:
        return None
    venv = opts.get("venv") or env.get("VIRTUAL_ENV")
    if "venv" not in opts and ("PIPENV_ACTIVE" in env or env.get("PIPENV_IGNORE_VIRTUALENVS")):
        return None  # pipenv's discovery rules decide: the full CLI
    if isinstance(opts.get("project"), str):
        project = os.path.abspath(str(opts["project"]))
    elif env.get("PIPENV_PIPFILE"):
        project = os.path.dirname(os.path.abspath(env["PIPENV_PIPFILE"]))
    else:
        return None
    if not isinstance(venv, str):
        return None
    venv = os.path.abspath(venv)
    try:
        with open(os.path.join(venv, STAMP_NAME), "rb") as f:
            stamp = json.loads(f.read())
    except (OSError, ValueError):
        return None
    categories = split_categories(opts.get("categories"))  # type: ignore[arg-type]
    if not categories and not opts.get("dev"):
        categories = split_categories(env.get("PIPENV_DEFAULT_CATEGORIES"))
    explicit = opts.get("lockfile")
    lock, ambiguous = choose_lockfile(project, explicit if isinstance(explicit, str) else None)
    if ambiguous is not None:
        return None  # the full CLI says so
    try:
        key = stamp["key"]
        if (
            stamp.get("format") != FORMAT
            or stamp.get("inputs")
            or stamp["venv"] != venv
            or stamp["lock"] != lock
            or stamp["lock_stat"] != file_identity(lock)
            or stamp["pipfile_stat"] != file_identity(os.path.join(project, "Pipfile"))
            or key["selection"] != selection_of(bool(opts.get("dev")), categories, bool(opts.get("all")))
            or key["prune"] != bool(opts.get("prune"))
            or key["keep"] != sorted(opts["keep"])  # type: ignore[call-overload]
            or key["deploy"] != bool(opts.get("deploy"))
            or key["allow_python_drift"] != bool(opts.get("allow_python_drift"))
            or stamp["interpreter"] != interpreter_identity(venv)
            or stamp["fingerprint"] != fingerprint(stamp["site_dirs"])
            or left_beside(venv)
        ):
            return None
        from pipenv_sync_ext import __version__

        if stamp.get("tool") != __version__:
            return None
        for message in stamp["warnings"]:
            if not opts.get("quiet"):
                print(f"warning: {message}", file=sys.stderr)
        text = hit_report(
            venv=venv,
            lock=lock,
            sections=stamp["sections"],
            packages=stamp["packages"],
            warnings=stamp["warnings"],
            elapsed=time.perf_counter() - started,
            as_json=bool(opts.get("json")),
        )
    except (KeyError, TypeError, AttributeError):
        return None
    if opts.get("json") or not opts.get("quiet"):
        print(text)
    return 0


def hit_report(
    *,
    venv: str,
    lock: str,
    sections: list[str] | tuple[str, ...],
    packages: list[list[str]] | tuple[tuple[str, str], ...],
    warnings: list[str] | tuple[str, ...],
    elapsed: float,
    as_json: bool,
) -> str:
    """What a sync answered from the stamp says: the same for the fast path and the full CLI."""
    if not as_json:
        return f"Already in sync: {len(packages)} packages (sync stamp); nothing to do ({venv}, {elapsed:.2f}s)"
    data = {
        "venv": venv,
        "lock": lock,
        "categories": list(sections),
        "dry_run": False,
        "changed": False,
        "created_venv": False,
        "rebuilt": False,
        "stamp_hit": True,
        "in_sync": True,
        "out_of_sync": [],
        "problems": [],
        "pip_installed": [],
        "install": [],
        "remove": [],
        "unchanged": [{"name": n, "version": v} for n, v in packages],
        "skipped": [],
        "other": [],
        "extraneous": [],
        "warnings": list(warnings),
        "elapsed_seconds": round(elapsed, 4),
    }
    return json.dumps(data, indent=2)
