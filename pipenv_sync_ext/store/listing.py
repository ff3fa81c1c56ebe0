"""What a simple-API page lists: (file name, absolute URL, sha256) for each file with a sha256.

PEP 691 JSON or PEP 503 HTML. The page is untrusted: its file names are only
labels here (``store/artifact.py``'s ``safe_filename`` judges them before any
use), and links to other schemes (``file://`` from a remote page) are dropped.
Split from ``store/index.py``, which fetches the pages.
"""

from __future__ import annotations

import urllib.parse
from html.parser import HTMLParser

from pipenv_sync_ext.store.httpbody import load_json_page


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def parse_listing(body: bytes, content_type: str, base_url: str) -> list[tuple[str, str, str]]:
    """(filename, absolute url, sha256) for each file a simple-API page lists with a sha256."""
    files: list[tuple[str, str, str]] = []
    if "json" in content_type:
        data = load_json_page(body)
        for f in data.get("files", []):
            digest = (f.get("hashes") or {}).get("sha256")
            if digest and f.get("filename") and f.get("url"):
                files.append((str(f["filename"]), urllib.parse.urljoin(base_url, str(f["url"])), str(digest).lower()))
        return [f for f in files if _fetchable(f[1], base_url)]
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    for href in parser.links:
        url, _, fragment = urllib.parse.urljoin(base_url, href).partition("#")
        digest = dict(urllib.parse.parse_qsl(fragment)).get("sha256")
        if digest:
            filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
            files.append((filename, url, digest.lower()))
    return [f for f in files if _fetchable(f[1], base_url)]


def unhashed_links(body: bytes, base_url: str) -> list[str]:
    """File names of an HTML page's links that carry no ``#sha256=`` (a find-links page may have them)."""
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    names = []
    for href in parser.links:
        url, _, fragment = urllib.parse.urljoin(base_url, href).partition("#")
        if not dict(urllib.parse.parse_qsl(fragment)).get("sha256"):
            names.append(urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]))
    return names


def _fetchable(url: str, page_url: str) -> bool:
    # A remote index page must not make us read local files (file://) or speak other
    # schemes; a file:// index the user configured may point at its own files.
    scheme = urllib.parse.urlsplit(url).scheme
    return scheme in ("http", "https") or scheme == urllib.parse.urlsplit(page_url).scheme == "file"
