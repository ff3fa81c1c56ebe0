"""Remote mirrors matched by sha256 (issue 13 part 1): ``--find-links URL``, ``--index-url``, pip's configuration.

Every mirror is a real loopback server (:class:`tests.support.Index`); a flat
find-links page is one of its raw pages. The lock's own source is a closed
port unless a test needs it, so a sync that succeeds got its files from the mirror.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipenv_sync_ext.store.mirrorconfig import configured_mirrors
from pipenv_sync_ext.store.pipconfig import find_links_dirs, find_links_urls, index_urls

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, sha256_file, write_project

CLOSED = "http://127.0.0.1:9/simple"  # the lock's own source, unreachable: nothing listens on port 9


@dataclass
class World:
    wheels: dict[str, Path]
    project: Path
    env: dict[str, str]
    mirror: Index  # serves the wheels under /files/ and a flat page of links at /simple/links/
    tmp: Path

    @property
    def page(self) -> str:
        return self.mirror.url + "/links/"

    def sync(self, venv: str, *args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        proc = run_cli("--project", self.project, "--venv", self.tmp / venv, *args, env=env or self.env)
        return proc.returncode, proc.stdout, proc.stderr


def flat_page(links: dict[str, Path]) -> tuple[str, bytes]:
    """A find-links page as ``pip`` reads it: relative links, each with its file's ``#sha256=``."""
    body = "".join(f'<a href="{href}#sha256={sha256_file(w)}">{w.name}</a><br>\n' for href, w in links.items())
    return "text/html", f"<html><body>\n{body}</body></html>".encode()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    wh = tmp_path / "wheels"
    wheels = {"alpha": build_wheel(wh, "alpha", "1.0"), "beta": build_wheel(wh, "beta", "2.0")}
    mirror = Index().start()
    for w in wheels.values():
        mirror.add(w)
    mirror.raw_pages["links"] = flat_page({f"../../files/{w.name}": w for w in wheels.values()})
    project = write_project(
        tmp_path / "proj",
        {"default": {n: lock_entry([w], w.name.split("-")[1]) for n, w in wheels.items()}},
        index_url=CLOSED,
    )
    yield World(wheels, project, cli_env(tmp_path), mirror, tmp_path)
    mirror.stop()


def test_a_host_syncs_from_a_find_links_page_alone_reading_it_once(world: World) -> None:
    code, _, err = world.sync("v", "--find-links", world.page)
    assert code == 0, err
    assert installed(world.tmp / "v") == {"alpha": "1.0", "beta": "2.0"}
    # one page for the run (not one per package), then each file once; the lock's source is never needed
    assert sorted(world.mirror.requests) == sorted(
        ["/simple/links/", *(f"/files/{w.name}" for w in world.wheels.values())]
    )


def test_a_second_sync_makes_no_request(world: World) -> None:
    assert world.sync("v", "--find-links", world.page)[0] == 0
    world.mirror.requests.clear()
    code, _, err = world.sync("v", "--find-links", world.page, "--prune")  # the same venv: in sync
    assert code == 0, err
    code, _, err = world.sync("fresh", "--find-links", world.page)  # a new venv: every file is in the store
    assert code == 0, err
    assert installed(world.tmp / "fresh") == {"alpha": "1.0", "beta": "2.0"}
    assert world.mirror.requests == []


def test_offline_never_reaches_a_mirror(world: World) -> None:
    code, _, err = world.sync("v", "--offline", "--find-links", world.page, "--index-url", world.mirror.url)
    assert code != 0
    assert "alpha==1.0" in err and "beta==2.0" in err
    assert world.mirror.requests == []
    assert not (world.tmp / "v").exists()


def test_a_file_with_a_matching_hash_is_used_whatever_its_url_and_name(world: World) -> None:
    # the same bytes as alpha's wheel, served under another project's file name and another path
    other = world.tmp / "elsewhere" / "renamed_thing-7.0-py3-none-any.whl"
    other.parent.mkdir()
    shutil.copyfile(world.wheels["alpha"], other)
    world.mirror.files = {"renamed-thing": [other], "beta": [world.wheels["beta"]]}
    elsewhere = world.mirror.url.replace("127.0.0.1", "localhost").removesuffix("/simple")  # another host name
    world.mirror.raw_pages["links"] = flat_page(
        {f"{elsewhere}/files/{other.name}": other, f"../../files/{world.wheels['beta'].name}": world.wheels["beta"]}
    )
    code, _, err = world.sync("v", "--find-links", world.page)
    assert code == 0, err
    assert installed(world.tmp / "v") == {"alpha": "1.0", "beta": "2.0"}
    assert f"/files/{other.name}" in world.mirror.requests


def tampered_copy(wheel: Path, directory: Path) -> Path:
    """A file of the same name whose bytes are not the locked ones (a page still claims the locked sha256)."""
    directory.mkdir(parents=True, exist_ok=True)
    bad = directory / wheel.name
    bad.write_bytes(wheel.read_bytes()[:-7] + b"tampere")
    return bad


def test_a_tampered_file_is_refused_and_the_next_source_tried(world: World, index: Index) -> None:
    alpha = world.wheels["alpha"]
    world.mirror.files["alpha"] = [tampered_copy(alpha, world.tmp / "bad")]
    world.mirror.raw_pages["links"] = flat_page({f"../../files/{w.name}": w for w in world.wheels.values()})
    index.add(alpha)  # the lock's own source has the real bytes
    project = write_project(
        world.tmp / "proj2",
        {"default": {n: lock_entry([w], w.name.split("-")[1]) for n, w in world.wheels.items()}},
        index_url=index.url,
    )
    proc = run_cli("--project", project, "--venv", world.tmp / "v", "--find-links", world.page, env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(world.tmp / "v") == {"alpha": "1.0", "beta": "2.0"}
    refused = [line for line in proc.stderr.splitlines() if "refused" in line]
    assert len(refused) == 1 and f"/files/{alpha.name}" in refused[0] and index.url in refused[0], proc.stderr
    assert index.downloads == [f"/files/{alpha.name}"]  # beta came from the mirror, alpha from the lock's source
    # nothing of the tampered download is left: every file in the store is one the lock allows
    stored = [p for p in (world.tmp / "cache").rglob("*.whl")]
    assert stored and {sha256_file(p) for p in stored} == {sha256_file(w) for w in world.wheels.values()}


def test_a_tampered_file_with_no_other_source_fails_with_nothing_changed(world: World) -> None:
    world.mirror.files["alpha"] = [tampered_copy(world.wheels["alpha"], world.tmp / "bad")]
    code, _, err = world.sync("v", "--find-links", world.page)
    assert code != 0
    assert "hash mismatch for alpha 1.0" in err and "nothing was changed" in err
    assert not (world.tmp / "v").exists()


def test_an_index_url_mirror_serves_every_lock_source(world: World) -> None:
    code, _, err = world.sync("v", "--index-url", world.mirror.url)
    assert code == 0, err
    assert installed(world.tmp / "v") == {"alpha": "1.0", "beta": "2.0"}
    assert sorted(world.mirror.downloads) == sorted(f"/files/{w.name}" for w in world.wheels.values())


def test_an_extra_index_url_comes_after_a_dead_index_url(world: World) -> None:
    code, _, err = world.sync("v", "--index-url", "http://127.0.0.1:9/other", "--extra-index-url", world.mirror.url)
    assert code == 0, err
    assert installed(world.tmp / "v") == {"alpha": "1.0", "beta": "2.0"}


def test_pip_find_links_and_pip_conf_urls_are_honoured(world: World) -> None:
    code, _, err = world.sync("v1", env={**world.env, "PIP_FIND_LINKS": world.page})
    assert code == 0, err
    assert installed(world.tmp / "v1") == {"alpha": "1.0", "beta": "2.0"}

    conf = world.tmp / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {world.mirror.url}\n")
    env = {**cli_env(world.tmp / "other"), "PIP_CONFIG_FILE": str(conf)}  # another store: nothing cached
    world.mirror.requests.clear()
    code, _, err = world.sync("v2", env=env)
    assert code == 0, err
    assert installed(world.tmp / "v2") == {"alpha": "1.0", "beta": "2.0"}
    assert "/simple/alpha/" in world.mirror.requests and world.mirror.downloads

    conf.write_text(f"[install]\nfind-links =\n    /nonexistent\n    {world.page}\n")  # pip's multi-line form
    world.mirror.requests.clear()
    code, _, err = world.sync("v3", env={**cli_env(world.tmp / "third"), "PIP_CONFIG_FILE": str(conf)})
    assert code == 0, err
    assert installed(world.tmp / "v3") == {"alpha": "1.0", "beta": "2.0"}
    assert world.mirror.requests.count("/simple/links/") == 1


def test_credentials_in_a_mirror_url_are_never_printed(world: World) -> None:
    host = world.mirror.url.removeprefix("http://").removesuffix("/simple")
    secret = "s3cr3t-Pa55"
    for n, args in enumerate((("-v",), ("--json",))):
        # a page that is not there (named in a warning), then an index mirror that has the files
        code, out, err = world.sync(
            f"v{n}",
            *("--find-links", f"http://ci:{secret}@{host}/none/", "--index-url", f"http://{secret}@{host}/simple"),
            *("--cache-dir", world.tmp / f"cache{n}", *args),
        )
        assert code == 0, err
        assert secret not in out + err
        if "-v" in args:
            assert f"{host}/none/: find-links page not read (HTTP 404)" in err  # named, without its password
    basic = {"Basic " + base64.b64encode(userinfo.encode()).decode() for userinfo in (f"ci:{secret}", f"{secret}:")}
    assert {auth for _, auth in world.mirror.auth_seen} == basic  # sent as headers, to their own host only


def test_fetch_fills_a_wheelhouse_from_a_mirror(world: World) -> None:
    proc = run_cli(
        "fetch", "--project", world.project, "--wheelhouse", world.tmp / "wh", "--find-links", world.page, env=world.env
    )
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in (world.tmp / "wh").glob("*.whl")} == {w.name for w in world.wheels.values()}


def test_precedence_is_pips_command_line_then_environment_then_pip_conf(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://conf.example/simple\nextra-index-url = https://conf-extra.example/simple\n"
        "find-links = /local/dir https://conf.example/links/\n"
    )
    env = {"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    assert index_urls(env) == ("https://conf.example/simple", ["https://conf-extra.example/simple"])
    assert find_links_urls(env) == ["https://conf.example/links/"] and find_links_dirs(env) == [Path("/local/dir")]
    with_env = {**env, "PIP_INDEX_URL": "https://env.example/simple", "PIP_FIND_LINKS": "https://env.example/l/"}
    assert index_urls(with_env)[0] == "https://env.example/simple"
    assert find_links_urls(with_env) == ["https://env.example/l/"] and find_links_dirs(with_env) == []

    mirrors = configured_mirrors(
        ["https://cli.example/l/"], "https://cli.example/simple", extra_index_urls=["https://x.example/s"], env=with_env
    )
    assert mirrors.pages == ("https://cli.example/l/", "https://env.example/l/")
    assert mirrors.indexes == ("https://cli.example/simple", "https://x.example/s", "https://conf-extra.example/simple")
    assert configured_mirrors([], None, env={"PIP_CONFIG_FILE": os.devnull}).indexes == ()
    # pip's configuration is pip's to judge: a value that is not a URL is left out, not an error
    assert configured_mirrors([], None, env={**env, "PIP_INDEX_URL": "mirror:8080"}).indexes == (
        "https://conf-extra.example/simple",
    )


def test_an_index_mirror_is_a_status_source_and_a_synced_venv_asks_it_nothing(world: World) -> None:
    world.mirror.yanked[world.wheels["alpha"].name] = "broken build"
    code, _, err = world.sync("v", "--index-url", world.mirror.url)
    assert code == 0, err
    assert installed(world.tmp / "v") == {"alpha": "1.0", "beta": "2.0"}
    assert "alpha==1.0 is yanked by" in err and "broken build" in err and world.mirror.url in err
    world.mirror.requests.clear()
    code, _, err = world.sync("v", "--index-url", world.mirror.url)  # in sync: the stamp answers
    assert code == 0, err
    assert world.mirror.requests == []


def test_a_tampered_index_mirror_falls_back_to_the_lock_source(world: World, index: Index) -> None:
    alpha = world.wheels["alpha"]
    world.mirror.files["alpha"] = [tampered_copy(alpha, world.tmp / "bad")]
    world.mirror.raw_pages["alpha"] = (
        "text/html",
        f'<a href="../../files/{alpha.name}#sha256={sha256_file(alpha)}">x</a>'.encode(),
    )
    index.add(alpha)
    project = write_project(
        world.tmp / "proj2", {"default": {"alpha": lock_entry([alpha], "1.0")}}, index_url=index.url
    )
    proc = run_cli("--project", project, "--venv", world.tmp / "v", "--index-url", world.mirror.url, env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(world.tmp / "v") == {"alpha": "1.0"}
    assert f"/files/{alpha.name}" in world.mirror.downloads and index.downloads == [f"/files/{alpha.name}"]
    assert f"{world.mirror.url.removesuffix('/simple')}/files/{alpha.name}: refused" in proc.stderr


def test_a_link_without_a_hash_is_named_and_not_used(world: World) -> None:
    alpha, beta = world.wheels["alpha"], world.wheels["beta"]
    ctype, body = flat_page({f"../../files/{beta.name}": beta})
    world.mirror.raw_pages["links"] = (ctype, body + f'<a href="../../files/{alpha.name}">{alpha.name}</a>'.encode())
    code, _, err = world.sync("v", "--find-links", world.page)
    assert code != 0 and "alpha==1.0" in err
    assert f"{world.page}: {alpha.name} has no #sha256= in its link; not used" in err
    assert world.mirror.downloads == [f"/files/{beta.name}"]
    assert not (world.tmp / "v").exists()


def test_a_page_naming_a_path_instead_of_a_file_is_refused_before_any_download(world: World) -> None:
    digest = sha256_file(world.wheels["alpha"])
    world.mirror.raw_pages["links"] = (
        "text/html",
        f'<a href="../../files/..%2F..%2Fevil.whl#sha256={digest}">x</a>'.encode(),
    )
    code, _, err = world.sync("v", "--find-links", world.page)
    assert code != 0
    assert f"{world.page}: a file the lock allows: '../../evil.whl' has a '..' component; refused" in err
    assert world.mirror.downloads == []
    assert not list(world.tmp.rglob("evil.whl")) and not (world.tmp / "v").exists()


def test_an_unreachable_page_gives_way_to_the_next_mirror(world: World) -> None:
    code, _, err = world.sync("v", "--find-links", "http://127.0.0.1:9/links/", "--index-url", world.mirror.url)
    assert code == 0, err
    assert installed(world.tmp / "v") == {"alpha": "1.0", "beta": "2.0"}
    assert "http://127.0.0.1:9/links/: find-links page not read (cannot reach 127.0.0.1:9" in err


def test_mirrors_come_before_every_source_and_a_mirror_that_is_a_source_is_asked_once() -> None:
    from pipenv_sync_ext.lock.model import LockedPackage, Source
    from pipenv_sync_ext.store.mirrorconfig import Mirrors
    from pipenv_sync_ext.store.mirrors import MirrorClient

    sources = [Source("pypi", "https://pypi.example/simple"), Source("corp", "https://corp.example/simple")]
    mirrors = Mirrors(indexes=("https://m.example/simple", "https://corp.example/simple/"))
    client = MirrorClient(sources, lambda _m: None, mirrors=mirrors)
    pinned = LockedPackage("alpha", "1.0", frozenset({"0" * 64}), "default", index="pypi")
    # an entry locked to "pypi" is looked up on every mirror, then on its own source
    assert [s.url for s in client.sources_for(pinned)] == [
        "https://m.example/simple",
        "https://corp.example/simple/",
        "https://pypi.example/simple",
    ]
    anywhere = LockedPackage("alpha", "1.0", frozenset({"0" * 64}), "default")
    assert [s.url for s in client.sources_for(anywhere)] == [  # the mirror that is a source: once, as the source
        "https://m.example/simple",
        "https://pypi.example/simple",
        "https://corp.example/simple",
    ]


def test_no_lock_sources_never_asks_the_lock_source(world: World, index: Index) -> None:
    for w in world.wheels.values():
        index.add(w)  # the lock's source could serve everything: it must not be asked, not even for status
    project = write_project(
        world.tmp / "proj2",
        {"default": {n: lock_entry([w], w.name.split("-")[1]) for n, w in world.wheels.items()}},
        index_url=index.url,
    )
    beta = world.wheels["beta"]
    world.mirror.raw_pages["links"] = flat_page({f"../../files/{beta.name}": beta})  # alpha is missing
    sync = ("--project", project, "--find-links", world.page, "--no-lock-sources")
    proc = run_cli(*sync, "--venv", world.tmp / "v1", env=world.env)
    assert proc.returncode != 0 and "alpha==1.0" in proc.stderr
    assert not (world.tmp / "v1").exists()
    proc = run_cli(*sync, "--venv", world.tmp / "v2", "--index-url", world.mirror.url, env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(world.tmp / "v2") == {"alpha": "1.0", "beta": "2.0"}
    assert index.requests == []


def test_a_file_the_mirror_cannot_serve_is_taken_from_the_next_place(world: World, index: Index) -> None:
    alpha = world.wheels["alpha"]
    world.mirror.files.pop("alpha")  # its page still links it: the download answers 404
    index.add(alpha)
    project = write_project(
        world.tmp / "proj2", {"default": {"alpha": lock_entry([alpha], "1.0")}}, index_url=index.url
    )
    proc = run_cli("--project", project, "--venv", world.tmp / "v", "--find-links", world.page, env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(world.tmp / "v") == {"alpha": "1.0"}
    assert f"/files/{alpha.name}: HTTP 404; trying {index.url}" in proc.stderr
    assert index.downloads == [f"/files/{alpha.name}"]


def test_a_mirror_that_is_not_a_url_is_a_usage_error(world: World) -> None:
    code, _, err = world.sync("v", "--index-url", "mirror.example/simple")
    assert code == 2
    assert "--index-url/--extra-index-url 'mirror.example/simple': not a URL" in err
    assert world.mirror.requests == [] and not (world.tmp / "v").exists()
