"""The wheelhouse as a static site: the pages that let any static HTTP server (or a bucket) serve it.

Layout, every link relative so the directory works under any URL prefix::

    DIR/index.html                     flat page of every file (pip's and uv's --find-links URL)
    DIR/simple/index.html              PEP 503 project list
    DIR/simple/index.json              PEP 691 project list
    DIR/simple/<project>/index.html    PEP 503: ../../<file>#sha256=<hex>
    DIR/simple/<project>/index.json    PEP 691 (api 1.1): url ../../<file>, sha256, size, versions

Decisions:

* A static server answers ``GET /simple/<project>/`` with the directory's
  ``index.html`` whatever the client's ``Accept`` says: pip, uv and this tool
  all fall back to HTML, so the JSON files are a bonus for servers configured to
  negotiate (``bench/fleet.py``'s nginx config maps an ``Accept`` naming
  ``application/vnd.pypi.simple.v1+json`` to ``index.json`` and serves ``.json``
  with that type). A JSON URL of its own (``.../index.json``) works too: its
  relative links resolve to the same files.
* The hashes are those of the bytes in DIR, read now (or hashed as they were
  copied there): a page never vouches for what the store *says* a file is.
* Only regular files (not symlinks: a page must not publish what a link points
  at) whose names are a single safe wheel or sdist name of a valid project name
  are listed; others in DIR (``status.json``, ``.tmp-*`` copies in flight) are
  not. :mod:`packaging` parses ``x<script>-1.0.tar.gz`` as an sdist of
  ``x<script>``: such a name is left out (and named, so nobody wonders why a
  host cannot find it) rather than escaped into a page. Names are still
  percent-quoted in links and HTML-escaped in text.
* Every page is written beside its final name and renamed (readers see the old
  page or the new one), project pages before the lists that lead to them, the
  flat page last, and only after every file they list is complete (the caller
  renames files into place first). Writers take ``flock`` on DIR itself, so
  two fetches into one wheelhouse write their pages one after the other, the
  later listing the files of both; nothing is written for the lock.
* Pages of a project whose files are all gone from DIR are removed (files are
  never removed by ``fetch``: only a person does that).
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import os
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.confine import confine
from pipenv_sync_ext.errors import UnsafePathError
from pipenv_sync_ext.fsutil import atomic_write, current_umask
from pipenv_sync_ext.store.artifact import project_of, safe_filename
from pipenv_sync_ext.store.cas import sha256_of

PAGE = "index.html"
JSON_PAGE = "index.json"
SIMPLE = "simple"
API_VERSION = "1.1"  # PEP 700: files carry "size", projects "versions"
_PROJECT = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # a canonical PEP 503 name (valid PEP 508 names only)


@dataclass(frozen=True)
class SiteFile:
    """One file a page lists: what is on disk now."""

    name: str
    project: str  # canonical
    version: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Site:
    files: int
    projects: int
    left_out: tuple[str, ...] = ()  # wheel/sdist-looking names no page lists (no valid project name)


def readable_mode() -> int:
    """0644 under the usual umask: a static server may run as another user (nginx's www-data)."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def writing(directory: Path) -> Iterator[None]:
    """Hold ``flock`` on ``directory`` while pages are written (another fetch into it waits)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_site(directory: Path) -> None:
    """Refuse, before any file is copied, a wheelhouse whose pages would be written outside it (a planted symlink)."""
    for relative in (PAGE, f"{SIMPLE}/{PAGE}", f"{SIMPLE}/{JSON_PAGE}"):
        confine(directory, relative, what=f"--wheelhouse {directory}: page")


def site_files(
    directory: Path, known: Mapping[str, str] | None = None, left_out: list[str] | None = None
) -> list[SiteFile]:
    """The files the pages list, sorted by name; ``known``: name -> sha256 of bytes this run wrote or hashed;
    ``left_out`` collects names that parse as an artifact of no valid project."""
    known = known or {}
    found: list[SiteFile] = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            safe_filename(entry.name, what=f"{directory}: file name")
        except UnsafePathError:
            continue  # not a wheel or sdist (status.json), or a name no page should carry
        parsed = project_of(entry.name)
        assert parsed is not None  # safe_filename parsed it
        if not _PROJECT.fullmatch(parsed[0]):
            if left_out is not None:
                left_out.append(entry.name)
            continue
        try:
            size = entry.stat(follow_symlinks=False).st_size
            digest = known.get(entry.name) or sha256_of(Path(entry.path))
        except OSError:
            continue  # removed while we looked
        found.append(SiteFile(entry.name, parsed[0], parsed[1], digest, size))
    return found


def write_site(directory: Path, known: Mapping[str, str] | None = None) -> Site:
    """(Re)write every page for the files in ``directory`` (call with the files already in place)."""
    mode = readable_mode()
    left_out: list[str] = []
    with writing(directory):
        files = site_files(directory, known, left_out)
        by_project: dict[str, list[SiteFile]] = {}
        for f in files:
            by_project.setdefault(f.project, []).append(f)
        simple = directory / SIMPLE

        def page(relative: str) -> Path:  # a planted symlink (simple -> /etc) must not take a page outside DIR
            return confine(directory, relative, what=f"--wheelhouse {directory}: page")

        for project, listed in sorted(by_project.items()):
            atomic_write(page(f"{SIMPLE}/{project}/{JSON_PAGE}"), _project_json(project, listed), mode=mode)
            atomic_write(page(f"{SIMPLE}/{project}/{PAGE}"), _project_html(project, listed), mode=mode)
        projects = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in sorted(by_project)]}
        atomic_write(page(f"{SIMPLE}/{JSON_PAGE}"), _json(projects), mode=mode)
        links = "".join(f'    <a href="{_href(p + "/")}">{html.escape(p)}</a><br/>\n' for p in sorted(by_project))
        atomic_write(page(f"{SIMPLE}/{PAGE}"), _html("Simple index", links), mode=mode)
        flat = "".join(_file_link(f, prefix="") for f in files)
        atomic_write(page(PAGE), _html("Links", flat), mode=mode)
        _remove_stale(simple, set(by_project))
    return Site(len(files), len(by_project), tuple(left_out))


def _project_json(project: str, files: list[SiteFile]) -> bytes:
    return _json(
        {
            "meta": {"api-version": API_VERSION},
            "name": project,
            "versions": sorted({f.version for f in files}),
            "files": [
                {"filename": f.name, "url": "../../" + _quote(f.name), "hashes": {"sha256": f.sha256}, "size": f.size}
                for f in files
            ],
        }
    )


def _project_html(project: str, files: list[SiteFile]) -> bytes:
    return _html(f"Links for {project}", "".join(_file_link(f, prefix="../../") for f in files))


def _file_link(f: SiteFile, *, prefix: str) -> str:
    return f'    <a href="{_href(prefix + _quote(f.name))}#sha256={f.sha256}">{html.escape(f.name)}</a><br/>\n'


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _href(url: str) -> str:
    return html.escape(url, quote=True)


def _html(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}  </body>\n</html>\n"
    ).encode()


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _remove_stale(simple: Path, projects: set[str]) -> None:
    for entry in os.scandir(simple):
        if entry.is_dir(follow_symlinks=False) and entry.name not in projects:
            for page in (PAGE, JSON_PAGE):
                Path(entry.path, page).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                os.rmdir(entry.path)
