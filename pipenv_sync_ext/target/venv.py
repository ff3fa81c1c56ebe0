"""Build a virtualenv beside the target, then swap it in.

A new venv (bootstrap or ``--rebuild``) is never built in place. It is made
next to the target (``.<name>.pipenv-sync-new-*``), synced there, and only then
renamed into place, the old venv being renamed aside and deleted after. So a
failed or interrupted build leaves the old venv as it was. Since ``venv`` bakes
its location into ``bin/activate*`` and ``pyvenv.cfg``, those are rewritten to
the final path before anything runs from it, and console scripts are written
with the final interpreter path. Scripts that pip wrote in the staging venv
(editable, path and VCS entries) are rewritten too, and the RECORD rows of
the files rewritten get their new hash and size, so ``--verify`` finds the
venv as installed.

Creation uses the interpreter's own ``venv`` module without pip: the sync
installs everything itself, and seeding pip costs seconds (``--seed`` asks for it).
"""

from __future__ import annotations

import base64
import csv
import glob
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipenv_sync_ext.errors import TargetError
from pipenv_sync_ext.fsutil import atomic_write

_STAGING = ".pipenv-sync-new-"
_TRASH = ".pipenv-sync-old-"


def create(venv: Path, python: str, *, seed: bool = False) -> None:
    if venv.exists() and any(venv.iterdir()):
        raise TargetError(f"{venv}: exists but is not a virtualenv (no bin/python); not touching it")
    command = [python, "-m", "venv", *([] if seed else ["--without-pip"]), str(venv)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except OSError as exc:
        raise TargetError(f"{python}: cannot run it to create {venv}: {exc.strerror}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"{venv}: creating the virtualenv with {python} failed: {last}")


def staging_dir(final: Path) -> Path:
    """An empty directory next to ``final`` (same filesystem, so the swap is a rename)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}{_STAGING}"))


def create_beside(final: Path, python: str, *, seed: bool = False) -> Path:
    """A fresh venv in a staging directory, already pointing at ``final``."""
    staging = staging_dir(final)
    try:
        staging.rmdir()  # venv wants to create it
        create(staging, python, seed=seed)
        retarget(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def retarget(venv: Path, final: Path) -> None:
    """Rewrite the paths ``venv`` baked into its text files to ``final``."""
    old, new = str(venv), str(final)
    targets = [venv / "pyvenv.cfg", *(p for p in (venv / "bin").glob("*") if p.is_file() and not p.is_symlink())]
    rewritten: set[str] = set()
    for path in targets:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a binary (a copied python): nothing of ours in it
        if old in text:
            path.write_text(text.replace(old, new), encoding="utf-8")
            rewritten.add(os.path.normpath(path))
    if rewritten:
        _rehash_records(venv, rewritten)


def _rehash_records(venv: Path, rewritten: set[str]) -> None:
    """Give the RECORD rows of rewritten files (pip's scripts) their new hash and size."""
    for record in sorted(venv.glob("lib/*/site-packages/*.dist-info/RECORD")):
        site = record.parent.parent
        try:
            rows = list(csv.reader(io.StringIO(record.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        dirty = False
        for row in rows:
            if len(row) >= 3 and row[1] and os.path.normpath(site / row[0]) in rewritten:
                data = (site / row[0]).read_bytes()
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                row[1:3] = [f"sha256={digest}", str(len(data))]
                dirty = True
        if dirty:
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            atomic_write(record, out.getvalue().encode("utf-8"))


def swap_in(staging: Path, final: Path) -> None:
    """Put the finished venv in place; the old one (if any) is renamed aside, then deleted.

    Refuses to displace a directory that is not a virtualenv (no ``pyvenv.cfg``),
    unless it is empty.
    """
    trash = None
    if final.is_symlink() or final.is_file():
        raise TargetError(f"{final}: is not a directory; not replacing it")
    if final.exists():
        if not (final / "pyvenv.cfg").is_file() and any(final.iterdir()):
            raise TargetError(f"{final}: holds files but no pyvenv.cfg, so it is not a virtualenv; not replacing it")
        trash = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}{_TRASH}"))
        os.replace(final, trash / "venv")
    try:
        os.rename(staging, final)
    except OSError:
        if trash is not None:
            os.replace(trash / "venv", final)  # put the old one back
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def leftovers(final: Path) -> list[Path]:
    """Staging and trash directories that an interrupted build left next to ``final``."""
    pattern = os.path.join(glob.escape(str(final.parent)), f".{glob.escape(final.name)}.pipenv-sync-*")
    return [Path(p) for p in glob.glob(pattern)]
