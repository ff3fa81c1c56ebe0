"""The status check's limits (issue 17, red team): a slow index, times that cannot be true, hostile pages.

Every sync is the real CLI against loopback servers: the test index of ``support.py``,
and here a server that answers every request with one canned response, at a drip or
at once, for what the test index will not send (a body that never ends, a gzip bomb).
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, write_project

DAY = 86400


@contextmanager
def canned(head: bytes, body: bytes, *, drip: float | None = None) -> Iterator[tuple[str, list[str]]]:
    """A server answering every request with ``head`` then ``body`` (one byte per ``drip`` seconds when set).

    Yields its simple-API URL and the request lines it received.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    asked: list[str] = []

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                while True:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        request += chunk
                    asked.append(request.split(b"\r\n", 1)[0].decode())
                    conn.sendall(head)
                    if drip is None:
                        conn.sendall(body)
                        continue
                    for i in range(len(body)):
                        if stop.wait(drip):
                            return
                        conn.sendall(body[i : i + 1])
            except OSError:
                return

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/simple", asked
    finally:
        stop.set()
        listener.close()


def _project(tmp: Path, index: Index) -> tuple[Path, dict[str, Path]]:
    wh = tmp / "wheels"
    wheels = {"alpha": build_wheel(wh, "alpha", "1.0"), "beta": build_wheel(wh, "beta", "2.0")}
    for path in wheels.values():
        index.add(path)
    entries = {"alpha": lock_entry([wheels["alpha"]], "1.0"), "beta": lock_entry([wheels["beta"]], "2.0")}
    return write_project(tmp / "proj", {"default": entries}, index_url=index.url), wheels


def _add_source(project: Path, url: str) -> None:
    """A second source in the lock (a mirror): the status check asks every source."""
    path = project / "Pipfile.lock"
    lock = json.loads(path.read_text())
    lock["_meta"]["sources"].append({"name": "slow", "url": url, "verify_ssl": False})
    path.write_text(json.dumps(lock))


def _sync(project: Path, venv: Path, *args: str | Path, env: dict[str, str]) -> tuple[int, str]:
    proc = run_cli("--project", project, "--venv", venv, *args, env=env)
    return proc.returncode, proc.stderr + proc.stdout


def test_an_index_dripping_a_byte_a_second_does_not_stall_the_sync(tmp_path: Path, index: Index) -> None:
    """A socket timeout bounds each read, not a body that never ends: the check has one total deadline."""
    index.json_api = True
    project, wheels = _project(tmp_path, index)
    index.yanked[wheels["alpha"].name] = "known before the index slowed down"
    env = cli_env(tmp_path, PIPENV_SYNC_STATUS_TIMEOUT="1")
    code, out = _sync(project, tmp_path / "warm", env=env)  # fills the store and the status cache
    assert code == 0 and "known before the index slowed down" in out, out

    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.pypi.simple.v1+json\r\nContent-Length: 100000\r\n\r\n"
    with canned(head, b" " * 100_000, drip=1.0) as (url, asked):
        _add_source(project, url)
        code, out = _sync(project, tmp_path / "v", "--json", env=env)
        assert code == 0, out
        assert len(asked) == 2  # both projects' pages were asked of the dripping source
    lines = [line for line in out.splitlines() if line.startswith("warning: the index did not answer the status")]
    assert len(lines) == 1 and "of 2 project(s) within 1 s" in lines[0] and "alpha, beta" in lines[0], out
    assert "alpha==1.0 is yanked" in out and "known before the index slowed down" in out  # the answer in time
    data = json.loads(out[out.index("{") :])
    # the source that answered in time counts; the one that did not is named, once a project
    assert data["status"]["problems"] == [f"{url}: no answer within 1 s"] * 2, data["status"]
    assert {w["index"] for w in data["withdrawn"]} == {index.url}
    assert installed(tmp_path / "v") == {"alpha": "1.0", "beta": "2.0"}


def _status_files(cache: Path) -> list[Path]:
    files = sorted((cache / "v1" / "status").glob("*.json"))
    assert files
    return files


def test_a_cached_time_in_the_future_is_never_fresh(tmp_path: Path, index: Index) -> None:
    """A ``fetched_at`` ahead of the clock would keep an answer "fresh" (max-age) for ever, and its age at 0."""
    index.json_api = True
    index.page_headers["Cache-Control"] = "max-age=600"
    project, wheels = _project(tmp_path, index)
    env = cli_env(tmp_path)
    code, out = _sync(project, tmp_path / "v1", env=env)
    assert code == 0 and "yanked" not in out, out
    for f in _status_files(tmp_path / "cache"):
        data = json.loads(f.read_text())
        data["fetched_at"] = time.time() + 365 * DAY
        f.write_text(json.dumps(data))

    # offline: an answer of unknown age is stale, whatever --status-max-age says
    code, out = _sync(project, tmp_path / "off", "--offline", "--status-max-age", "3650d", env=env)
    assert code == 0, out
    lines = [line for line in out.splitlines() if "last checked" in line]
    assert len(lines) == 1 and "at an unknown time" in lines[0], out
    code, out = _sync(project, tmp_path / "strict", "--offline", "--require-fresh-status", env=env)
    assert code == 1 and "at an unknown time" in out and not (tmp_path / "strict").exists(), out

    # online: the index is asked again (the answer is not "fresh" by max-age), and its yank is seen
    index.yanked[wheels["alpha"].name] = "seen despite the cache"
    index.requests.clear()
    code, out = _sync(project, tmp_path / "v2", env=env)
    assert code == 0 and "seen despite the cache" in out, out
    assert sorted(index.requests) == ["/simple/alpha/", "/simple/beta/"]


def test_a_wheelhouse_status_with_a_time_that_is_not_a_number_is_stale(tmp_path: Path, index: Index) -> None:
    index.json_api = True
    project, _wheels = _project(tmp_path, index)
    wheelhouse = tmp_path / "wheelhouse"
    proc = run_cli("fetch", "--project", project, "--wheelhouse", wheelhouse, env=cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    recorded = wheelhouse / "status.json"
    for bad in ("NaN", "Infinity", str(time.time() + 30 * DAY)):
        data = json.loads(recorded.read_text())
        for p in data["projects"]:
            p["fetched_at"] = "@"
        recorded.write_text(json.dumps(data).replace('"@"', bad))
        host = cli_env(tmp_path / f"host-{bad}")  # another machine: no cache, only the wheelhouse
        venv = tmp_path / f"v-{bad}"
        code, out = _sync(project, venv, "--offline", "--find-links", wheelhouse, "--json", env=host)
        assert code == 0, out
        assert "last checked at an unknown time" in out, (bad, out)
        assert json.loads(out[out.index("{") :])["status"]["age_seconds"] is None
        assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_an_unchanged_page_keeps_its_cached_answer_without_validators(tmp_path: Path, index: Index) -> None:
    """This machine's route to PyPI sends no ETag: the same bytes give the cached answer, unparsed; a change is read."""
    index.json_api = True  # and index.etags stays off: no validator at all
    project, wheels = _project(tmp_path, index)
    index.yanked[wheels["alpha"].name] = "first reason"
    env = cli_env(tmp_path)
    code, out = _sync(project, tmp_path / "v1", env=env)
    assert code == 0 and "first reason" in out, out
    # the cached answer is changed behind the index's back, its page digest kept: the same page
    # again must give that answer (it was not parsed again), proving the digest decides
    for f in _status_files(tmp_path / "cache"):
        data = json.loads(f.read_text())
        assert data["digest"] and data["etag"] is None
        data["files"] = {h: "from the cache" for h in data["files"]}
        f.write_text(json.dumps(data))
    code, out = _sync(project, tmp_path / "v2", env=env)
    assert code == 0 and "from the cache" in out and "first reason" not in out, out
    # a change at the index is a new page: read again
    index.yanked[wheels["alpha"].name] = "second reason"
    code, out = _sync(project, tmp_path / "v3", env=env)
    assert code == 0 and "second reason" in out and "from the cache" not in out, out


def test_a_gzip_bomb_listing_page_is_refused_at_once_not_retried_as_unreachable(tmp_path: Path) -> None:
    bomb = gzip.compress(b" " * (65 << 20), compresslevel=9)  # 65 MiB of spaces in ~64 KB
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.pypi.simple.v1+json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: " + str(len(bomb)).encode() + b"\r\n\r\n"
    )
    wheel = build_wheel(tmp_path / "wheels", "alpha", "1.0")
    with canned(head, bomb) as (url, asked):
        project = write_project(tmp_path / "proj", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=url)
        code, out = _sync(project, tmp_path / "v", env=cli_env(tmp_path))
        pages = [line for line in asked if "/simple/alpha/" in line]
    assert code == 4, out
    assert "page inflates beyond 64 MiB; refused" in out and "unreachable" not in out and "retrying" not in out, out
    assert len(pages) == 1  # the listing and the status check share one fetch (store/pagememo.py), not retried
    assert not (tmp_path / "v").exists() or installed(tmp_path / "v") == {}


def test_a_page_refused_at_one_source_makes_the_next_source_serve_the_package(tmp_path: Path, index: Index) -> None:
    """A gzip bomb at the first source is that source's refusal, not the package's: the next one lists it."""
    bomb = gzip.compress(b" " * (65 << 20), compresslevel=9)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.pypi.simple.v1+json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: " + str(len(bomb)).encode() + b"\r\n\r\n"
    )
    wheel = build_wheel(tmp_path / "wheels", "alpha", "1.0")
    index.add(wheel)
    with canned(head, bomb) as (url, asked):
        project = write_project(tmp_path / "proj", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=url)
        _add_source(project, index.url)  # the good index second: asked only because the first refused
        code, out = _sync(project, tmp_path / "v", env=cli_env(tmp_path))
        pages = [line for line in asked if "/simple/alpha/" in line]
    assert code == 0, out
    assert installed(tmp_path / "v") == {"alpha": "1.0"}
    assert "/simple/alpha/" in index.requests and any(r.startswith("/files/") for r in index.requests), index.requests
    assert len(pages) == 1  # the listing and the status check shared the one page (refused once, not retried)


def test_a_json_page_is_read_unparsed_only_when_nothing_on_it_can_be_yanked_or_a_status() -> None:
    """Most pages are megabytes with every ``"yanked": false``: read by counting, never misreading a page that
    writes its JSON another way (spacing, escapes), nor one cut short."""
    from pipenv_sync_ext.store.status import parse_page

    def page(*files: str, extra: str = "") -> bytes:
        return ('{"files": [' + ", ".join(files) + '], "meta": {"api-version": "1.1"}' + extra + "}").encode()

    def ok(digest: str, yanked: str = '"yanked": false') -> str:
        return f'{{"filename": "a-1.0.tar.gz", "hashes": {{"sha256": "{digest}"}}, {yanked}}}'

    def read(body: bytes) -> tuple[str, dict[str, str]]:
        status = parse_page(body, "application/vnd.pypi.simple.v1+json", project="a", index="i")
        return status.status, dict(status.files)

    assert read(page(ok("aa"), ok("bb", '"yanked":false'))) == ("active", {})
    cases = {  # how a file may be yanked -> its reason as read
        '"yanked" : true': "",
        '"yanked": "broken"': "broken",
        '"yank\\u0065d": "hidden"': "hidden",
    }
    for yanked, reason in cases.items():
        assert read(page(ok("aa"), ok("bb", yanked))) == ("active", {"bb": reason}), yanked
    quarantined = ', "project-status": {"status": "quarantined"}'
    assert read(page(ok("aa"), extra=quarantined))[0] == "quarantined"
    assert read(page(ok("aa"), extra=', "project\\u002dstatus": {"status": "archived"}'))[0] == "archived"
    cut = page(ok("aa"), ok("bb", '"yanked": true'))[:-40]  # cut before the yanked entry ends
    with pytest.raises(ValueError):
        read(cut + b"}")
