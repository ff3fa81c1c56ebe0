"""The installed ``RECORD`` and the other metadata an install writes, as pip 26 writes them.

RECORD
    One row per installed file: its path relative to the site directory the
    archive root went to (``/`` separators; ``../../../bin/tool`` for a
    script, ``../../../include/site/python3.11/<name>/x.h`` for a header),
    ``sha256=<urlsafe base64>`` and size; ``RECORD`` itself with neither.
    Sorted as pip sorts (plain string order of (path, hash, size), so the
    ``../../../`` rows come first), csv's default dialect: ``\\r\\n`` line
    ends, as pip writes them (uv and ``installer`` write ``\\n``; every
    reader, pip's ``show -f`` and uninstall, ``importlib.metadata`` and
    ``--verify``, reads both). Deliberately unlike pip, no path is listed
    twice (pip does when two members land on one path) and no row names a
    file that was not written (pip keeps a shadowed ``.data/scripts`` row):
    with such rows ``--verify`` would report the file modified or missing
    forever.
``INSTALLER``
    ``pipenv-sync\\n`` (pip writes ``pip\\n``, uv ``uv``).
``REQUESTED``
    Empty, for every distribution of a sync: ``pipenv sync`` installs each
    lock entry as a top-level requirement (``pip install -r``), so pip writes
    it for all of them, and so does uv.
``direct_url.json``
    Not written: these are index installs (pip writes none for them either).

The headers of a distribution go to ``<include>/<canonical name>/``
(:func:`dist_scheme`): pip 25.3+ and uv use the canonical project name
(pip 23.2 the requirement's spelling, ``_`` turned ``-``); without the
folder two distributions' headers could overwrite each other.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping

INSTALLER_NAME = b"pipenv-sync\n"
REQUESTED = b""
EMPTY_HASH = "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"  # of b"", as RECORD writes it


def dist_scheme(scheme: Mapping[str, str], name: str) -> dict[str, str]:
    """The interpreter's install scheme for distribution ``name``: headers in their own folder."""
    return {**scheme, "headers": f"{scheme['headers']}/{name}"}


def prefixes(scheme: Mapping[str, str], root: str) -> dict[str, str]:
    """Per scheme, what goes before a path within it to make it relative to ``root`` (as ``os.path.relpath``)."""
    base = os.path.normpath(root)
    out = {}
    for key, directory in scheme.items():
        norm = os.path.normpath(directory)
        out[key] = "" if norm == base else os.path.relpath(norm, base).replace(os.sep, "/") + "/"
    return out


def record_bytes(rows: Iterable[tuple[str, str, str]], record_path: str) -> bytes:
    """RECORD for ``rows`` of (path relative to the root site directory, hash or "", size or "")."""
    unique = {path: (path, h, size) for path, h, size in rows}  # the last write of a path is what is on disk
    unique[record_path] = (record_path, "", "")
    out = io.StringIO()
    csv.writer(out).writerows(sorted(unique.values()))
    return out.getvalue().encode("utf-8")
