"""One fetch per index page per run: the status check and the listing share a page they both ask for.

A cold sync needs a project's page twice: the status check reads it for
yanked files and the project's status (``store/status_fetch.py``), the listing
for the file to download (``store/index.py``). Decisions:

* **Per run**: :func:`open_run` starts a new memo as the stamp misses, before
  any client is made (``pipeline/sync.py``), and :func:`close_run` ends it; every
  ``IndexClient`` made in between shares it, none made outside a run has one.
  A page is never reused across runs, so a change at the index is seen by the next run.
* **Kept only when another reader is expected**, and given once: the status
  check keeps a page when none of the project's locked files is in the store (a
  download's listing will ask for it), and the listing that takes it frees it. A
  prune or an in-sync venv keeps nothing (the 18.6 MB of medium's pages held to
  the end of the run would be a third of its peak memory). A listing keeps what
  it fetches, for the status check, which asks every locked project's page:
  whichever asks first fetches, so the count does not depend on which thread
  wins (a page the check had already read is then held to the end of the run,
  within :data:`LIMIT`). Only 2xx pages, as
  received (still gzipped: each reader inflates and bounds it, so a refused page
  is refused by each reader, fetched once). A 304 carries no body and an error is
  not an answer: the next asker fetches.
* **In flight is shared**: a reader that asks for a page another thread is
  fetching waits for that fetch (and takes it, kept or not) rather than fetching
  it again beside it.
* **Bounded**: at most :data:`LIMIT` bytes kept; past it, pages are fetched as before.
* Keyed by URL and TLS setting; the credentials are the source's, the same for both askers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipenv_sync_ext.store.http import Page

LIMIT = 128 << 20  # bytes of bodies kept: a large lock's pages (medium: 46 pages, 18.6 MB) fit many times


class PageMemo:
    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._size = 0
        self._kept: dict[tuple[str, bool], Page] = {}
        self._fetching: dict[tuple[str, bool], threading.Event] = {}
        self._waiting: dict[tuple[str, bool], int] = {}  # readers waiting for a fetch in flight
        self._handed: dict[tuple[str, bool], Page] = {}  # a fetched page, until its waiter takes it
        self._lock = threading.Lock()
        self.shared = 0  # kept pages given to a second reader

    def page(self, url: str, *, verify: bool, fetch: Callable[[], Page], keep: bool = False) -> Page:
        """The page at ``url`` kept (or being fetched) in this run, else ``fetch()``'s; kept for one more
        reader when ``keep``, it is a 2xx and it fits."""
        key = (url, verify)
        with self._lock:
            kept = self._take(key)
            if kept is not None:
                return kept
            running = self._fetching.get(key)
            if running is None:
                done = self._fetching[key] = threading.Event()
                self._waiting[key] = 0
            else:
                self._waiting[key] += 1
        if running is not None:
            running.wait()
            with self._lock:
                kept = self._handed.pop(key, None) or self._take(key)
            return kept if kept is not None else fetch()  # the other fetch failed or was a 304
        found: Page | None = None
        try:
            found = fetch()
            return found
        finally:
            with self._lock:
                del self._fetching[key]
                ok = found is not None and 200 <= found.status < 300
                if ok and found is not None and self._waiting.pop(key, 0):
                    self._handed[key] = found  # to the reader that waited for it (at most one other reads a page)
                elif ok and found is not None and keep and self._size + len(found.body) <= self._limit:
                    self._kept[key] = found
                    self._size += len(found.body)
                self._waiting.pop(key, None)
            done.set()

    def _take(self, key: tuple[str, bool]) -> Page | None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._size -= len(kept.body)
            self.shared += 1
        return kept


_current: PageMemo | None = None


def open_run() -> PageMemo:
    """A new memo for the run starting now, shared by the clients made from now on."""
    global _current
    _current = PageMemo()
    return _current


def close_run() -> None:
    global _current
    _current = None


def current() -> PageMemo | None:
    return _current
