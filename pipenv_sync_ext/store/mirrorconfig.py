"""Which remote mirrors a run has (the command line, then pip's configuration), without loading http or ssl.

Split from :mod:`.mirrors` (the client that reads them) so that the status
check and an ``--offline`` run can know the mirrors' names without importing
the network stack. The decisions are in :mod:`.mirrors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipenv_sync_ext.lock.mirror import MirrorError
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
    given = [*find_links, *([index_url] if index_url else []), *extra_index_urls]
    for url in given:
        register_url(url)  # a mirror names itself in messages: its password never does
        _check(url, what="--find-links" if url in find_links else "--index-url/--extra-index-url")
    for url in (*find_links_urls(env), *([config_index] if config_index else []), *config_extra):
        register_url(url)
    # pip's own configuration is pip's to judge: a value that is no URL is left out, not an error here
    index = index_url or (config_index if config_index and _is_url(config_index) else None)
    indexes = [*([index] if index else []), *extra_index_urls, *filter(_is_url, config_extra)]
    pages = [*find_links, *filter(_is_url, find_links_urls(env))]
    return Mirrors(tuple(dict.fromkeys(pages)), tuple(dict.fromkeys(indexes)))


def _is_url(url: str) -> bool:
    parts = urlsplit(url)
    return bool((parts.scheme in ("http", "https") and parts.netloc) or (parts.scheme == "file" and parts.path))


def _check(url: str, *, what: str) -> None:
    """A usage error, before any request, for a mirror that is not a URL (``--index-url mirror.example``)."""
    if not _is_url(url):
        raise MirrorError(
            f"{what} {redact(url)!r}: not a URL",
            hint="give an http(s):// or file:// URL, e.g. --index-url https://mirror.example/simple/",
        )


def mirror_sources(urls: Sequence[str]) -> list[Source]:
    """Index mirrors as sources, named by their (redacted) URL."""
    return [Source(redact(url), url, not url.startswith("http:")) for url in urls]
