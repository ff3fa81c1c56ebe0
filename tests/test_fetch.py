"""``pipenv-sync fetch``: foreign targets, wheelhouses, retries, find-links, credentials."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipenv_sync_ext.cli.progress import Progress
from pipenv_sync_ext.errors import FetchError
from pipenv_sync_ext.lock.model import Source
from pipenv_sync_ext.store.artifact import Artifact
from pipenv_sync_ext.store.cas import Store
from pipenv_sync_ext.store.index import IndexClient, RemoteFile
from pipenv_sync_ext.store.sources import resolve_source
from pipenv_sync_ext.target.explicit import TargetSpecError, expand_platform, explicit_target, parse_python_version

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, sha256_file, write_project

LINUX_312 = ("--python-version", "3.12", "--platform", "manylinux_2_28_x86_64", "--implementation", "cp")
WINDOWS_312 = ("--python-version", "3.12", "--platform", "win_amd64", "--implementation", "cp", "--abi", "cp312")


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    """The CLI's environment, cut off from this machine's pip configuration and caches."""
    isolated = {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_CACHE_DIR": str(tmp / "pip-cache"),
        "PIPENV_CACHE_DIR": str(tmp / "pipenv-cache"),
    }
    return cli_env(tmp, **{**isolated, **extra})


@dataclass
class Platforms:
    """Wheels of one version for several targets, a pure wheel, and marker-guarded packages."""

    wheels: dict[str, Path]
    project: Path
    env: dict[str, str]
    index: Index


@pytest.fixture
def platforms(tmp_path: Path, index: Index) -> Platforms:
    wh = tmp_path / "wheels"
    w = {
        "glibc217": build_wheel(wh, "native", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"),
        "glibc234": build_wheel(wh, "native", "1.0", tag="cp312-cp312-manylinux_2_34_x86_64"),
        "cp311": build_wheel(wh, "native", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64"),
        "win": build_wheel(wh, "native", "1.0", tag="cp312-cp312-win_amd64"),
        "legacy": build_wheel(wh, "oldtag", "2.0", tag="cp312-abi3-manylinux2014_x86_64"),
        "oldtag_win": build_wheel(wh, "oldtag", "2.0", tag="cp312-abi3-win_amd64"),
        "pure": build_wheel(wh, "pure", "3.0"),
        "winonly": build_wheel(wh, "winonly", "1.0"),
        "old_python": build_wheel(wh, "oldpy", "1.0"),
    }
    for path in w.values():
        index.add(path)
    project = write_project(
        tmp_path / "proj",
        {
            "default": {
                "native": lock_entry([w["glibc217"], w["glibc234"], w["cp311"], w["win"]], "1.0"),
                "oldtag": lock_entry([w["legacy"], w["oldtag_win"]], "2.0"),
                "pure": lock_entry([w["pure"]], "3.0"),
                "winonly": lock_entry([w["winonly"]], "1.0", markers="sys_platform == 'win32'"),
                "oldpy": lock_entry([w["old_python"]], "1.0", markers="python_version < '3.12'"),
            }
        },
        index_url=index.url,
    )
    return Platforms(w, project, env_for(tmp_path), index)


def _fetch(*args: str | Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    proc = run_cli("fetch", *args, "--json", env=env)
    data = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc, data


def _filenames(data: dict[str, object]) -> dict[str, str]:
    artifacts = data["artifacts"]
    assert isinstance(artifacts, list)
    return {a["name"]: a["filename"] for a in artifacts}


def test_foreign_linux_target_picks_the_right_wheels_and_a_wheelhouse(platforms: Platforms, tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    proc, data = _fetch("--project", platforms.project, *LINUX_312, "--abi", "cp312", "--wheelhouse", wh,
                        env=platforms.env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    w = platforms.wheels
    # manylinux_2_34 is too new for a glibc 2.28 host, cp311 and win_amd64 are other targets;
    # manylinux2014 (= 2_17) is accepted by a manylinux_2_28 host
    assert _filenames(data) == {"native": w["glibc217"].name, "oldtag": w["legacy"].name, "pure": w["pure"].name}
    assert {s["name"] for s in data["skipped"]} == {"winonly", "oldpy"}  # type: ignore[attr-defined]
    assert data["target"] == "Python 3.12.0 (cp, abi cp312) on manylinux_2_28_x86_64"

    # the wheelhouse: the files, flat, and a PEP 503 index with sha256 fragments
    assert sorted(p.name for p in wh.iterdir() if p.is_file()) == sorted(
        # what the index said of them, and the flat page of the files (tests/test_site.py)
        [w["glibc217"].name, w["legacy"].name, w["pure"].name, "status.json", "index.html"]
    )
    root = (wh / "simple" / "index.html").read_text()
    assert all(f'href="{name}/"' in root for name in ("native", "oldtag", "pure"))
    page = (wh / "simple" / "native" / "index.html").read_text()
    assert f'href="../../{w["glibc217"].name}#sha256={sha256_file(w["glibc217"])}"' in page
    assert oct((wh / "simple" / "index.html").stat().st_mode & 0o044) == oct(0o044)  # servable by another user

    # the same wheelhouse, fetched again: nothing copied, no download for what the store has; only the
    # index status of each project (for the wheelhouse's status.json) is asked
    platforms.index.requests.clear()
    proc, data = _fetch("--project", platforms.project, *LINUX_312, "--wheelhouse", wh, env=platforms.env)
    assert proc.returncode == 0, proc.stderr
    assert platforms.index.downloads == []
    assert sorted(platforms.index.requests) == ["/simple/native/", "/simple/oldtag/", "/simple/pure/"]
    assert data["wheelhouse"] == {"path": str(wh), "files": 3, "projects": 3, "copied": 0, "present": 3}
    assert {a["origin"] for a in data["artifacts"]} == {"store"}  # type: ignore[attr-defined]


def test_windows_target_evaluates_markers_for_windows(platforms: Platforms) -> None:
    proc, data = _fetch("--project", platforms.project, *WINDOWS_312, env=platforms.env)
    assert proc.returncode == 0, proc.stderr
    w = platforms.wheels
    assert _filenames(data) == {
        "native": w["win"].name,
        "oldtag": w["oldtag_win"].name,
        "pure": w["pure"].name,
        "winonly": w["winonly"].name,
    }


def test_a_target_with_no_compatible_wheel_fails_with_exit_4(platforms: Platforms) -> None:
    proc, _data = _fetch("--project", platforms.project, "--python-version", "3.12", "--platform",
                         "macosx_11_0_arm64", env=platforms.env)  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert "native==1.0: no wheel compatible" in proc.stderr and "Traceback" not in proc.stderr


def test_all_hashes_takes_every_file_for_every_platform(platforms: Platforms, tmp_path: Path) -> None:
    wh = tmp_path / "every"
    proc, data = _fetch("--project", platforms.project, "--all-hashes", "--wheelhouse", wh, env=platforms.env)
    assert proc.returncode == 0, proc.stderr
    names = sorted(a["filename"] for a in data["artifacts"])  # type: ignore[attr-defined]
    assert names == sorted(p.name for p in platforms.wheels.values())
    assert len(list(wh.glob("*.whl"))) == len(platforms.wheels)
    page = (wh / "simple" / "native" / "index.html").read_text()
    assert page.count("#sha256=") == 4


def test_usage_errors_are_one_line(platforms: Platforms) -> None:
    for args, needle in [
        (("--all-hashes", *LINUX_312), "--all-hashes fetches for every platform"),
        (("--python-version", "3.12", "--platform", "manylinux_2_28_x86_64", "--platform", "win_amd64"),
         "different operating systems"),
        (("--python-version", "3.12", "--platform", "solaris_sparc"), "cannot tell which operating system"),
        (("--python-version", "three", "--platform", "win_amd64"), "expected a version such as 3.12"),
    ]:  # fmt: skip
        proc = run_cli("fetch", "--project", platforms.project, *args, env=platforms.env)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert needle in lines[0] and all(line.startswith("hint: ") for line in lines[1:]), proc.stderr


def test_fetch_then_sync_online_asks_the_index_nothing(tmp_path: Path, index: Index) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    index.add(wheel)
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=index.url)
    env = env_for(tmp_path)
    # no target flags: for the interpreter a new venv would be made with (the lock names none: this one)
    proc, data = _fetch("--project", project, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _filenames(data) == {"alpha": wheel.name}
    assert index.requests == ["/simple/alpha/", f"/files/{wheel.name}"]
    index.requests.clear()
    proc = run_cli("--project", project, "--venv", tmp_path / "v", env=env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v") == {"alpha": "1.0"}
    # online, and nothing downloaded: everything was in the store; the one page is the index status (issue 17)
    assert index.requests == ["/simple/alpha/"]
    # for an existing venv's interpreter, and still nothing to ask
    proc, data = _fetch("--project", project, "--venv", tmp_path / "v", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"(the venv {tmp_path / 'v'})" in str(data["target"])
    assert index.requests == ["/simple/alpha/"]


def test_wheelhouse_works_as_find_links_and_as_a_static_index(tmp_path: Path, index: Index) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    index.add(wheel)
    entry = {"alpha": lock_entry([wheel], "1.0")}
    project = write_project(tmp_path / "p", {"default": entry}, index_url=index.url)
    wh = tmp_path / "wh"
    proc, _ = _fetch("--project", project, "--wheelhouse", wh, env=env_for(tmp_path / "build"))
    assert proc.returncode == 0, proc.stderr

    # deploy host 1: offline, from the wheelhouse as --find-links (a fresh store)
    proc = run_cli("--project", project, "--venv", tmp_path / "v1", "--offline", "--find-links", wh,
                   env=env_for(tmp_path / "host1"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v1") == {"alpha": "1.0"}

    # deploy host 2: the wheelhouse served by a plain static file server is the lock's index
    handler = functools.partial(_QuietStatic, directory=str(wh))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/simple"
        served = write_project(tmp_path / "served", {"default": entry}, index_url=url)
        proc = run_cli("--project", served, "--venv", tmp_path / "v2", env=env_for(tmp_path / "host2"))
        assert proc.returncode == 0, proc.stderr
        assert installed(tmp_path / "v2") == {"alpha": "1.0"}
        # and pip reads it as an index too
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--index-url", url,
             "-d", tmp_path / "pipdl", "alpha==1.0"],
            capture_output=True, text=True, env=env_for(tmp_path / "pip"), timeout=120,
        )  # fmt: skip
        assert pip.returncode == 0, pip.stderr
        assert sha256_file(tmp_path / "pipdl" / wheel.name) == sha256_file(wheel)
    finally:
        server.shutdown()
        server.server_close()


class _QuietStatic(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_500_and_a_dropped_connection_are_retried_and_leave_no_partial(tmp_path: Path, index: Index) -> None:
    a = build_wheel(tmp_path / "w", "alpha", "1.0", files={"alpha/__init__.py": b"x" * 200_000})
    b = build_wheel(tmp_path / "w", "beta", "1.0", files={"beta/__init__.py": os.urandom(200_000)})
    index.add(a)
    index.add(b)
    index.faults = {a.name: ["500"], b.name: ["drop", "500"]}
    project = write_project(
        tmp_path / "p",
        {"default": {"alpha": lock_entry([a], "1.0"), "beta": lock_entry([b], "1.0")}},
        index_url=index.url,
    )
    proc = run_cli("fetch", "--project", project, *LINUX_312, env=env_for(tmp_path))  # not --json: logs on
    assert proc.returncode == 0, proc.stderr
    assert index.requests.count(f"/files/{a.name}") == 2
    assert index.requests.count(f"/files/{b.name}") == 3
    # three retried requests to one host: one line, naming the host and the first failure
    retries = [line for line in proc.stderr.splitlines() if "retrying" in line]
    assert len(retries) == 1, proc.stderr
    assert retries[0].startswith(index.url.split("/")[2] + ": ")
    assert "HTTP 500" in retries[0] or "connection closed after" in retries[0]
    store = tmp_path / "cache" / "v1"
    assert list((store / "tmp").iterdir()) == []  # no staging file left behind
    for wheel in (a, b):
        stored = store / "artifacts" / sha256_file(wheel)[:2] / sha256_file(wheel) / wheel.name
        assert sha256_file(stored) == sha256_file(wheel)


def _closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("host", ["nonexistent.invalid", "127.0.0.1:{port}"])
def test_an_unreachable_index_host_fails_once_for_the_run_in_one_line(tmp_path: Path, host: str) -> None:
    host = host.format(port=_closed_port())
    wheels = [build_wheel(tmp_path / "w", f"pkg{i}", "1.0") for i in range(12)]
    sections = {"default": {f"pkg{i}": lock_entry([w], "1.0") for i, w in enumerate(wheels)}}
    project = write_project(tmp_path / "p", sections, index_url=f"http://{host}/simple")
    env = env_for(tmp_path)
    for command in (["--venv", str(tmp_path / "venv")], ["fetch", *LINUX_312]):
        proc = run_cli(*command, "--project", project, env=env)  # not -q: a retry would be logged
        assert proc.returncode == 4, proc.stderr
        assert "retrying" not in proc.stderr
        lines = [line for line in proc.stderr.splitlines() if not line.startswith("Fetching 12 package(s)")]
        # a headline, why the host failed, the first packages, "and N more", a hint: once, not per package
        assert f"cannot reach {host}; 12 locked package(s) not fetched" in lines[0], proc.stderr
        assert lines[1].startswith(f"  {host}: ") and lines[2] == "  [default] pkg0==1.0", proc.stderr
        assert lines[-2] == "  and 8 more (-v lists them all)", proc.stderr
        assert lines[-1].startswith("hint: ") and "--offline" in lines[-1] and "mirror" in lines[-1]
        assert len(lines) == 8, proc.stderr
    assert not (tmp_path / "venv").exists()


def test_a_download_that_keeps_failing_leaves_nothing_in_the_store(tmp_path: Path, index: Index) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0", files={"alpha/__init__.py": os.urandom(100_000)})
    index.add(wheel)
    index.faults = {wheel.name: ["drop", "drop", "drop"]}
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=index.url)
    proc = run_cli("fetch", "--project", project, *LINUX_312, env=env_for(tmp_path))
    assert proc.returncode == 4, proc.stderr
    assert "connection closed after" in proc.stderr and "Traceback" not in proc.stderr
    assert index.requests.count(f"/files/{wheel.name}") == 3
    v1 = tmp_path / "cache" / "v1"
    assert list((v1 / "tmp").iterdir()) == []
    assert not (v1 / "artifacts").exists() or list((v1 / "artifacts").rglob("*.whl")) == []


def test_download_in_process_reports_progress_and_never_stores_a_partial(tmp_path: Path, index: Index) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0", files={"alpha/__init__.py": os.urandom(300_000)})
    index.add(wheel)
    index.faults = {wheel.name: ["drop"]}
    logs: list[str] = []
    client = IndexClient([Source("test", index.url)], logs.append)
    remote = RemoteFile(Artifact(sha256_file(wheel), wheel.name), f"{index.url[:-7]}/files/{wheel.name}",
                        resolve_source(Source("test", index.url)))  # fmt: skip
    store = Store(tmp_path / "store", logs.append)
    live = io.StringIO()
    progress = Progress(logs.append, live)
    task = progress.download(wheel.name)
    local = client.download(remote, store, task)
    task.done()
    progress.finish()
    assert sha256_file(local.path) == sha256_file(wheel)
    # the live display (redrawn in place, then cleared): one file of one, no line per file
    assert "Downloading 1/1 files" in live.getvalue() and "\r" in live.getvalue()
    assert f"Downloaded {wheel.name}" not in live.getvalue()
    assert any("retrying" in line for line in logs)
    # a hash mismatch is not retried and not stored
    index.faults = {}
    bad = RemoteFile(Artifact("0" * 64, wheel.name), remote.url, remote.source)
    with pytest.raises(FetchError, match=r"hash mismatch for .* computed "):
        client.download(bad, store)
    assert store.get("0" * 64) is None
    assert list((tmp_path / "store" / "v1" / "tmp").iterdir()) == []


def test_plain_progress_lines_off_a_terminal() -> None:
    lines: list[str] = []
    progress = Progress(lines.append)
    task = progress.download("x.whl")
    task.start(2000)
    task.advance(2000)
    task.done()
    assert lines == ["Downloading x.whl", "Downloaded x.whl (2.0 kB)"]


def test_a_corrupt_find_links_file_is_ignored_with_a_warning(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / wheel.name).write_bytes(wheel.read_bytes()[:-100])  # truncated
    (corrupt / "alpha-0.9-py3-none-any.whl").write_bytes(b"another version: not a warning")
    env = env_for(tmp_path)
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--offline", "--find-links", corrupt, env=env)
    assert proc.returncode == 4, proc.stderr
    warning = f"{corrupt / wheel.name}: not a file the lock allows for alpha==1.0 (sha256 "
    assert warning in proc.stderr and "...); ignored" in proc.stderr
    assert "alpha-0.9" not in proc.stderr
    # with a good copy elsewhere, the sync goes on, still saying what it ignored
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--offline",
                   "--find-links", corrupt, "--find-links", wheel.parent, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert warning in proc.stderr
    assert installed(tmp_path / "v") == {"alpha": "1.0"}


def test_pip_configured_find_links_are_used(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nfind-links =\n    {tmp_path / 'nonexistent'}\n    {wheel.parent}\n")
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--offline",
                   env=env_for(tmp_path, PIP_CONFIG_FILE=str(conf)))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "nonexistent" not in proc.stderr  # a configured directory missing here is no warning
    assert installed(tmp_path / "v") == {"alpha": "1.0"}
    proc = run_cli("--project", project, "--venv", tmp_path / "v2", "--offline",
                   env=env_for(tmp_path / "other", PIP_FIND_LINKS=str(wheel.parent)))  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_netrc_credentials_are_sent_and_never_printed(tmp_path: Path, index: Index) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    index.add(wheel)
    index.faults = {wheel.name: ["500"]}  # so that the URL appears in a message
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=index.url)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login deploy password n3trc-s3cret\n")
    proc = run_cli("fetch", "--project", project, *LINUX_312, "-v", env=env_for(tmp_path, NETRC=str(netrc)))
    assert proc.returncode == 0, proc.stderr
    expected = "Basic " + base64.b64encode(b"deploy:n3trc-s3cret").decode()
    assert [auth for _path, auth in index.auth_seen] == [expected] * 3
    assert "n3trc-s3cret" not in proc.stdout + proc.stderr and "deploy" not in proc.stdout + proc.stderr


def test_the_proxy_from_the_environment_is_used(tmp_path: Path, index: Index) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    index.add(wheel)
    unreachable = "http://pypi.invalid/simple"  # only the proxy knows where that is
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=unreachable)
    proxy = index.url.rsplit("/", 1)[0]
    proc = run_cli("fetch", "--project", project, *LINUX_312,
                   env=env_for(tmp_path, http_proxy=proxy, no_proxy="", NO_PROXY=""))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert index.proxied == ["http://pypi.invalid/simple/alpha/", f"http://pypi.invalid/files/{wheel.name}"]


def test_offline_fetch_builds_a_wheelhouse_from_local_sources_only(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    proc, data = _fetch("--project", project, *LINUX_312, "--offline", "--find-links", wheel.parent,
                        "--wheelhouse", tmp_path / "wh", env=env_for(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [a["origin"] for a in data["artifacts"]] == ["find-links"]  # type: ignore[attr-defined]
    assert (tmp_path / "wh" / wheel.name).is_file()


# --- targetspec, pure ---------------------------------------------------------------------------


def test_manylinux_expansion_is_newest_first_with_legacy_aliases() -> None:
    assert expand_platform("manylinux_2_28_x86_64")[:2] == ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64"]
    assert expand_platform("manylinux_2_28_x86_64")[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
    assert "manylinux2014_x86_64" in expand_platform("manylinux_2_17_x86_64")
    assert expand_platform("manylinux2014_aarch64") == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert expand_platform("musllinux_1_2_x86_64") == [
        "musllinux_1_2_x86_64",
        "musllinux_1_1_x86_64",
        "musllinux_1_0_x86_64",
    ]
    assert "macosx_10_9_x86_64" in expand_platform("macosx_11_0_x86_64")
    assert expand_platform("win_amd64") == ["win_amd64"]


def test_explicit_target_markers_and_versions() -> None:
    target = explicit_target(
        "3.12",
        platforms=["manylinux_2_28_aarch64"],
        implementation="cp",
        abis=["cp312"],
        requires={"python_full_version": "3.12.4"},
    )
    assert target.markers["python_full_version"] == "3.12.4"
    assert target.markers["platform_machine"] == "aarch64" and target.markers["sys_platform"] == "linux"
    assert target.tags[0] == "cp312-cp312-manylinux_2_28_aarch64"
    assert "py3-none-any" in target.tags and "cp311-cp311-manylinux_2_28_aarch64" not in target.tags
    assert parse_python_version("311", {}) == ((3, 11), "3.11.0")
    assert parse_python_version("3.11.7", {}) == ((3, 11), "3.11.7")
    with pytest.raises(TargetSpecError):
        explicit_target("3.12", platforms=[])
    pypy = explicit_target("3.10", platforms=["manylinux_2_28_x86_64"], implementation="pp", abis=["pypy310_pp73"])
    assert pypy.tags[0] == "pp310-pypy310_pp73-manylinux_2_28_x86_64"
    assert pypy.markers["implementation_name"] == "pypy"
