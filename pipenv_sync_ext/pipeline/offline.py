"""``--offline`` as a guarantee rather than a promise: the process can open no connection."""

from __future__ import annotations

import sys

from pipenv_sync_ext.errors import OfflineViolation


def forbid_network() -> None:
    """Make ``--offline`` a guarantee: any socket connect in this process raises.

    An audit hook is process-wide and cannot be removed: fine for the CLI, which
    is one sync per process; a library caller gets an offline process.
    """

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event in ("socket.connect", "socket.getaddrinfo"):
            raise OfflineViolation(f"--offline: refused a network connection ({event} {args[1:2]!r})")

    sys.addaudithook(hook)
