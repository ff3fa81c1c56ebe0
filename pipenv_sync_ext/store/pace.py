"""How slowly an answer may arrive: the rule :mod:`.http` applies to every receive of a page or a download.

Decision: an answer that trickles (fewer than :data:`LOW_SPEED` bytes a second over a
whole :data:`LOW_SPEED_TIME` window, curl's ``--speed-limit``/``--speed-time``) is given
up. The read timeout alone never ends a body that sends a byte every 29 s; a total
deadline would cut off a large wheel on a slow but honest link. Standard library only.
"""

from __future__ import annotations

import os
import time

from pipenv_sync_ext.redact import redact

LOW_SPEED, LOW_SPEED_TIME = 1024, 60.0  # bytes a second, over seconds: slower than that is given up


class TooSlow(OSError):
    """An answer slower than the rule: retried like a dropped connection (an ``OSError``)."""


class Pace:
    """Counts what arrives for one answer; :meth:`advance` raises :class:`TooSlow` when a window was too slow."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._window = float(os.environ.get("PIPENV_SYNC_TEST_LOW_SPEED_TIME") or LOW_SPEED_TIME)  # tests only
        self._started = time.monotonic()
        self._bytes = 0

    def advance(self, received: int) -> None:
        self._bytes += received
        now = time.monotonic()
        if now - self._started < self._window:
            return
        if self._bytes < LOW_SPEED * (now - self._started):
            raise TooSlow(
                f"{redact(self._url)}: {self._bytes} bytes in {now - self._started:.0f} s, "
                f"slower than {LOW_SPEED} bytes/s; given up"
            )
        self._started, self._bytes = now, 0
