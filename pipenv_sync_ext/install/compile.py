"""``--compile``: byte-compile what this sync installed, with the target interpreter, in parallel.

Decisions
    * Only the ``.py`` files the RECORDs of the distributions this sync
      installed list, inside the venv's site directories (as pip compiles only
      what lands in ``lib``): a no-op sync compiles nothing, a sync of one
      package compiles that package. Scripts in ``bin/`` are not compiled.
    * The *target* interpreter compiles (its magic number, its cache tag), with
      ``-I`` so no ``PYTHONPYCACHEPREFIX`` sends the files outside the venv,
      in a process pool of one worker per core (``compileall -j0``'s rule;
      ``compileall`` itself compiles a list of files serially). A file that
      does not compile (a Python 2 test module) is skipped, as pip does.
    * Each ``.pyc`` written is added to its distribution's RECORD with an empty
      hash and size, as pip records them, so an uninstall (ours, pip's) removes
      it and ``--verify`` does not hash it.
    * A venv built beside its final place compiles there with the final path as
      each code object's file name (``dfile``), so tracebacks name the files
      where they are imported from.
    * A source whose ``__pycache__`` is a symlink (or not a directory) is
      skipped: compiling must not write outside the venv.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipenv_sync_ext.errors import InstallError
from pipenv_sync_ext.fsutil import is_inside
from pipenv_sync_ext.target.interpreter import Interpreter
from pipenv_sync_ext.target.inventory import InstalledDist, scan

#: Run by the target: NUL-separated (source, name for tracebacks) pairs on stdin; (source, .pyc written) out.
_SCRIPT = r"""
import importlib.util, os, py_compile, sys
data = sys.stdin.buffer.read().decode("utf-8", "surrogateescape").split("\0")[:-1]
srcs, dfiles = data[0::2], data[1::2]
cfiles = [importlib.util.cache_from_source(s) for s in srcs]
n = len(srcs)
args = (srcs, cfiles, dfiles, [False] * n, [-1] * n, [None] * n, [2] * n)
workers = min(os.cpu_count() or 1, 8)
if workers > 1 and n >= 64:
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(workers) as pool:
        done = list(pool.map(py_compile.compile, *args, chunksize=max(1, n // (workers * 4))))
else:
    done = [py_compile.compile(*a) for a in zip(*args)]
sys.stdout.buffer.write("".join(f"{s}\0{c}\0" for s, c in zip(srcs, done) if c).encode("utf-8", "surrogateescape"))
"""


def compile_new(names: Iterable[str], *, interpreter: Interpreter, venv: Path, final: Path | None = None) -> int:
    """Compile what the distributions called ``names`` (canonical) installed; the number of .pyc written."""
    wanted = set(names)
    dists = [d for d in scan(interpreter.site_dirs) if d.name in wanted and not d.is_egg_info]
    return compile_installed(dists, interpreter=interpreter, venv=venv, final=final)


def compile_installed(
    dists: Sequence[InstalledDist], *, interpreter: Interpreter, venv: Path, final: Path | None = None
) -> int:
    """Compile the sources of ``dists`` (in ``venv``, to live at ``final``); returns the number of .pyc written."""
    sources = {dist: list(_sources(dist, interpreter=interpreter, venv=venv)) for dist in dists}
    todo = [src for srcs in sources.values() for src in srcs]
    if not todo:
        return 0
    here, there = os.path.abspath(venv), os.path.abspath(final or venv)
    payload = "".join(f"{src}\0{there + src[len(here) :]}\0" for src in todo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        proc = subprocess.run(
            [interpreter.executable, "-I", "-c", _SCRIPT],
            input=payload.encode("utf-8", "surrogateescape"),
            capture_output=True,
            env=env,
            timeout=3600,
        )
    except OSError as exc:
        raise InstallError(f"{interpreter.executable}: cannot run it to compile: {exc.strerror}") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise InstallError(f"{venv}: byte-compiling the installed files failed: {last}")
    out = proc.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
    written = dict(zip(out[0::2], out[1::2], strict=True))
    count = 0
    for dist, srcs in sources.items():
        # Recorded only where a .pyc must be: <source dir>/__pycache__/, checked (real, no link) before compiling.
        pycs = [os.path.normpath(written[s]) for s in srcs if s in written and _beside_source(written[s], s)]
        count += _record(dist, pycs)
    return count


def _beside_source(pyc: str, source: str) -> bool:
    cache = os.path.dirname(os.path.normpath(pyc))
    return os.path.basename(cache) == "__pycache__" and os.path.dirname(cache) == os.path.dirname(source)


def _sources(dist: InstalledDist, *, interpreter: Interpreter, venv: Path) -> Iterable[str]:
    # Strings, not Paths: a large package lists thousands of rows (both sides normalised, so the prefix is exact).
    sites = tuple(os.path.normpath(os.path.abspath(d)) + os.sep for d in interpreter.site_dirs)
    site_dir = os.path.abspath(dist.site_dir)
    real_venv = Path(os.path.realpath(venv))
    caches: dict[str, bool] = {}
    for row in _rows(dist):
        rel = row[0]
        if not rel.endswith(".py") or "\n" in rel or "\0" in rel:
            continue
        path = os.path.normpath(os.path.join(site_dir, rel))
        if not path.startswith(sites):
            continue  # bin/, include/: pip compiles only what lands in lib
        directory = os.path.dirname(path)
        if directory not in caches:
            cache = os.path.join(directory, "__pycache__")
            caches[directory] = is_inside(Path(os.path.realpath(directory)), real_venv) and (
                not os.path.lexists(cache) or (os.path.isdir(cache) and not os.path.islink(cache))
            )
        if caches[directory] and os.path.isfile(path):
            yield path


def _rows(dist: InstalledDist) -> list[list[str]]:
    try:
        with open(dist.metadata_dir / "RECORD", encoding="utf-8", newline="") as f:
            return [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _record(dist: InstalledDist, pycs: Sequence[str]) -> int:
    """Add the ``.pyc`` files to RECORD (before its own row), each once, without hash or size, as pip does."""
    rows = _rows(dist)
    listed = {os.path.normpath(os.path.join(dist.site_dir, row[0])) for row in rows}
    new = sorted(p for p in pycs if p not in listed)
    if not new:
        return 0
    site = os.path.abspath(dist.site_dir)
    added = [[os.path.relpath(p, site).replace(os.sep, "/"), "", ""] for p in new]
    own = [i for i, row in enumerate(rows) if row[0].endswith(".dist-info/RECORD")]
    at = own[-1] if own else len(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows[:at] + added + rows[at:])
    record = dist.metadata_dir / "RECORD"
    # Replaced whole (never half-written), keeping its mode; not fsynced, as the install's own RECORD is not.
    tmp = record.with_name(".RECORD.pipenv-sync-tmp")
    tmp.write_bytes(out.getvalue().encode("utf-8"))
    os.chmod(tmp, stat.S_IMODE(record.stat().st_mode))
    os.replace(tmp, record)
    return len(new)
