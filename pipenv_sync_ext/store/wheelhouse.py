"""``fetch --wheelhouse DIR``: a portable directory of artifacts with a static PEP 503 index.

Layout::

    DIR/<file name>                    every artifact, flat: DIR works as --find-links (pip's and ours)
    DIR/simple/index.html              the project list
    DIR/simple/<project>/index.html    links ../../<file name>#sha256=<hex>

so DIR served by any static file server (``python -m http.server``, nginx, an
object store) is also an index URL: ``--index-url https://host/DIR/simple/``.
Files are copied from the store (each copy is written beside its final name and
renamed, so a reader never sees half a file). Artifacts already in DIR from an
earlier fetch stay, and the index lists every artifact in DIR, so one
wheelhouse can serve several targets or locks.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.fsutil import atomic_write
from pipenv_sync_ext.store.artifact import project_of, safe_filename
from pipenv_sync_ext.store.cas import LocalArtifact, sha256_of


@dataclass(frozen=True)
class Wheelhouse:
    directory: Path
    copied: int  # files written now
    present: int  # files already there with the right content
    files: int  # artifacts the index lists
    projects: int


def export(artifacts: Iterable[LocalArtifact], directory: Path, warn: Callable[[str], None]) -> Wheelhouse:
    directory.mkdir(parents=True, exist_ok=True)
    known: dict[str, str] = {}  # file name -> sha256, for files this run wrote or checked
    copied = present = 0
    for local in artifacts:
        name, digest = local.artifact.filename, local.artifact.sha256
        safe_filename(name, what=f"--wheelhouse {directory}: file name")  # before it becomes a path
        if known.get(name, digest) != digest:
            warn(f"{directory / name}: two artifacts of that name (sha256 {known[name][:12]}... and {digest[:12]}...); "
                 "the second is left out")  # fmt: skip
            continue
        target = directory / name
        if target.is_file() and _sha256_or_none(target) == digest:
            present += 1
        else:
            _copy_atomic(local.path, target)
            copied += 1
        known[name] = digest
    files, projects = write_index(directory, known)
    return Wheelhouse(directory, copied, present, files, projects)


def write_index(directory: Path, known: dict[str, str] | None = None) -> tuple[int, int]:
    """(Re)write ``simple/``: every wheel and sdist in ``directory``; (files, projects) listed."""
    known = known or {}
    by_project: dict[str, list[tuple[str, str]]] = {}
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if not entry.is_file() or entry.name.startswith("."):
            continue
        parsed = project_of(entry.name)
        if parsed is None:
            continue
        digest = known.get(entry.name) or _sha256_or_none(Path(entry.path))
        if digest is not None:
            by_project.setdefault(parsed[0], []).append((entry.name, digest))
    simple = directory / "simple"
    for project, links in by_project.items():
        body = "".join(
            f'    <a href="../../{urllib.parse.quote(name)}#sha256={digest}">{html.escape(name)}</a><br/>\n'
            for name, digest in links
        )
        _write_page(simple / project / "index.html", _page(f"Links for {project}", body))
    body = "".join(f'    <a href="{project}/">{project}</a><br/>\n' for project in sorted(by_project))
    _write_page(simple / "index.html", _page("Simple index", body))
    for entry in os.scandir(simple):  # projects whose files are gone from the directory
        if entry.is_dir(follow_symlinks=False) and entry.name not in by_project:
            Path(entry.path, "index.html").unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                os.rmdir(entry.path)
    return sum(len(v) for v in by_project.values()), len(by_project)


def _readable_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_page(path: Path, text: str) -> None:
    atomic_write(path, text.encode())
    os.chmod(path, _readable_mode())  # a static server may run as another user


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}  </body>\n</html>\n"
    )


def _sha256_or_none(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None


def _copy_atomic(source: Path, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        os.fchmod(fd, _readable_mode())
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
