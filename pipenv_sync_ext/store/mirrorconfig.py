"""Which remote mirrors a run has (the command line, then pip's configuration), without loading http or ssl.

Split from :mod:`.mirrors` (the client that reads them) so that the status
check and an ``--offline`` run can know the mirrors' names without importing
the network stack. The decisions are in :mod:`.mirrors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipenv_sync_ext.lock.model import Source
from pipenv_sync_ext.redact import redact, register_url
from pipenv_sync_ext.store.pipconfig import find_links_urls, index_urls


@dataclass(frozen=True)
class Mirrors:
    """Remote places to try before the lock's sources, in order."""

    pages: tuple[str, ...] = ()  # flat find-links pages
    indexes: tuple[str, ...] = ()  # simple indexes: --index-url, then each --extra-index-url

    def __bool__(self) -> bool:
        return bool(self.pages or self.indexes)


NO_MIRRORS = Mirrors()


def configured_mirrors(
    find_links: Sequence[str],
    index_url: str | None,
    *,
    extra_index_urls: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Mirrors:
    """The command line's mirrors, then pip's configured ones (environment over pip.conf)."""
    config_index, config_extra = index_urls(env)
    index = index_url or config_index
    indexes = [*([index] if index else []), *extra_index_urls, *config_extra]
    pages = [*find_links, *find_links_urls(env)]
    for url in (*pages, *indexes):
        register_url(url)  # a mirror names itself in messages: its password never does
    return Mirrors(tuple(dict.fromkeys(pages)), tuple(dict.fromkeys(indexes)))


def mirror_sources(urls: Sequence[str]) -> list[Source]:
    """Index mirrors as sources, named by their (redacted) URL."""
    return [Source(redact(url), url, not url.startswith("http:")) for url in urls]
