"""The wheelhouse as a static site (issue 13 part 2): pages any static server serves, read by this tool, pip and uv.

Every test builds real wheels, fetches them from the loopback index into a
wheelhouse with the real CLI, and serves the wheelhouse with a plain static
file server on loopback (``http.server``'s handler, as ``python -m http.server``
runs it), or one configured to negotiate PEP 691 as ``bench/fleet.py``'s nginx is.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .realtools import uv_bin
from .support import (
    Index,
    build_wheel,
    cli_env,
    error_text,
    installed,
    lock_entry,
    make_sdist,
    make_venv,
    run_cli,
    sha256_file,
    start_cli,
    write_project,
)

PEP691 = "application/vnd.pypi.simple.v1+json"


class _Links(HTMLParser):
    """Every ``<a href>`` of a page, independent of the tool's own parser."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    assert text.rstrip().endswith("</html>"), f"{page}: a partial page"
    parser = _Links()
    parser.feed(text)
    return parser.hrefs


def listed_files(page: Path, root: Path) -> dict[str, str]:
    """file path (relative to ``root``) -> sha256, for every file link of an HTML page or a PEP 691 JSON page."""
    found: dict[str, str] = {}
    if page.suffix == ".json":
        data = json.loads(page.read_text(encoding="utf-8"))
        assert data["meta"]["api-version"] == "1.1"
        entries = [(f["url"], f["hashes"]["sha256"]) for f in data.get("files", [])]
    else:
        entries = []
        for href in links(page):
            url, _, fragment = href.partition("#")
            if fragment:
                entries.append((url, fragment.removeprefix("sha256=")))
    base = page.parent.relative_to(root).as_posix() + "/"
    for url, digest in entries:
        assert "://" not in url and not url.startswith("/"), f"{page}: link {url!r} is not relative"
        resolved = urllib.parse.urljoin("http://h/" + base.lstrip("./"), urllib.parse.unquote(url))
        found[urllib.parse.urlsplit(resolved).path.lstrip("/")] = digest
    return found


def every_page(wh: Path) -> list[Path]:
    return [wh / "index.html", *sorted((wh / "simple").rglob("index.*"))]


@dataclass
class Served:
    """The wheelhouse on a loopback static server that records what it served."""

    url: str
    paths: list[str] = field(default_factory=list)
    json_pages: int = 0


def _handler(wh: Path, served: Served, negotiate: bool) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(wh), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

        def send_head(self) -> Any:
            served.paths.append(self.path)
            # as bench/fleet.py's nginx: a directory's index.json for a client that asks for PEP 691
            if negotiate and self.path.endswith("/") and PEP691 in self.headers.get("Accept", ""):
                page = Path(self.translate_path(self.path), "index.json")
                if page.is_file():
                    served.json_pages += 1
                    body = page.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", PEP691)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return None
            return super().send_head()

    return Handler


@contextlib.contextmanager
def serve(wh: Path, *, negotiate: bool = False) -> Iterator[Served]:
    served = Served("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(wh, served, negotiate))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class World:
    """Wheels on the loopback index, a lock of them, and a wheelhouse fetched from it."""

    tmp: Path
    index: Index
    wheels: dict[str, Path]
    project: Path
    wheelhouse: Path

    def env(self, host: str, **extra: str) -> dict[str, str]:
        return cli_env(self.tmp / host, **extra)

    def requirements(self) -> Path:
        """A hashed requirements.txt of the lock (``export`` writes pylock.toml only)."""
        lock = json.loads((self.project / "Pipfile.lock").read_text())
        lines = [
            f"{name}{spec['version']} " + " ".join(f"--hash={h}" for h in spec["hashes"])
            for name, spec in sorted(lock["default"].items())
        ]
        path = self.tmp / "requirements.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    def expected(self) -> dict[str, str]:
        lock = json.loads((self.project / "Pipfile.lock").read_text())
        return {name: spec["version"].lstrip("=") for name, spec in lock["default"].items()}


def _lock(index: Index, wheels: dict[str, Path], project: Path, pins: dict[str, str]) -> Path:
    entries = {name: lock_entry([wheels[f"{name}=={v}"]], v) for name, v in pins.items()}
    return write_project(project, {"default": entries}, index_url=index.url)


@pytest.fixture
def world(tmp_path: Path, index: Index) -> World:
    dest = tmp_path / "wheels"
    wheels = {
        "alpha==1.0": build_wheel(dest, "alpha", "1.0"),
        # a local version: "+" is quoted in every link, and unquoted by every reader
        "odd-name==2.0+local.1": build_wheel(dest, "Odd_Name", "2.0+local.1"),
        "gamma==1.0": build_wheel(dest, "gamma", "1.0"),
        "gamma==2.0": build_wheel(dest, "gamma", "2.0"),
        "delta==0.5": make_sdist(dest, "delta", "0.5"),
    }
    for wheel in wheels.values():
        index.add(wheel)
    project = _lock(index, wheels, tmp_path / "p", {"alpha": "1.0", "odd-name": "2.0+local.1", "gamma": "1.0"})
    return World(tmp_path, index, wheels, project, tmp_path / "wheelhouse")


def fetch(world: World, project: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = run_cli("fetch", "--project", project or world.project, "--wheelhouse", world.wheelhouse,
                   env=world.env("build"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc


def test_every_page_lists_every_file_by_the_sha256_of_its_bytes_with_relative_links(world: World) -> None:
    wh = world.wheelhouse
    wh.mkdir()
    # what a page must never list: a symlink (to a real wheel), a stray file, a copy in flight
    os.symlink(world.wheels["gamma==2.0"], wh / world.wheels["gamma==2.0"].name)
    (wh / "notes.txt").write_text("not an artifact\n")
    (wh / ".tmp-abc.part").write_bytes(b"half a wheel")
    # packaging reads this as an sdist of "x<script>": no page carries it, escaped or not, and fetch says so
    (wh / "x<script>-1.0.tar.gz").write_bytes(world.wheels["delta==0.5"].read_bytes())
    proc = fetch(world)
    assert "not listed in its pages (not a valid project name): 'x<script>-1.0.tar.gz'" in proc.stderr
    assert not any("script" in page.read_text() for page in every_page(wh))

    names = {world.wheels[k].name for k in ("alpha==1.0", "odd-name==2.0+local.1", "gamma==1.0")}
    on_disk = {name: sha256_file(wh / name) for name in names}
    flat = listed_files(wh / "index.html", wh)
    assert flat == on_disk
    assert "%2B" in (wh / "index.html").read_text()  # the local version's "+", quoted
    # PEP 503 and PEP 691 pages agree with the flat page, project by canonical name
    assert sorted(p.name for p in (wh / "simple").iterdir() if p.is_dir()) == ["alpha", "gamma", "odd-name"]
    for project in ("alpha", "gamma", "odd-name"):
        html_files = listed_files(wh / "simple" / project / "index.html", wh)
        assert html_files == listed_files(wh / "simple" / project / "index.json", wh)
        assert html_files and all(on_disk[name] == digest for name, digest in html_files.items())
        data = json.loads((wh / "simple" / project / "index.json").read_text())
        assert data["name"] == project
        assert [f["size"] for f in data["files"]] == [(wh / f["filename"]).stat().st_size for f in data["files"]]
    assert json.loads((wh / "simple" / "index.json").read_text())["projects"] == [
        {"name": "alpha"}, {"name": "gamma"}, {"name": "odd-name"}]  # fmt: skip
    assert links(wh / "simple" / "index.html") == ["alpha/", "gamma/", "odd-name/"]
    # servable by a server running as another user
    assert all(page.stat().st_mode & 0o044 == 0o044 for page in every_page(wh))
    assert (wh / "status.json").stat().st_mode & 0o044 == 0o044  # served beside them for air-gapped hosts


def test_a_page_is_rebuilt_from_the_bytes_not_from_the_store(world: World) -> None:
    fetch(world)
    wh = world.wheelhouse
    # a file replaced in the wheelhouse (by hand, or by another tool) is listed with the hash of its new bytes
    alpha = wh / world.wheels["alpha==1.0"].name
    alpha.write_bytes(world.wheels["gamma==1.0"].read_bytes())
    fetch(world)  # copies alpha back: its bytes did not match the lock
    assert sha256_file(alpha) == sha256_file(world.wheels["alpha==1.0"])
    other = build_wheel(world.tmp / "other", "alpha", "9.0")
    (wh / other.name).write_bytes(other.read_bytes())
    fetch(world)
    assert listed_files(wh / "simple" / "alpha" / "index.html", wh)[other.name] == sha256_file(other)


def test_a_second_fetch_adds_files_and_a_reader_never_sees_a_broken_page(world: World) -> None:
    wh = world.wheelhouse
    later = _lock(world.index, world.wheels, world.tmp / "later",
                  {"alpha": "1.0", "gamma": "2.0", "delta": "0.5"})  # fmt: skip
    stop = threading.Event()
    reads: list[int] = []
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            for page in every_page(wh) if wh.is_dir() else ():
                try:
                    for name, digest in listed_files(page, wh).items():
                        if sha256_file(wh / name) != digest:
                            failures.append(f"{page}: {name} does not have the sha256 the page says")
                except FileNotFoundError as exc:
                    if Path(exc.filename or "") != page:  # a page may vanish (a stale project); a file must not
                        failures.append(f"{page}: lists a missing file: {exc}")
                except (ValueError, AssertionError, KeyError) as exc:
                    failures.append(f"{page}: {exc!r}")
                reads.append(1)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        fetch(world)
        fetch(world, later)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures[:5]
    assert len(reads) > 10  # the reader did read while the fetches ran
    # the files of both locks stay; every page lists all of them
    names = {world.wheels[k].name for k in world.wheels}
    assert set(listed_files(wh / "index.html", wh)) == names
    assert set(listed_files(wh / "simple" / "gamma" / "index.json", wh)) == {
        world.wheels["gamma==1.0"].name, world.wheels["gamma==2.0"].name}  # fmt: skip


def uv_env(world: World, host: str) -> dict[str, str]:
    return world.env(host, UV_CACHE_DIR=str(world.tmp / host / "uv-cache"), UV_NO_CONFIG="1",
                     UV_PYTHON_DOWNLOADS="never")  # fmt: skip


def test_pip_and_uv_install_with_hashes_from_the_served_wheelhouse(world: World) -> None:
    fetch(world)
    requirements = world.requirements()
    files = {world.wheels[k].name for k in ("alpha==1.0", "odd-name==2.0+local.1", "gamma==1.0")}
    with serve(world.wheelhouse) as served:
        runs = {
            "pip --find-links": [sys.executable, "-m", "pip", "--python", "{venv}/bin/python", "install", "--no-index",
                                 "--find-links", f"{served.url}/", "--no-cache-dir"],
            "pip --index-url": [sys.executable, "-m", "pip", "--python", "{venv}/bin/python", "install",
                                "--index-url", f"{served.url}/simple/", "--no-cache-dir"],
            "uv --find-links": [uv_bin(), "pip", "install", "--python", "{venv}/bin/python", "--no-index",
                                "--find-links", f"{served.url}/"],
            "uv --index-url": [uv_bin(), "pip", "install", "--python", "{venv}/bin/python",
                               "--index-url", f"{served.url}/simple/"],
        }  # fmt: skip
        for label, command in runs.items():
            host = label.replace(" ", "").replace("-", "")
            venv = make_venv(world.tmp / host / "venv")
            served.paths.clear()
            args = [c.replace("{venv}", str(venv)) for c in command]
            proc = subprocess.run([*args, "--require-hashes", "-r", str(requirements)], capture_output=True,
                                  text=True, env=uv_env(world, host), timeout=300)  # fmt: skip
            assert proc.returncode == 0, f"{label}:\n{proc.stdout}\n{proc.stderr}"
            assert {k: v for k, v in installed(venv).items() if k != "pip"} == world.expected(), label
            downloaded = {urllib.parse.unquote(p.rsplit("/", 1)[-1]) for p in served.paths if not p.endswith("/")}
            assert downloaded == files, (label, served.paths)  # every file from this server


def test_a_negotiating_server_gives_pep_691_json_to_this_tool_and_pip(world: World) -> None:
    fetch(world)
    with serve(world.wheelhouse, negotiate=True) as served:
        project = _lock(world.index, world.wheels, world.tmp / "served",
                        {"alpha": "1.0", "odd-name": "2.0+local.1", "gamma": "1.0"})  # fmt: skip
        lock = json.loads((project / "Pipfile.lock").read_text())
        lock["_meta"]["sources"][0]["url"] = f"{served.url}/simple"  # the wheelhouse is the lock's index
        (project / "Pipfile.lock").write_text(json.dumps(lock))
        proc = run_cli("--project", project, "--venv", world.tmp / "v", env=world.env("host"))
        assert proc.returncode == 0, proc.stderr
        assert installed(world.tmp / "v") == world.expected()
        assert served.json_pages >= 3  # one page per project, in JSON
        served.json_pages = 0
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--index-url",
             f"{served.url}/simple/", "-d", world.tmp / "pipdl", "odd-name==2.0+local.1"],
            capture_output=True, text=True, env=world.env("pip"), timeout=120,
        )  # fmt: skip
        assert pip.returncode == 0, pip.stderr
        assert served.json_pages == 1
        got = world.tmp / "pipdl" / world.wheels["odd-name==2.0+local.1"].name
        assert sha256_file(got) == sha256_file(world.wheels["odd-name==2.0+local.1"])


def test_a_symlink_in_the_wheelhouse_never_takes_a_page_or_a_file_outside_it(world: World) -> None:
    wh, outside = world.wheelhouse, world.tmp / "outside"
    wh.mkdir()
    outside.mkdir()
    alpha = world.wheels["alpha==1.0"]
    os.symlink(alpha, wh / alpha.name)  # a listed name that is a link: replaced by a real copy, and listed
    os.symlink(outside, wh / "simple")  # the pages' directory leading out: refused before any page
    proc = run_cli("fetch", "--project", world.project, "--wheelhouse", wh, env=world.env("build"))
    assert proc.returncode != 0
    assert "leads outside" in error_text(proc.stderr) and "refused" in error_text(proc.stderr)
    assert list(outside.iterdir()) == [] and sorted(p.name for p in wh.iterdir()) == [alpha.name, "simple"]
    assert (wh / alpha.name).is_symlink()  # refused before the first copy: nothing changed
    (wh / "simple").unlink()
    fetch(world)
    assert not (wh / alpha.name).is_symlink() and sha256_file(wh / alpha.name) == sha256_file(alpha)
    assert alpha.name in listed_files(wh / "index.html", wh)


def test_two_fetches_at_once_into_one_wheelhouse_both_end_up_listed(world: World) -> None:
    other = _lock(world.index, world.wheels, world.tmp / "other", {"gamma": "2.0", "delta": "0.5"})
    env = world.env("build")
    started = [start_cli("fetch", "--project", project, "--wheelhouse", world.wheelhouse, env=env)
               for project in (world.project, other)]  # fmt: skip
    for proc in started:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    names = {w.name for w in world.wheels.values()}
    # whichever wrote its pages last listed the files of both (pages are written under flock on the directory)
    assert set(listed_files(world.wheelhouse / "index.html", world.wheelhouse)) == names
    for page in every_page(world.wheelhouse):
        assert all(sha256_file(world.wheelhouse / n) == d for n, d in listed_files(page, world.wheelhouse).items())


def test_this_tool_syncs_from_the_served_wheelhouse_alone_by_find_links_or_index_url(world: World) -> None:
    fetch(world)
    files = {world.wheels[k].name for k in ("alpha==1.0", "odd-name==2.0+local.1", "gamma==1.0")}
    with serve(world.wheelhouse, negotiate=True) as served:
        for option, url in (("--find-links", f"{served.url}/"), ("--index-url", f"{served.url}/simple/")):
            host = option.strip("-")
            served.paths.clear()
            # the lock's own index is the loopback one: --no-lock-sources keeps it out of the run
            world.index.requests.clear()
            proc = run_cli("--project", world.project, "--venv", world.tmp / host / "venv", option, url,
                           "--no-lock-sources", env=world.env(host))  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            assert installed(world.tmp / host / "venv") == world.expected()
            assert world.index.requests == []
            downloaded = {urllib.parse.unquote(p.rsplit("/", 1)[-1]) for p in served.paths if not p.endswith("/")}
            assert downloaded == files, (option, served.paths)
            if option == "--find-links":
                assert [p for p in served.paths if p.endswith("/")] == ["/"]  # the flat page, once
