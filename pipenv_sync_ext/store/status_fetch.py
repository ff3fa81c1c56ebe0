"""Ask each locked project's index for its status, in the background, one conditional request per page.

Started as soon as the lock is read and joined only when the answer is needed
(before the first change to the venv), so the requests overlap planning,
preflight and downloads. Decisions:

* **One request per (source, project)**: every source the lock lets a package
  come from is asked (a package with ``index = "..."`` only that one), since any
  mirror serving the lock's files is a source of status; disagreements are the
  policy's to report (:mod:`pipenv_sync_ext.pipeline.withdrawn`). So are the
  ``--index-url``/``--extra-index-url`` mirrors (``mirrors``, asked first, as
  downloads ask them); a ``--find-links`` page is not a simple index and is not asked.
* **Conditional**: the cached ``ETag`` and ``Last-Modified`` go out as
  ``If-None-Match`` and ``If-Modified-Since``; a ``304`` costs no body and only
  refreshes the cached answer's time. An answer the index declared fresh
  (``Cache-Control: max-age``, as PyPI's pages say for 10 minutes; capped at a
  day) is used without a request until then, as pip's HTTP cache would.
* **Never retried, never fatal**: a failed request (unreachable host, HTTP
  error, a page that does not parse) falls back to the cached answer, whose age
  then says how old the knowledge is; a ``404`` means this source does not carry
  the project and gives no status.
* **Network not allowed** (``--offline``, ``--check``, ``--dry-run``): only the
  cache and the ``status.json`` of ``--find-links`` wheelhouses are read.
* **A wheelhouse's ``status.json``** is used, per project, when it is newer
  than what the cache holds: an air-gapped host knows what the build stage saw.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.lock.model import LockedPackage, Source
from pipenv_sync_ext.store.httpbody import read_page_body
from pipenv_sync_ext.store.status import ProjectStatus, StatusCache, max_age, parse_page, read_recorded

if TYPE_CHECKING:  # http, ssl and email: imported only when the index may be asked
    from pipenv_sync_ext.store.index import IndexClient, ResolvedSource

_WORKERS = 8
WHEELHOUSE_STATUS = "status.json"

# Where an answer came from.
INDEX, CACHE, WHEELHOUSE = "index", "cache", "wheelhouse"


@dataclass(frozen=True)
class Answer:
    status: ProjectStatus
    origin: str  # INDEX (asked in this run), CACHE or WHEELHOUSE


@dataclass(frozen=True)
class Lookup:
    """What is known about one project: an answer per source that had one, and the failures."""

    project: str
    answers: tuple[Answer, ...]
    problems: tuple[str, ...] = ()  # "<index>: <why it could not be asked>"


class StatusCheck:
    """The background status check of one run; :meth:`results` waits for it."""

    def __init__(
        self,
        packages: Sequence[LockedPackage],
        sources: Sequence[Source],
        *,
        cache_dir: Path,
        online: bool,
        wheelhouses: Sequence[Path] = (),
        log: Callable[[str], None] = lambda _m: None,
        mirrors: Sequence[Source] = (),
    ) -> None:
        self._packages = list(packages)
        self._sources = list(sources)
        self._mirrors = list(mirrors)
        self._cache = StatusCache(cache_dir)
        self._online = online
        self._wheelhouses = list(wheelhouses)
        self._log = log
        self._futures: dict[str, Future[Lookup]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self.client: IndexClient | None = None  # when online

    def start(self) -> StatusCheck:
        from pipenv_sync_ext.store.index import IndexClient  # http and ssl only when the index may be asked

        client = IndexClient(self._sources, self._log) if self._online else None
        self.client = client
        recorded = self._recorded()
        by_project: dict[str, LockedPackage] = {}
        for package in self._packages:
            by_project.setdefault(canonicalize_name(package.name), package)
        if not by_project:
            return self
        self._pool = ThreadPoolExecutor(max_workers=min(_WORKERS, len(by_project)), thread_name_prefix="status")
        for project, package in by_project.items():
            self._futures[project] = self._pool.submit(self._lookup, client, project, package, recorded)
        self._pool.shutdown(wait=False)  # the queued lookups still run; results() waits for them
        return self

    def results(self) -> dict[str, Lookup]:
        """Every project's lookup (waits for the requests still running)."""
        return {project: future.result() for project, future in self._futures.items()}

    def _recorded(self) -> dict[str, ProjectStatus]:
        found: dict[str, ProjectStatus] = {}
        for directory in self._wheelhouses:
            for status in read_recorded(directory / WHEELHOUSE_STATUS) or ():
                have = found.get(status.project)
                if have is None or status.fetched_at > have.fetched_at:
                    found[status.project] = status
        return found

    def _lookup(
        self, client: IndexClient | None, project: str, package: LockedPackage, recorded: dict[str, ProjectStatus]
    ) -> Lookup:
        from pipenv_sync_ext.store.index import resolve_source

        answers: list[Answer] = []
        problems: list[str] = []
        allowed = [s for s in self._sources if not package.index or s.name == package.index]
        sources = client.sources_for(package) if client is not None else [resolve_source(s) for s in allowed]
        own = {s.url.rstrip("/") for s in sources}
        mirrors = [m for m in map(resolve_source, self._mirrors) if m.url.rstrip("/") not in own]
        sources = [*mirrors, *sources]
        for source in sources:
            cached = self._cache.get(source.display, project)
            if client is not None and cached is not None and time.time() < cached.fetched_at + cached.fresh_for:
                answers.append(Answer(cached, CACHE))  # the index said this answer is still fresh
                continue
            if client is not None:
                try:
                    fresh = self._ask(client, source, project, cached)
                except _NotCarried:
                    continue
                except _Failed as exc:
                    problems.append(f"{source.display}: {exc}")
                else:
                    self._cache.put(fresh)
                    answers.append(Answer(fresh, INDEX))
                    continue
            if cached is not None:
                answers.append(Answer(cached, CACHE))
        wheelhouse = recorded.get(project)
        newer = wheelhouse is not None and all(wheelhouse.fetched_at > a.status.fetched_at for a in answers)
        if wheelhouse is not None and newer and not any(a.origin == INDEX for a in answers):
            answers = [Answer(wheelhouse, WHEELHOUSE)]
        return Lookup(project, tuple(answers), tuple(problems))

    def _ask(
        self, client: IndexClient, source: ResolvedSource, project: str, cached: ProjectStatus | None
    ) -> ProjectStatus:
        from pipenv_sync_ext.redact import redact
        from pipenv_sync_ext.store.reach import HostUnreachable

        url = source.url.rstrip("/") + f"/{project}/"
        validators: dict[str, str] = {}
        if cached is not None and cached.etag:
            validators["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            validators["If-Modified-Since"] = cached.last_modified
        now = time.time()
        try:
            with client.read_conditional(url, source, validators) as response:
                body = read_page_body(response, what=redact(url))
                headers = response.headers
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and cached is not None:
                etag = exc.headers.get("ETag") or cached.etag
                modified = exc.headers.get("Last-Modified") or cached.last_modified
                fresh = max_age(exc.headers.get("Cache-Control"))
                return replace(cached, fetched_at=now, etag=etag, last_modified=modified, fresh_for=fresh)
            if exc.code == 404:
                raise _NotCarried() from None
            raise _Failed(f"HTTP {exc.code}") from None
        except HostUnreachable as exc:
            raise _Failed(exc.reason) from None
        except FetchError as exc:  # a file:// page that cannot be read (or is no file): never fails a sync
            raise _Failed(redact(str(exc))) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise _Failed(redact(str(exc)) or type(exc).__name__) from None
        try:
            parsed = parse_page(body, headers.get("Content-Type", ""), project=project, index=source.display)
        except (ValueError, TypeError, AttributeError) as exc:
            raise _Failed(f"not a valid simple-API page ({type(exc).__name__})") from None
        return replace(
            parsed,
            fetched_at=now,
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            fresh_for=max_age(headers.get("Cache-Control")),
        )


class _NotCarried(Exception):
    pass


class _Failed(Exception):
    pass
