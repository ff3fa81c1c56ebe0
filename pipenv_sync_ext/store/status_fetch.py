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
* **A total deadline** (:func:`budget`, 10 s from the start): a socket timeout
  bounds each read, not a server dripping a byte a second, so the whole check
  has one budget. Past it, what has not answered gets its cached answer (or
  none) and a problem saying so; its request is abandoned (daemon threads, not
  a ``ThreadPoolExecutor``, whose workers the interpreter joins at exit).
* **An unchanged page is not parsed again**: when the body's digest equals the
  cached answer's (:func:`~.status.page_digest`), the cached answer stands; and
  it is not written again either when the cache has it from the last minute.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.lock.model import LockedPackage, Source
from pipenv_sync_ext.lock.names import canonical_name as canonicalize_name
from pipenv_sync_ext.store.cas import Store
from pipenv_sync_ext.store.httpbody import read_page_body
from pipenv_sync_ext.store.status import (
    ProjectStatus,
    StatusCache,
    max_age,
    page_digest,
    parse_page,
    read_recorded,
)

if TYPE_CHECKING:  # http, ssl and email: imported only when the index may be asked
    from pipenv_sync_ext.store.index import IndexClient
    from pipenv_sync_ext.store.sources import ResolvedSource

WORKERS = 4  # in threads: 8 cost twice the CPU (GIL hand-offs, handshakes) for no shorter check
FORKED_WORKERS = 8  # in a forked child (no GIL to share, no download beside it): 8 took 260 ms against 420
WHEELHOUSE_STATUS = "status.json"
BUDGET = 10.0  # seconds for the whole check, from its start
BUDGET_ENV = "PIPENV_SYNC_STATUS_TIMEOUT"
MAX_BUDGET = 86400.0  # seconds: a longer one (1e300) overflowed the waits' timeouts (select, Lock.acquire)
REFRESH = 60.0  # seconds: an unchanged answer's cached time is rewritten at most this often


def budget() -> float:
    """The check's total deadline in seconds: ``$PIPENV_SYNC_STATUS_TIMEOUT`` when a positive number (at
    most a day), else 10."""
    try:
        value = float(os.environ.get(BUDGET_ENV, ""))
    except ValueError:
        return BUDGET
    return min(value, MAX_BUDGET) if 0 < value < float("inf") else BUDGET


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
    late: bool = False  # no answer within the budget: what is known came from the cache or a wheelhouse


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
        workers: int = WORKERS,
    ) -> None:
        self._workers = workers
        self._packages = list(packages)
        self._sources = list(sources)
        self._mirrors = list(mirrors)
        self._cache = StatusCache(cache_dir)
        self._store = Store(cache_dir, lambda _m: None)  # only asked which locked files it holds
        self._online = online
        self._wheelhouses = list(wheelhouses)
        self._log = log
        self._futures: dict[str, Future[Lookup]] = {}
        self._packages_of: dict[str, LockedPackage] = {}
        self._held_memo: dict[int, bool] = {}  # id() of a package of self._packages, which keeps it alive
        self._recorded_now: dict[str, ProjectStatus] = {}
        self._client: IndexClient | None = None
        self._client_lock = threading.Lock()
        # (project, source) -> its answer and problem, once asked; the workers fill it as they go, so
        # past the deadline the sources that did answer in time still count
        self._settled: dict[tuple[str, str], tuple[Answer | None, str | None]] = {}
        self._deadline = 0.0
        self._results: dict[str, Lookup] | None = None

    @property
    def packages(self) -> list[LockedPackage]:
        return self._packages

    def set_log(self, log: Callable[[str], None]) -> None:
        """Where the check's log lines go (a forked child collects them for its parent)."""
        self._log = log

    def all_stored(self) -> bool:
        """Every locked package has a file in the store: no download's listing will ask for a page."""
        return all(self._held(p) for p in self._packages)

    def _held(self, package: LockedPackage) -> bool:
        """Whether the store has one of the package's files: asked once per package (a listdir per
        locked hash until one is found; pydantic-core locks a hundred)."""
        found = self._held_memo.get(id(package))
        if found is None:
            found = self._held_memo[id(package)] = any(self._store.get(h) for h in package.hashes)
        return found

    def _prepare(self) -> dict[str, ProjectStatus]:
        self._recorded_now = self._recorded()
        for package in self._packages:
            self._packages_of.setdefault(canonicalize_name(package.name), package)
        return self._recorded_now

    def unanswered(self) -> dict[str, Lookup]:
        """Every project's lookup from the cache and the wheelhouses alone, as past the deadline."""
        self._prepare()
        return {
            project: self._lookup(None, project, package, self._recorded_now, late=True)
            for project, package in self._packages_of.items()
        }

    def start(self) -> StatusCheck:
        self._deadline = time.monotonic() + budget()
        recorded = self._prepare()
        if not self._packages_of:
            return self
        jobs: queue.SimpleQueue[tuple[str, LockedPackage, Future[Lookup]]] = queue.SimpleQueue()
        for project, package in self._packages_of.items():
            future: Future[Lookup] = Future()
            self._futures[project] = future
            jobs.put((project, package, future))
        for _ in range(min(self._workers, len(self._packages_of))):
            worker = threading.Thread(target=self._work, args=(jobs, recorded), name="status", daemon=True)
            worker.start()
        return self

    def _client_once(self) -> IndexClient | None:
        """The one client of the check, made by the first worker: importing http, ssl and email (20-30 ms)
        happens beside the main thread, which meanwhile probes the interpreter."""
        if not self._online:
            return None
        with self._client_lock:
            if self._client is None:
                from pipenv_sync_ext.store.index import IndexClient

                self._client = IndexClient(self._sources, self._log)
            return self._client

    def _work(
        self, jobs: queue.SimpleQueue[tuple[str, LockedPackage, Future[Lookup]]], recorded: dict[str, ProjectStatus]
    ) -> None:
        client = self._client_once()
        while True:
            try:
                project, package, future = jobs.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue  # past the deadline: results() answered it from the cache
            try:
                future.set_result(self._lookup(client, project, package, recorded))
            except BaseException as exc:  # a bug: results() raises it on the main thread, as a pool would
                future.set_exception(exc)

    def results(self) -> dict[str, Lookup]:
        """Every project's lookup: waits for the requests still running, until the deadline at most."""
        if self._results is not None:
            return self._results
        done, _pending = wait(list(self._futures.values()), timeout=max(0.0, self._deadline - time.monotonic()))
        found: dict[str, Lookup] = {}
        for project, future in self._futures.items():
            if future in done:
                found[project] = future.result()
            else:
                future.cancel()  # not started: no worker takes it; started: its answer is not waited for
                package = self._packages_of[project]
                found[project] = self._lookup(None, project, package, self._recorded_now, late=True)
        self._results = found
        return found

    def _recorded(self) -> dict[str, ProjectStatus]:
        found: dict[str, ProjectStatus] = {}
        for directory in self._wheelhouses:
            for status in read_recorded(directory / WHEELHOUSE_STATUS) or ():
                have = found.get(status.project)
                if have is None or status.fetched_at > have.fetched_at:
                    found[status.project] = status
        return found

    def _lookup(
        self,
        client: IndexClient | None,
        project: str,
        package: LockedPackage,
        recorded: dict[str, ProjectStatus],
        *,
        late: bool = False,
    ) -> Lookup:
        from pipenv_sync_ext.store.sources import resolve_source

        answers: list[Answer] = []
        problems: list[str] = []
        allowed = [s for s in self._sources if not package.index or s.name == package.index]
        sources = client.sources_for(package) if client is not None else [resolve_source(s) for s in allowed]
        own = {s.url.rstrip("/") for s in sources}
        mirrors = [m for m in map(resolve_source, self._mirrors) if m.url.rstrip("/") not in own]
        sources = [*mirrors, *sources]
        timed_out = False
        for source in sources:
            key = (project, source.display)
            if not late:
                self._settled[key] = self._one(client, source, package)
            elif key not in self._settled:  # still being asked: what the cache knows, and why
                cached = self._cache.get(source.display, project)
                why = f"{source.display}: no answer within {budget():g} s"
                self._settled.setdefault(key, (None if cached is None else Answer(cached, CACHE), why))
                timed_out = True
            answer, problem = self._settled[key]
            answers += [answer] if answer is not None else []
            problems += [problem] if problem is not None else []
        wheelhouse = recorded.get(project)
        newer = wheelhouse is not None and all(wheelhouse.fetched_at > a.status.fetched_at for a in answers)
        if wheelhouse is not None and newer and not any(a.origin == INDEX for a in answers):
            answers = [Answer(wheelhouse, WHEELHOUSE)]
        return Lookup(project, tuple(answers), tuple(problems), late=timed_out)

    def _one(
        self, client: IndexClient | None, source: ResolvedSource, package: LockedPackage
    ) -> tuple[Answer | None, str | None]:
        """One source's answer on one project, and the problem met asking it (the cached answer stands in)."""
        project = canonicalize_name(package.name)
        cached = self._cache.get(source.display, project)
        fallback = None if cached is None else Answer(cached, CACHE)
        if client is None:
            return fallback, None
        if cached is not None and time.time() < cached.fetched_at + cached.fresh_for:
            return fallback, None  # the index said this answer is still fresh
        # none of its files in the store: a download's listing will ask for this page (store/pagememo.py)
        keep = not self._held(package)
        try:
            fresh = self._ask(client, source, project, cached, keep=keep)
        except _NotCarried:
            return None, None
        except _Failed as exc:
            return fallback, f"{source.display}: {exc}"
        if not _same_recently(cached, fresh):
            self._cache.put(fresh)
        return Answer(fresh, INDEX), None

    def _ask(
        self, client: IndexClient, source: ResolvedSource, project: str, cached: ProjectStatus | None, *, keep: bool
    ) -> ProjectStatus:
        # Here, in a worker, not at module level: an offline sync imports this module too, and
        # http.client brings email with it (~20 ms of a prune).
        import http.client
        import urllib.error

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
            with client.read_conditional(url, source, validators, keep=keep) as response:
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
        except FetchError as exc:  # PageRefused, a file:// page that cannot be read (or is no file): never fatal
            raise _Failed(redact(str(exc))) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise _Failed(redact(str(exc)) or type(exc).__name__) from None
        content_type = headers.get("Content-Type", "")
        digest = page_digest(body, content_type)
        if cached is not None and cached.digest == digest:
            parsed = cached  # the very page the cached answer was read from (no validators needed)
        else:
            try:
                parsed = parse_page(body, content_type, project=project, index=source.display)
            except (ValueError, TypeError, AttributeError) as exc:
                raise _Failed(f"not a valid simple-API page ({type(exc).__name__})") from None
        return replace(
            parsed,
            digest=digest,
            fetched_at=now,
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            fresh_for=max_age(headers.get("Cache-Control")),
        )


def _same_recently(cached: ProjectStatus | None, fresh: ProjectStatus) -> bool:
    """The same answer, cached less than :data:`REFRESH` ago: not written again (a write cost ~5 ms a page
    on this machine, 0.2 s a check). The cached time is then up to a minute early: an age said too old."""
    if cached is None or not 0 < fresh.fetched_at - cached.fetched_at < REFRESH:
        return False
    return replace(cached, fetched_at=fresh.fetched_at) == fresh


class _NotCarried(Exception):
    pass


class _Failed(Exception):
    pass
