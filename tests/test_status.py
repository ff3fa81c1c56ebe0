"""Yanked and quarantined files are refused even from the store, and offline knows what the index last said (issue 17).

The loopback index serves PEP 691 JSON or PEP 503 HTML with PEP 592 ``yanked``
and PEP 792 ``project-status``, ETags and 304s; every sync is the real CLI.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import (
    Index,
    build_wheel,
    cli_env,
    fake_dist,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    snapshot,
    write_project,
)

DAY = 86400


@dataclass
class World:
    wheels: dict[str, Path]
    project: Path
    env: dict[str, str]
    tmp: Path
    index: Index

    def sync(self, venv: str | Path, *args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, Path]:
        target = venv if isinstance(venv, Path) else self.tmp / venv
        proc = run_cli("--project", self.project, "--venv", target, *args, env=env or self.env)
        return proc.returncode, proc.stderr + proc.stdout, target


@pytest.fixture(params=["json", "html"])
def world(request: pytest.FixtureRequest, tmp_path: Path, index: Index) -> World:
    index.json_api = request.param == "json"
    index.etags = True
    wh = tmp_path / "wheels"
    w = {"alpha": build_wheel(wh, "alpha", "1.0"), "beta": build_wheel(wh, "beta", "2.0")}
    for path in w.values():
        index.add(path)
    project = write_project(
        tmp_path / "proj",
        {"default": {"alpha": lock_entry([w["alpha"]], "1.0"), "beta": lock_entry([w["beta"]], "2.0")}},
        index_url=index.url,
    )
    return World(w, project, cli_env(tmp_path), tmp_path, index)


def test_a_yanked_file_warns_fails_under_deploy_and_passes_when_allowed(world: World) -> None:
    world.index.yanked[world.wheels["alpha"].name] = "broken build, use 1.1"
    code, out, venv = world.sync("v1")
    assert code == 0, out
    assert "alpha==1.0 is yanked by" in out and "broken build, use 1.1" in out
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}

    # the store holds the file now: the index is still asked, and --deploy refuses it
    code, out, venv = world.sync("v2", "--deploy")
    assert code == 1, out
    assert "refused under --deploy" in out and "--allow-yanked alpha" in out and "nothing was changed" in out
    # a headline, the refused file, the fix (after the progress line of the build beside)
    assert "refused under --deploy" in out.strip().splitlines()[-2] and "hint: re-lock" in out.strip().splitlines()[-1]
    assert "Traceback" not in out and sum("refused" in line for line in out.splitlines()) == 1
    assert not venv.exists() and world.index.downloads.count(f"/files/{world.wheels['alpha'].name}") == 1

    code, out, venv = world.sync("v3", "--deploy", "--allow-yanked", "alpha")
    assert code == 0, out
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_a_quarantined_project_is_refused_before_any_change_while_the_store_holds_it(world: World) -> None:
    code, out, _venv = world.sync("first")
    assert code == 0, out
    # PEP 792: a quarantined project's page lists no files at all
    world.index.project_status["beta"] = ("quarantined", "malware reported")
    world.index.files["beta"] = []
    venv = make_venv(world.tmp / "existing")
    before = snapshot(venv)
    code, out, _ = world.sync(venv, "--prune")
    assert code == 1, out
    assert "beta==2.0: the project is quarantined by" in out and "malware reported" in out
    assert snapshot(venv) == before
    # a new venv is not even created
    code, out, fresh = world.sync("fresh")
    assert code == 1 and "quarantined" in out and not fresh.exists()
    # also when the store no longer has the files: the quarantine is the reason, not a missing download
    shutil.rmtree(world.tmp / "cache" / "v1" / "artifacts")
    code, out, _ = world.sync(venv)
    assert code == 1 and "quarantined" in out and snapshot(venv) == before


@pytest.mark.parametrize("fork", ["1", "0"])
def test_a_prune_of_a_synced_venv_refused_for_a_quarantine_removes_nothing(world: World, fork: str) -> None:
    """The prune's read-only work (where wheels write, unpacked trees, removal plans) comes before the
    gate, so that it overlaps the check (``execute.prepare``); its changes must still all come after."""
    env = {**world.env, "PIPENV_SYNC_STATUS_FORK": fork}
    code, out, venv = world.sync("v", env=env)
    assert code == 0, out
    site = next(venv.glob("lib/python*/site-packages"))
    fake_dist(site, "gamma", "0.1", {"gamma.py": "X = 1\n"})  # not in the lock: a prune removes it
    before = snapshot(venv)
    world.index.project_status["beta"] = ("quarantined", "malware reported")
    world.index.files["beta"] = []
    code, out, _ = world.sync(venv, "--prune", env=env)
    assert code == 1, out
    assert "beta==2.0: the project is quarantined by" in out and "Traceback" not in out
    assert snapshot(venv) == before
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0", "gamma": "0.1"}
    # the quarantine lifted: the same prune goes through
    del world.index.project_status["beta"]
    world.index.files["beta"] = [world.wheels["beta"]]
    code, out, _ = world.sync(venv, "--prune", env=env)
    assert code == 0, out
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_a_status_change_is_seen_next_sync_and_a_repeat_check_costs_no_body(world: World) -> None:
    index = world.index
    code, out, v1 = world.sync("v1")
    assert code == 0, out
    # the status check and the download's listing share one fetch of the page (store/pagememo.py)
    assert index.requests.count("/simple/alpha/") == 1
    # the no-op fast path asks nothing
    asked = len(index.requests)
    code, out, _ = world.sync(v1)
    assert code == 0 and len(index.requests) == asked

    body_bytes = index.page_bytes
    code, out, _v2 = world.sync("v2")
    assert code == 0, out
    assert index.not_modified == 2 and index.page_bytes == body_bytes  # one 304 per project, no body
    assert sorted(index.downloads) == [f"/files/{world.wheels[n].name}" for n in ("alpha", "beta")]  # the first's

    index.yanked[world.wheels["beta"].name] = ""
    code, out, v3 = world.sync("v3", "--json")
    assert code == 0, out
    assert "beta==2.0 is yanked by" in out and "(no reason given)" in out
    data = json.loads(out[out.index("{") :])
    assert [(w["name"], w["kind"], w["severity"]) for w in data["withdrawn"]] == [("beta", "yanked", "warning")]
    assert data["status"]["online"] is True and data["status"]["age_seconds"] < DAY
    assert installed(v3) == {"alpha": "1.0", "beta": "2.0"}
    assert len(index.downloads) == 2  # still from the store


def test_a_page_the_index_declares_fresh_is_not_asked_again_until_it_expires(world: World) -> None:
    world.index.page_headers["Cache-Control"] = "max-age=600, public"  # what PyPI says of its pages
    world.index.yanked[world.wheels["alpha"].name] = "regression"
    code, out, _ = world.sync("v1")
    assert code == 0 and "alpha==1.0 is yanked" in out
    world.index.requests.clear()
    code, out, _ = world.sync("v2")
    assert code == 0 and "alpha==1.0 is yanked" in out and "regression" in out
    assert world.index.requests == []  # both answers still fresh: no request at all


def _age_cache(world: World, days: float) -> None:
    """As if the last online check had been ``days`` ago."""
    files = list((world.tmp / "cache" / "v1" / "status").glob("*.json"))
    assert len(files) == 2
    for f in files:
        data = json.loads(f.read_text())
        data["fetched_at"] = time.time() - days * DAY
        f.write_text(json.dumps(data))


def test_offline_uses_the_cached_status_and_states_its_age(world: World) -> None:
    world.index.yanked[world.wheels["alpha"].name] = "bad metadata"
    code, out, _ = world.sync("online")
    assert code == 0, out
    world.index.requests.clear()

    code, out, venv = world.sync("recent", "--offline")
    assert code == 0 and "alpha==1.0 is yanked" in out and "bad metadata" in out
    assert "last checked" not in out  # younger than --status-max-age: nothing to say about its age

    _age_cache(world, 10)
    code, out, venv = world.sync("old", "--offline")
    assert code == 0, out
    assert "alpha==1.0 is yanked" in out
    lines = [line for line in out.splitlines() if "last checked" in line]
    assert len(lines) == 1 and "10 days ago" in lines[0] and "offline" in lines[0]
    code, out, _ = world.sync("short", "--offline", "--status-max-age", "30d")
    assert code == 0 and "last checked" not in out

    # the same decision as online: --deploy refuses it, and so does --require-fresh-status for its age
    code, out, venv = world.sync("deploy", "--offline", "--deploy")
    assert code == 1 and "refused under --deploy" in out and not venv.exists()
    code, out, venv = world.sync("fresh", "--offline", "--require-fresh-status")
    assert code == 1 and "10 days ago" in out and not venv.exists()
    assert world.index.requests == []


def test_require_fresh_status_fails_offline_with_no_status(world: World) -> None:
    links = world.tmp / "links"
    links.mkdir()
    for w in world.wheels.values():
        shutil.copy(w, links)
    venv = make_venv(world.tmp / "venv")
    before = snapshot(venv)
    code, out, _ = world.sync(venv, "--offline", "--find-links", links, "--require-fresh-status")
    assert code == 1, out
    assert "--require-fresh-status: no index status known for alpha, beta" in out
    assert snapshot(venv) == before
    # without the flag an unknown status is no obstacle, and says nothing
    code, out, _ = world.sync(venv, "--offline", "--find-links", links)
    assert code == 0 and "index status" not in out and out.strip().splitlines()[-1].startswith("Synced"), out
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}
    assert world.index.requests == []


def test_a_wheelhouse_carries_the_status_it_saw_to_an_offline_host(world: World) -> None:
    world.index.yanked[world.wheels["alpha"].name] = "security: CVE-0000"
    wheelhouse = world.tmp / "wheelhouse"
    proc = run_cli("fetch", "--project", world.project, "--wheelhouse", wheelhouse, env=world.env)
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads((wheelhouse / "status.json").read_text())
    assert sorted(p["project"] for p in recorded["projects"]) == ["alpha", "beta"]

    host = cli_env(world.tmp / "host")  # another machine: empty store, no cached status
    code, out, venv = world.sync("deploy", "--offline", "--find-links", wheelhouse, "--deploy", env=host)
    assert code == 1 and "alpha==1.0 is yanked" in out and "CVE-0000" in out and not venv.exists()
    code, out, venv = world.sync("warn", "--offline", "--find-links", wheelhouse, "--json", env=host)
    assert code == 0, out
    data = json.loads(out[out.index("{") :])
    assert [w["name"] for w in data["withdrawn"]] == ["alpha"] and data["status"]["missing"] == []
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_check_reports_withdrawn_files_and_the_status_age_without_a_request(world: World) -> None:
    world.index.project_status["beta"] = ("archived", "no longer maintained")
    world.index.yanked[world.wheels["alpha"].name] = "oops"
    code, out, _ = world.sync("v1")
    assert code == 0 and "note: beta is archived" in out and "no longer maintained" in out
    world.index.requests.clear()
    code, out, _venv = world.sync(make_venv(world.tmp / "empty"), "--check", "--json")
    assert code == 5, out
    data = json.loads(out[out.index("{") :])
    assert {(w["name"], w["kind"]) for w in data["withdrawn"]} == {("alpha", "yanked"), ("beta", "archived")}
    assert data["status"]["online"] is False and 0 <= data["status"]["age_seconds"] < DAY
    code, out, _venv = world.sync(make_venv(world.tmp / "empty"), "--check")
    assert code == 5 and "Withdrawn at the index (checked " in out and "alpha 1.0 (yanked), beta 2.0 (archived)" in out
    assert world.index.requests == []


def test_an_unparseable_max_age_is_a_usage_error(world: World) -> None:
    code, out, venv = world.sync("v", "--status-max-age", "soon")
    assert code == 2 and "not an age" in out and not venv.exists()


def test_every_source_of_the_lock_is_asked_and_a_disagreement_is_said(world: World) -> None:
    mirror = Index(json_api=not world.index.json_api, etags=True)  # the other format, too
    for w in world.wheels.values():
        mirror.add(w)
    mirror.start()
    try:
        lock_path = world.project / "Pipfile.lock"
        lock = json.loads(lock_path.read_text())
        lock["_meta"]["sources"].append({"name": "mirror", "url": mirror.url, "verify_ssl": False})
        lock_path.write_text(json.dumps(lock))
        mirror.yanked[world.wheels["alpha"].name] = "withdrawn on the mirror"
        code, out, _ = world.sync("v1")
        assert code == 0, out
        assert "alpha==1.0 is yanked by " + mirror.url in out and "withdrawn on the mirror" in out
        assert "the sources disagree on whether alpha==1.0 is yanked" in out
        assert "/simple/alpha/" in mirror.requests and "/simple/beta/" in mirror.requests

        mirror.project_status["beta"] = ("quarantined", None)
        code, out, venv = world.sync("v2")
        assert code == 1 and f"beta==2.0: the project is quarantined by {mirror.url}" in out and not venv.exists()
        assert "the sources disagree on the status of beta" in out and "says quarantined" in out
    finally:
        mirror.stop()


def test_pages_are_asked_for_gzipped_and_a_yanked_file_is_still_seen(world: World) -> None:
    """Big projects' pages are megabytes of JSON: asked for with Accept-Encoding: gzip, as PyPI serves them."""
    world.index.gzip_pages = True
    world.index.yanked[world.wheels["alpha"].name] = "gzipped reason"
    code, out, venv = world.sync("v1")
    assert code == 0, out
    assert "gzipped reason" in out  # the status page was inflated and read
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}  # and the listing, for the downloads
    # each page asked for (and answered) gzipped, once: the status check and the listing share it
    assert world.index.gzipped == 2, world.index.gzipped


def test_pages_are_asked_over_kept_alive_connections(tmp_path: Path, index: Index) -> None:
    """One connection per thread and host, not one per page: on some routes new connections opened side
    by side stall (5 s each on the development machine's route to PyPI)."""
    index.keepalive = True
    wheels = [build_wheel(tmp_path / "w", f"pkg{i}", "1.0") for i in range(24)]
    for wheel in wheels:
        index.add(wheel)
    packages = {w.name.split("-")[0]: lock_entry([w], "1.0") for w in wheels}
    project = write_project(tmp_path / "proj", {"default": packages}, index_url=index.url)
    proc = run_cli("--project", project, "--venv", tmp_path / "v", env=cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert len(installed(tmp_path / "v")) == 24
    pages = [r for r in index.requests if r.startswith("/simple/")]
    assert sorted(pages) == sorted(set(pages)) and len(pages) == 24  # one fetch for the listing and the status
    for_pages = [paths for paths in index.connections.values() if any(p.startswith("/simple/") for p in paths)]
    # 24 pages and 24 downloads over at most one connection per thread (8 status, 8 listing), not one each
    assert len(for_pages) <= 16 and max(len(paths) for paths in for_pages) >= 3, for_pages


def test_a_page_s_shape_is_bounded_before_it_is_parsed() -> None:
    """A small page can cost gigabytes of objects or the whole stack: refused by count, not by bytes."""
    from pipenv_sync_ext.store.httpbody import MAX_CONTAINERS, load_json_page

    assert load_json_page(b'{"files": [{}, {}]}') == {"files": [{}, {}]}
    with pytest.raises(ValueError, match="more than 1,000,000 JSON objects"):
        load_json_page(b'{"files": [' + b"{}," * MAX_CONTAINERS + b"{}]}")
    with pytest.raises(ValueError, match="nested too deep"):
        load_json_page(b"[" * 200_000 + b"]" * 200_000)


def test_what_an_index_says_reaches_the_terminal_without_control_characters(world: World) -> None:
    """A yanked reason is the index's text: no escape sequence, no newline, one short line."""
    world.index.yanked[world.wheels["alpha"].name] = "evil\x1b]0;TITLE\x07\x1b[2J\nfake: ok\u2028" + "A" * 10_000
    code, out, venv = world.sync("v1")
    assert code == 0, out
    assert "\x1b" not in out and "\x07" not in out and "\u2028" not in out
    said = " ".join(out.split())  # the warning is folded between words, under 200 characters a line
    assert "evil?]0;TITLE??[2J?fake: ok?AAA" in said and "A" * 200 not in said
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_a_hostile_status_page_never_fails_the_sync(world: World) -> None:
    """A page nested beyond the stack, or of a million empty objects: the status is missing, the sync goes on."""
    code, out, _ = world.sync("warm")  # the store holds both files now
    assert code == 0, out
    for body in (b"[" * 200_000 + b"]" * 200_000, b'{"files": [' + b"{}," * 1_000_001 + b"{}]}"):
        world.index.raw_pages["alpha"] = ("application/vnd.pypi.simple.v1+json", body)
        shutil.rmtree(world.tmp / "cache" / "v1" / "status", ignore_errors=True)
        venv = world.tmp / "hostile"
        shutil.rmtree(venv, ignore_errors=True)
        code, out, venv = world.sync(venv, "--json")
        assert code == 0 and "Traceback" not in out, out
        assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}
