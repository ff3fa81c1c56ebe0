"""One fetch per index page per run: the status check and the listing share a page they both ask for.

A cold sync needs a project's page twice: the status check reads it for
yanked files and the project's status (``store/status_fetch.py``), the listing
for the file to download (``store/index.py``). Decisions:

* **Per run**: :func:`open_run` starts a new memo as a sync starts, before any
  client is made (``pipeline/run.py``), and :func:`close_run` ends it; every
  ``IndexClient`` made in between shares it, none made outside a run has one.
  A page is never reused across runs, so a change at the index is seen by the next run.
* **Only 2xx pages** are kept, as received (still gzipped: each reader inflates
  and bounds it, so a refused page is refused by each reader, fetched once). A
  304 carries no body and an error is not an answer: the next asker fetches.
* **In flight is shared**: a reader that asks for a page another thread is
  fetching waits for that fetch rather than fetching it again beside it.
* **Any asker may take a kept page**: a conditional request answered from a
  page fetched earlier in this run is as fresh as a 304 would have said.
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
        self._lock = threading.Lock()
        self.fetched = 0  # requests made through the memo (kept or not)
        self.shared = 0  # askers answered without a request

    def page(self, url: str, *, verify: bool, fetch: Callable[[], Page]) -> Page:
        """The page at ``url`` kept from this run, else ``fetch()``'s (kept when it is a 2xx and fits)."""
        key = (url, verify)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self.shared += 1
                return kept
            running = self._fetching.get(key)
            if running is None:
                done = self._fetching[key] = threading.Event()
        if running is not None:
            running.wait()
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None:
                    self.shared += 1
                    return kept
            return fetch()  # the other fetch failed, was a 304, or did not fit
        try:
            found = fetch()
            with self._lock:
                self.fetched += 1
                if 200 <= found.status < 300 and self._size + len(found.body) <= self._limit:
                    self._kept[key] = found
                    self._size += len(found.body)
            return found
        finally:
            with self._lock:
                del self._fetching[key]
            done.set()


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
