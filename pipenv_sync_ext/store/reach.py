"""Whether a host can be reached at all: a DNS or connect failure is an answer for the whole run.

Used by :mod:`.index`: such a failure is not retried, and every later request
to the same ``host:port`` fails at once with :class:`HostUnreachable`. A
certificate that is not trusted is such an answer too (:mod:`.http` says so):
another attempt meets the same certificate. Standard library only: the
socket-level cause is judged here, whatever client raised it.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import urllib.parse
import urllib.request

from pipenv_sync_ext.errors import FetchError


class HostUnreachable(FetchError):
    """A host that could not be resolved or connected to: no request to it is made again in this run."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"cannot reach {host}: {reason}")
        self.host = host
        self.reason = reason


# Connect-time failures that another attempt in the same run would only repeat.
_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ETIMEDOUT}


def unreachable_reason(reason: BaseException | None) -> str | None:
    """Why ``reason`` (the socket error under a failed connect) means the host is unreachable, if it does."""
    if isinstance(reason, socket.gaierror):
        return f"the name does not resolve ({reason.strerror or reason})"
    if isinstance(reason, TimeoutError):
        return "the connection timed out"
    if isinstance(reason, OSError) and reason.errno in _UNREACHABLE_ERRNOS:
        return reason.strerror or str(reason)
    return None


def proxy_for(url: str) -> str | None:
    """The proxy ``url`` goes through (``https_proxy``, ``no_proxy``...), if any, as pip (requests) reads them.

    urllib's reading, with two things pip does and urllib does not: a proxy
    without a scheme (``https_proxy=proxy.corp:3128``, a common setting) is
    ``http://``, and a ``no_proxy`` entry may be a network (``10.0.0.0/8``),
    which an IP address in it bypasses.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and (urllib.request.proxy_bypass(parts.hostname) or _in_no_proxy_network(parts.hostname)):
        return None
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy
    return proxy


def _in_no_proxy_network(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in (os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or "").split(","):
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False) if "/" in entry else None
        except ValueError:
            continue
        if network is not None and address in network:
            return True
    return False
