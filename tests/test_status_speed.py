"""The status check started early (issue 17): from the raw lock, as the stamp misses, adopted by the gate.

What makes it faster is measured by ``bench/run.py`` (no timing here); what is tested is
that the early check asks what the gate's own check would (so the gate adopts it and
judges the same answers), that it asks a superset of projects once each, and that the
extra projects never speak.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pipenv_sync_ext.lock.model import LockedPackage
from pipenv_sync_ext.pipeline.early import start_early, status_mirrors
from pipenv_sync_ext.pipeline.options import Options
from pipenv_sync_ext.pipeline.run import _selected_lock
from pipenv_sync_ext.target.project import find_project

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, write_project


def _two_sections(tmp: Path, index: Index) -> Path:
    wh = tmp / "wheels"
    alpha, beta = build_wheel(wh, "alpha", "1.0"), build_wheel(wh, "beta", "2.0")
    index.add(alpha)
    index.add(beta)
    sections = {"default": {"alpha": lock_entry([alpha], "1.0")}, "develop": {"beta": lock_entry([beta], "2.0")}}
    return write_project(tmp / "proj", sections, index_url=index.url)


def _with_second_source(project: Path, *, index_of: dict[str, str]) -> None:
    path = project / "Pipfile.lock"
    lock = json.loads(path.read_text())
    lock["_meta"]["sources"].append({"name": "other", "url": "http://127.0.0.1:9/other/simple", "verify_ssl": True})
    for section in ("default", "develop"):
        for name, source in index_of.items():
            if name in lock[section]:
                lock[section][name]["index"] = source
    path.write_text(json.dumps(lock))


@pytest.mark.parametrize(
    "case",
    ["plain", "dev", "index-field", "pypi-mirror", "no-lock-sources", "index-url"],
)
def test_the_early_check_asks_what_the_gate_would(tmp_path: Path, index: Index, case: str) -> None:
    """The gate adopts the early check only when it asks what its own would: here it always must."""
    project_dir = _two_sections(tmp_path, index)
    options = Options(project_dir=project_dir, cache_dir=tmp_path / "cache", dev=case == "dev")
    if case == "index-field":
        _with_second_source(project_dir, index_of={"beta": "other", "alpha": "test"})
    elif case == "pypi-mirror":
        options = dataclasses.replace(options, pypi_mirror=index.url)
    elif case == "no-lock-sources":
        options = dataclasses.replace(options, lock_sources=False, index_url=index.url)
    elif case == "index-url":
        options = dataclasses.replace(options, index_url=index.url + "/")
    project = find_project(project_dir)
    early = start_early(project, options, log=lambda _m: None)
    assert early is not None
    lock, sections = _selected_lock(project, None, options, warn=lambda _m: None, cache_dir=tmp_path / "cache")
    sources = lock.sources if options.lock_sources else ()
    packages = [p for s in sections for p in lock.sections[s] if isinstance(p, LockedPackage)]
    assert {p.name for p in packages} == ({"alpha", "beta"} if case == "dev" else {"alpha"})
    mirrors = status_mirrors(options)
    assert early.asks_as(packages, sources, mirrors=mirrors)
    # and it can tell when it does not: another index for a package, other sources
    moved = [dataclasses.replace(p, index="elsewhere") for p in packages]
    assert not early.asks_as(moved, sources, mirrors=mirrors)
    assert not early.asks_as(packages, (*sources, *mirrors, *sources), mirrors=mirrors)
    early.results()


def test_the_early_check_is_offline_under_offline_check_and_dry_run(tmp_path: Path, index: Index) -> None:
    project = find_project(_two_sections(tmp_path, index))
    for flag in ("offline", "check", "dry_run"):
        options = Options(cache_dir=tmp_path / "cache", **{flag: True})  # type: ignore[arg-type]
        assert start_early(project, options, log=lambda _m: None) is None
    assert index.requests == []


def test_projects_of_unselected_sections_are_asked_once_and_never_judged(tmp_path: Path, index: Index) -> None:
    """The early check reads every section (it cannot select without the Pipfile's parser): one request per
    project, the extra ones' answers unused. A quarantined develop project does not refuse a default sync."""
    index.json_api = True
    project = _two_sections(tmp_path, index)
    index.project_status["beta"] = ("quarantined", "malware")
    index.yanked[next(iter(index.files["alpha"])).name] = "a bad build"
    code = run_cli("--project", project, "--venv", tmp_path / "v", "--json", env=cli_env(tmp_path))
    out = code.stderr + code.stdout
    assert code.returncode == 0, out
    assert installed(tmp_path / "v") == {"alpha": "1.0"}
    assert "alpha==1.0 is yanked" in out and "a bad build" in out  # the selected project is judged
    assert "beta" not in out and "quarantined" not in out  # the develop one is not
    data = json.loads(code.stdout[code.stdout.index("{") :])
    assert data["status"]["checked"] == 1
    pages = sorted(r for r in index.requests if r.startswith("/simple/"))
    assert pages == ["/simple/alpha/", "/simple/beta/"]  # each once: the listing took the status check's page

    # with --dev it is judged, and refused before any change
    code = run_cli("--project", project, "--venv", tmp_path / "v", "--dev", env=cli_env(tmp_path))
    assert code.returncode == 1 and "quarantined" in code.stderr, code.stderr
    assert installed(tmp_path / "v") == {"alpha": "1.0"}


def test_a_lock_the_pipeline_would_refuse_starts_no_early_check(tmp_path: Path, index: Index) -> None:
    """Not JSON, NaN, a source URL urllib cannot split: nothing is asked early; the pipeline says what is wrong."""
    project_dir = _two_sections(tmp_path, index)
    path = project_dir / "Pipfile.lock"
    good = path.read_text()
    lock = json.loads(good)
    lock["_meta"]["sources"][0]["url"] = "http://[::1/simple"
    for text in ("{not json", good.replace('"==1.0"', "NaN", 1), json.dumps(lock)):
        path.write_text(text)
        options = Options(cache_dir=tmp_path / "cache")
        assert start_early(find_project(project_dir), options, log=lambda _m: None) is None, text[:40]
        proc = run_cli("--project", project_dir, "--venv", tmp_path / "v", env=cli_env(tmp_path))
        assert proc.returncode != 0 and "Pipfile.lock" in proc.stderr, proc.stderr
    assert index.requests == []


def test_a_page_is_kept_only_for_the_reader_expected_and_given_once() -> None:
    """store/pagememo.py: what a status check keeps, a listing takes once; nothing else is held."""
    import http.client
    import threading
    import urllib.error

    from pipenv_sync_ext.store.http import Page
    from pipenv_sync_ext.store.pagememo import PageMemo

    fetched: list[str] = []

    def fetch(status: int = 200, body: bytes = b"page") -> Page:
        fetched.append("x")
        return Page("u", status, http.client.HTTPMessage(), body)

    memo = PageMemo(limit=10)
    memo.page("a", verify=True, fetch=fetch)  # not kept: nobody else is expected
    memo.page("a", verify=True, fetch=fetch)
    assert len(fetched) == 2
    first = memo.page("b", verify=True, fetch=fetch, keep=True)
    assert memo.page("b", verify=True, fetch=fetch) is first and len(fetched) == 3  # taken without a request
    memo.page("b", verify=True, fetch=fetch)  # and given once
    assert len(fetched) == 4
    memo.page("c", verify=True, fetch=lambda: fetch(body=b"x" * 11), keep=True)  # over the bound: not kept
    memo.page("c", verify=True, fetch=fetch)
    assert len(fetched) == 6

    def not_modified() -> Page:
        raise urllib.error.HTTPError("u", 304, "Not Modified", http.client.HTTPMessage(), None)

    with pytest.raises(urllib.error.HTTPError):
        memo.page("d", verify=True, fetch=not_modified, keep=True)
    memo.page("d", verify=True, fetch=fetch)  # a 304 leaves nothing: the listing fetches the page
    assert len(fetched) == 7

    # a reader asking while the page is in flight waits for that fetch and takes it
    started, release = threading.Event(), threading.Event()

    def slow() -> Page:
        started.set()
        release.wait(10)
        return fetch()

    got: list[Page] = []
    first_reader = threading.Thread(target=lambda: got.append(memo.page("e", verify=True, fetch=slow)))
    first_reader.start()
    started.wait(10)
    second = threading.Thread(target=lambda: got.append(memo.page("e", verify=True, fetch=fetch)))
    second.start()
    while not memo._waiting.get(("e", True)):  # the second reader is waiting (no timing: its own state)
        threading.Event().wait(0.01)
    release.set()
    first_reader.join(10)
    second.join(10)
    assert len(got) == 2 and got[0] is got[1] and len(fetched) == 8
