"""Crafted index pages: a file name from a page never becomes a path outside the store.

The loopback index serves pages that list, for a hash the lock allows, a file
whose *name* is a percent-encoded ``../``, an absolute path, or no wheel name
at all (HTML and JSON API). ``sync`` and ``fetch --all-hashes`` refuse it in
one line before downloading anything: no request for a file reaches the
index, and the venv, the cache and a sibling directory (the names' target)
are unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipenv_sync_ext.errors import UnsafePathError
from pipenv_sync_ext.store.artifact import Artifact
from pipenv_sync_ext.store.cas import LocalArtifact
from pipenv_sync_ext.store.wheelhouse import export

from .support import (
    Index,
    build_wheel,
    cli_env,
    error_text,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    sha256_file,
    snapshot_tree,
    write_project,
)


def _html(href: str) -> tuple[str, bytes]:
    return "text/html", f'<html><body><a href="{href}">x</a></body></html>'.encode()


def _json(filename: str, url: str, digest: str) -> tuple[str, bytes]:
    body = {"meta": {"api-version": "1.0"}, "name": "alpha", "files": [{"filename": filename, "url": url,
            "hashes": {"sha256": digest}}]}  # fmt: skip
    return "application/vnd.pypi.simple.v1+json", json.dumps(body).encode()


def _pages(sibling: Path, digest: str) -> dict[str, tuple[tuple[str, bytes], str]]:
    """name: (page, expected in the message)."""
    good = "../../files/alpha-1.0-py3-none-any.whl"
    return {
        "html, percent-encoded ../": (
            _html(f"../../files/..%2F..%2F..%2Fsibling%2Fvictim#sha256={digest}"),
            "'../../../sibling/victim' has a '..' component; refused",
        ),
        "html, percent-encoded absolute path": (
            _html(f"../../files/{str(sibling / 'victim').replace('/', '%2F')}#sha256={digest}"),
            f"{str(sibling / 'victim')!r} is not a relative POSIX path; refused",
        ),
        "json, ../ file name": (
            _json("../../sibling/victim", good, digest),
            "'../../sibling/victim' has a '..' component; refused",
        ),
        "json, absolute file name": (
            _json(str(sibling / "victim"), good, digest),
            "is not a relative POSIX path; refused",
        ),
        "json, not a wheel or sdist name": (
            _json("victim", good, digest),
            "'victim' is not a wheel or sdist file name; refused",
        ),
        "json, a line separator in the name": (
            _json("alpha-1.0-py3-none-any\u2028.whl", good, digest),
            "holds a control or line-separator character; refused",
        ),
    }


CASES = sorted(_pages(Path("/x"), "0" * 64))


@pytest.mark.parametrize("command", ["sync", "fetch --all-hashes"])
@pytest.mark.parametrize("case", CASES)
def test_a_hostile_file_name_on_an_index_page_is_refused_before_any_download(
    tmp_path: Path, index: Index, case: str, command: str
) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    index.add(wheel)  # the real file is there: only the page's name for it is hostile
    digest = sha256_file(wheel)
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    (sibling / "victim").write_text("precious\n")
    page, expected = _pages(sibling, digest)[case]
    index.raw_pages["alpha"] = page
    index.json_api = True
    env = cli_env(tmp_path)
    cache = tmp_path / "cache"
    venv = make_venv(tmp_path / "venv")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=index.url)
    # The venv and the cache as a first sync leaves them (a probe, the venv's lock, a stamp): then compared.
    empty = write_project(tmp_path / "empty", {"default": {}}, index_url=index.url)
    assert run_cli("--project", empty, "--venv", venv, env=env).returncode == 0
    before = snapshot_tree(venv), _cache(cache), snapshot_tree(sibling)
    args = ["fetch", "--all-hashes"] if command != "sync" else ["--venv", venv]
    proc = run_cli(*args, "--project", project, env=env)
    assert proc.returncode == 1, proc.stderr
    text = error_text(proc.stderr)  # a headline (folded when long), then the hint; no traceback
    assert expected in text and "a file the lock allows for alpha" in text, proc.stderr
    assert not [r for r in index.requests if r.startswith("/files/")], index.requests  # nothing downloaded
    assert (snapshot_tree(venv), _cache(cache), snapshot_tree(sibling)) == before
    assert (sibling / "victim").read_text() == "precious\n" and installed(venv) == {}


def _cache(cache: Path) -> dict[str, str]:
    """The cache but the status records (issue 17): what the index said of alpha is kept even when the
    sync is refused, in a file named by a hash (never by the page), and that is the only change allowed."""
    tree = snapshot_tree(cache)
    status = {k for k in tree if k.startswith("v1/status/")}
    assert all(len(Path(k).name) == len("0" * 64 + ".json") for k in status), status
    return {k: v for k, v in tree.items() if k not in status and k not in ("v1", "v1/status")}


@pytest.mark.parametrize("name", ["../victim.whl", "/tmp/victim.whl", "victim", "a/alpha-1.0-py3-none-any.whl"])
def test_the_wheelhouse_writes_only_safe_wheel_names(tmp_path: Path, name: str) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    house = tmp_path / "house" / "wh"
    house.mkdir(parents=True)
    before = snapshot_tree(tmp_path)
    local = LocalArtifact(Artifact(sha256_file(wheel), name), wheel)
    with pytest.raises(UnsafePathError, match=r"--wheelhouse .*: file name: .* refused"):
        export([local], house, warn=print)
    assert snapshot_tree(tmp_path) == before
