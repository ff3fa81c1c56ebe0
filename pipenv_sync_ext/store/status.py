"""What an index says about a project besides its files: yanked files (PEP 592) and the project's status (PEP 792).

The lock's sha256 makes the bytes trustworthy; it says nothing about whether
the index has since withdrawn them. This module holds the answer as values
(:class:`ProjectStatus`), reads it from a simple-API page (PEP 691 JSON
``yanked`` and ``project-status``; PEP 503 HTML ``data-yanked`` and the
``pypi:project-status`` meta tags) and keeps it on disk, one file per
(index, project), under ``<cache-dir>/v1/status/<sha256 of url + project>.json``.

Decisions:

* **Every yanked file the page lists is kept** (sha256 -> reason), not only the
  locked ones: a later lock pinning another version gets its answer from a
  ``304 Not Modified`` too. Files that are not yanked are not kept: a big
  project lists thousands, and the answer for them is the same ("not yanked").
* **A yanked file with no reason** is the empty string.
* **No status on the page** means ``active`` (PEP 792's default).
* **A cache file that cannot be read** is no status at all (as if never
  fetched): it is only a cache, and a status check must not fail a sync that
  would fail no other way.
* **A time that cannot be true** (``fetched_at`` NaN, infinite, or more than
  :data:`CLOCK_SKEW` in the future) is an unknown time, ``0.0``: stale, never
  fresh (a future time would otherwise make a cached answer "fresh" for ever).
* **The page's digest is kept** (:func:`page_digest`): most pages do not change
  between syncs, and a server that sends no validator (this machine's route to
  PyPI sends neither ``ETag`` nor ``Last-Modified``) still sends the same
  bytes, whose answer is then the cached one, without parsing megabytes of JSON.
* **Cache files are not fsynced**: a torn one after a crash does not parse and
  is as if never fetched, and an ``fsync`` per page (52 on project-medium) cost
  0.4 s and flushed the journal under the install writing beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pipenv_sync_ext.fsutil import atomic_write
from pipenv_sync_ext.store.httpbody import load_json_page

ACTIVE, ARCHIVED, QUARANTINED, DEPRECATED = "active", "archived", "quarantined", "deprecated"
_FORMAT = 1
CLOCK_SKEW = 300.0  # seconds a recorded time may lie ahead of this host's clock (another host wrote it)
# Changes whenever parse_page would read the same bytes differently: cached digests then no longer match.
_PARSER = b"status-parser-3"


@dataclass(frozen=True)
class ProjectStatus:
    """What one source said about one project, and when."""

    project: str  # canonical name
    index: str  # the source's URL, without credentials
    status: str = ACTIVE
    reason: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)  # sha256 of each yanked file -> its reason
    fetched_at: float = 0.0  # time.time() of the last answer from the index (200 or 304)
    etag: str | None = None
    last_modified: str | None = None
    fresh_for: float = 0.0  # seconds after fetched_at the index said the page stays fresh (Cache-Control max-age)
    digest: str | None = None  # page_digest() of the page this answer was read from

    def yanked(self, sha256: str) -> str | None:
        """The reason ``sha256`` was yanked ("" when none was given), or None if it is not."""
        return self.files.get(sha256)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "project": self.project,
            "index": self.index,
            "status": self.status,
            "reason": self.reason,
            "fetched_at": self.fetched_at,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "fresh_for": self.fresh_for,
            "files": dict(self.files),
            "digest": self.digest,
        }

    @classmethod
    def from_json(cls, data: Any) -> ProjectStatus | None:
        """The value :meth:`to_json` wrote, or None for anything else (a cache or a wheelhouse is not trusted)."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return None
        files = data.get("files")
        strings = ("project", "index", "status")
        if not isinstance(files, dict) or not all(isinstance(data.get(k), str) for k in strings):
            return None
        if not isinstance(data.get("fetched_at"), (int, float)) or isinstance(data.get("fetched_at"), bool):
            return None
        fetched_at = float(data["fetched_at"])
        if not math.isfinite(fetched_at) or fetched_at > time.time() + CLOCK_SKEW:
            fetched_at = 0.0  # unknown: stale, and never "fresh" by max-age
        fresh_for = data.get("fresh_for")
        fresh_for = float(fresh_for) if isinstance(fresh_for, (int, float)) and math.isfinite(fresh_for) else 0.0
        return cls(
            project=data["project"],
            index=data["index"],
            status=data["status"],
            reason=_str_or_none(data.get("reason")),
            files={str(k): v for k, v in files.items() if isinstance(v, str)},
            fetched_at=fetched_at,
            etag=_str_or_none(data.get("etag")),
            last_modified=_str_or_none(data.get("last_modified")),
            fresh_for=min(max(fresh_for, 0.0), 86400.0),
            digest=_str_or_none(data.get("digest")),
        )


def max_age(cache_control: str | None) -> float:
    """How long a response stays fresh by its ``Cache-Control`` (0 for ``no-cache``/``no-store`` or none)."""
    directives = [d.strip().lower() for d in (cache_control or "").split(",")]
    if "no-cache" in directives or "no-store" in directives:
        return 0.0
    for d in directives:
        name, _, value = d.partition("=")
        if name == "max-age":
            try:
                return max(0.0, min(float(value.strip('"')), 86400.0))  # a day at most, whatever a server says
            except ValueError:
                return 0.0
    return 0.0


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def page_digest(body: bytes, content_type: str) -> str:
    """What identifies a page's answer: its bytes, how they are to be read, and by which parser."""
    h = hashlib.sha256(_PARSER + b"\0" + content_type.encode("utf-8", "replace") + b"\0")
    h.update(body)  # megabytes: hashlib releases the GIL, the install goes on beside it
    return h.hexdigest()


def _plainly_active(body: bytes) -> bool:
    """True when a JSON page can be read without parsing: no file is yanked and no project status is stated.

    Every ``"yanked"`` key is followed by ``false`` and no ``"project-status"`` key is there. A key
    could hide behind a ``\\u`` escape (``"yank\\u0065d"``) or odd spacing: then the page is parsed,
    so an honest server writing JSON its own way is never misread, only read more slowly. A
    ``"yanked"`` text that is no key (inside a string, escaped quotes) only makes it parse too.
    And it must look whole: one object with ``"meta"`` and ``"files"`` (a body cut short, or not a
    page at all, is parsed, and fails as before, so that the cached answer stands in).
    """
    page = body.strip()
    if not (page.startswith(b"{") and page.endswith(b"}") and b'"meta"' in page and b'"files"' in page):
        return False
    if b"\\u" in body or b'"project-status"' in body:
        return False
    keys = body.count(b'"yanked"')
    return keys == body.count(b'"yanked": false') + body.count(b'"yanked":false')


def parse_page(body: bytes, content_type: str, *, project: str, index: str) -> ProjectStatus:
    """The status a simple-API page states (``fetched_at`` and validators are the caller's)."""
    if "json" in content_type:
        if _plainly_active(body):  # most pages: megabytes of files, none yanked (0.3 s of json.loads saved)
            return ProjectStatus(project, index)
        data = load_json_page(body)
        files: dict[str, str] = {}
        for f in data.get("files", []):
            digest = (f.get("hashes") or {}).get("sha256")
            reason = _yank_reason(f.get("yanked", False))
            if digest and reason is not None:
                files[str(digest).lower()] = reason
        status, reason = ACTIVE, None
        marker = data.get("project-status")
        if isinstance(marker, dict):
            status = str(marker.get("status") or ACTIVE)
            reason = _str_or_none(marker.get("reason"))
        elif isinstance(marker, str):
            status = marker
        return _stated(project, index, status, reason, files)
    parser = _StatusParser()
    parser.feed(_html_to_read(body).decode("utf-8", errors="replace"))
    return _stated(project, index, parser.status, parser.reason, parser.files)


# What can state a status in an HTML page: a data-yanked attribute (its name is never escaped)
# or a pypi:project-status meta tag (its value could be, with a numeric reference or &colon;).
_MARKS = (b"data-yanked", b"project-status", b"&#", b"&colon")
_MARKED = re.compile(b"|".join(map(re.escape, _MARKS)))
# Where html.parser finds tags other than where a scan for "<a ...>" does: comments, CDATA,
# processing instructions, and elements whose content is text (script, style, the RCDATA ones).
_NOT_PLAIN: tuple[bytes, ...] = (b"<!--", b"<![", b"<?", b"<script", b"<style", b"<textarea", b"<xmp")
_NOT_PLAIN += (b"<iframe", b"<noembed", b"<noframes", b"<noscript", b"<plaintext")
_TITLE = re.compile(rb"<title>[^<&]*</title>")  # PyPI's own, plain text (newer html.parser reads a title as text)
# One <a> or <meta> tag, quoted values read whole (they may hold ">"); possessive, so linear on any input.
_TAG = re.compile(rb"""<(?:a|meta)(?=[\s/>])(?:[^>"']++|"[^"]*+"|'[^']*+')*+>""")


def _html_to_read(body: bytes) -> bytes:
    """What of an HTML page :class:`_StatusParser` must read: nothing when no status can be stated on it,
    only its tags that state one when the page is plain markup, else all of it.

    html.parser costs ~0.2-0.35 s a MB (project-medium's 46 pages: 14 MB, 3-5 s of CPU holding the
    GIL). Most pages mark nothing yanked; the rest are read tag by tag. A page with comments, CDATA
    or text elements (where a tag scan and the parser disagree) is parsed whole, as before."""
    low = body.lower()  # ASCII only: every offset stays the body's
    if not any(mark in low for mark in _MARKS):
        return b""
    titles = low.count(b"<title")
    if any(tag in low for tag in _NOT_PLAIN) or titles > 1 or (titles and not _TITLE.search(low)):
        return body
    marked = _MARKED.search
    return b"".join(body[m.start() : m.end()] for m in _TAG.finditer(low) if marked(low, m.start(), m.end()))


# What an index says is printed to the user's terminal: no control characters (an escape
# sequence could clear the screen or retitle the window, a newline fake a line of ours),
# and a reason short enough for one line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_REASON = 160


def _said(text: str) -> str:
    text = _CONTROL.sub("?", text)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "\u2026"


def _stated(project: str, index: str, status: str, reason: str | None, files: dict[str, str]) -> ProjectStatus:
    """A page's answer with every text it holds made safe to print (see :data:`_CONTROL`)."""
    yanked = {digest: _said(why) for digest, why in files.items()}
    return ProjectStatus(project, index, _said(status).lower(), None if reason is None else _said(reason), yanked)


def _yank_reason(value: Any) -> str | None:
    if value is True:
        return ""
    if isinstance(value, str):  # PEP 691: a string is yanked, with that reason
        return value
    return None


class _StatusParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, str] = {}
        self.status = ACTIVE
        self.reason: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and values.get("name") == "pypi:project-status":
            self.status = values.get("content") or ACTIVE
        elif tag == "meta" and values.get("name") == "pypi:project-status-reason":
            self.reason = values.get("content")
        elif tag == "a" and values.get("href"):
            fragment = urllib.parse.urlsplit(values["href"] or "").fragment
            digest = dict(urllib.parse.parse_qsl(fragment)).get("sha256")
            if digest and "data-yanked" in values:
                # PEP 592: the attribute's presence yanks the file; its value, if any, is the reason
                self.files[digest.lower()] = values.get("data-yanked") or ""


class StatusCache:
    """One JSON file per (index, project) in the store's directory."""

    def __init__(self, cache_dir: Path) -> None:
        self.directory = cache_dir / "v1" / "status"

    def _path(self, index: str, project: str) -> Path:
        key = hashlib.sha256(f"{index}\0{project}".encode()).hexdigest()
        return self.directory / f"{key}.json"

    def get(self, index: str, project: str) -> ProjectStatus | None:
        try:
            data = json.loads(self._path(index, project).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        found = ProjectStatus.from_json(data)
        if found is None or found.project != project or found.index != index:
            return None
        return found

    def put(self, status: ProjectStatus) -> None:
        """Best effort: a read-only store only means the next run asks again (without a validator)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            data = json.dumps(status.to_json(), sort_keys=True).encode()
            _replace_unsynced(self._path(status.index, status.project), data)
        except OSError:
            pass


def _replace_unsynced(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one; no ``fsync`` (see the module's decisions)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_recorded(path: Path, statuses: list[ProjectStatus], *, mode: int | None = None) -> None:
    """``status.json`` beside a wheelhouse: what ``fetch`` saw, for hosts that never reach the index.

    ``mode``: the wheelhouse's files' (readable by a static server running as another user)."""
    data = {"format": _FORMAT, "projects": [s.to_json() for s in statuses]}
    atomic_write(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(), mode=mode)


def read_recorded(path: Path) -> list[ProjectStatus] | None:
    """The statuses :func:`write_recorded` wrote; None when the file is missing or not ours."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("projects"), list):
        return None
    found = [ProjectStatus.from_json(p) for p in data["projects"]]
    return [s for s in found if s is not None]


@dataclass(frozen=True)
class Withdrawn:
    """A locked package the index has withdrawn (or marked), as the policy judged it."""

    name: str
    version: str
    kind: str  # "yanked", or the project's status: QUARANTINED, ARCHIVED, DEPRECATED
    reason: str | None
    index: str
    sha256: tuple[str, ...] = ()  # the locked files concerned (yanked only)
    severity: str = "warning"  # "error", "warning" or "note": what the policy made of it


@dataclass(frozen=True)
class StatusReport:
    """What the status check knew, for ``--check`` and ``--json``."""

    withdrawn: tuple[Withdrawn, ...] = ()
    checked: int = 0  # packages judged
    age_seconds: float | None = None  # of the oldest answer used; None when no answer at all
    online: bool = False  # the index was asked in this run
    missing: tuple[str, ...] = ()  # packages no source and no cache had a status for
    problems: tuple[str, ...] = ()  # requests that failed (the cache answered instead)
    disagreements: tuple[str, ...] = ()
