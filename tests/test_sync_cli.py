"""The CLI end to end: real wheels, a real loopback index, real venvs, a subprocess."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import (
    Index,
    build_wheel,
    cli_env,
    error_text,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    snapshot,
    write_project,
)


@dataclass
class World:
    wheels: dict[str, Path]
    project: Path
    env: dict[str, str]
    tmp: Path
    index: Index


@pytest.fixture
def world(tmp_path: Path, index: Index) -> World:
    """Wheels on the index, a project locking some of them, and the CLI's environment."""
    wh = tmp_path / "wheels"
    w = {
        "alpha2": build_wheel(
            wh,
            "alpha",
            "2.0",
            console_scripts={"alpha-cli": "alpha:main"},
            files={"alpha/__init__.py": b"def main():\n    print('alpha 2.0')\n"},
        ),
        "alpha1": build_wheel(wh, "alpha", "1.0"),
        "beta": build_wheel(wh, "beta", "1.5", requires=["alpha>=2"]),
        "winonly": build_wheel(wh, "winonly", "1.0"),
        "devtool": build_wheel(wh, "devtool", "0.3"),
        "extra": build_wheel(wh, "extra-pkg", "9.0"),
        "pip": build_wheel(wh, "pip", "24.0", requires=["pipdep"]),
        "pipdep": build_wheel(wh, "pipdep", "1.0"),
    }
    for path in w.values():
        index.add(path)
    project = write_project(
        tmp_path / "proj",
        {
            "default": {
                "alpha": lock_entry([w["alpha2"]], "2.0"),
                "beta": lock_entry([w["beta"]], "1.5"),
                "winonly": lock_entry([w["winonly"]], "1.0", markers="sys_platform == 'win32'"),
            },
            "develop": {"devtool": lock_entry([w["devtool"]], "0.3")},
        },
        index_url=index.url,
    )
    return World(w, project, cli_env(tmp_path), tmp_path, index)


def _seed(venv: Path, world: World, *names: str) -> None:
    """Install wheels into a venv behind the tool's back, through a throwaway project."""
    tmp = world.tmp
    wheels = world.wheels
    seed = write_project(
        tmp / f"seed-{len(list(tmp.iterdir()))}",
        {
            "default": {
                wheels[n].name.split("-")[0]: lock_entry([wheels[n]], wheels[n].name.split("-")[1]) for n in names
            }
        },
    )
    proc = run_cli(
        "--project",
        seed,
        "--venv",
        venv,
        "--offline",
        "--find-links",
        wheels[names[0]].parent,
        "--cache-dir",
        tmp / "seed-cache",
        env=world.env,
    )
    assert proc.returncode == 0, proc.stderr


def test_prune_leaves_exactly_the_lock_and_second_run_is_a_noop(world: World, tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    _seed(venv, world, "alpha1", "extra", "pip", "pipdep", "winonly")
    assert installed(venv) == {"alpha": "1.0", "extra-pkg": "9.0", "pip": "24.0", "pipdep": "1.0", "winonly": "1.0"}

    proc = run_cli("--project", world.project, "--venv", venv, "--prune", env=world.env)
    assert proc.returncode == 0, proc.stderr
    # marker-false winonly and the unlocked extra-pkg are gone; pip and its dependency are protected.
    assert installed(venv) == {"alpha": "2.0", "beta": "1.5", "pip": "24.0", "pipdep": "1.0"}
    assert "1 installed, 1 replaced, 2 removed" in proc.stdout
    # RECORD files of the lock's packages are all on disk
    site = next((venv / "lib").glob("python*/site-packages"))
    for dist in ("alpha-2.0", "beta-1.5"):
        record = (site / f"{dist}.dist-info" / "RECORD").read_text().splitlines()
        for line in record:
            assert (site / line.split(",")[0]).resolve().exists(), line
    # the console script points at the venv's interpreter and runs
    script = venv / "bin" / "alpha-cli"
    assert script.read_text().splitlines()[0] == f"#!{venv / 'bin' / 'python'}"
    import subprocess

    assert subprocess.run([str(script)], capture_output=True, text=True).stdout.strip() == "alpha 2.0"

    before = snapshot(venv)
    again = run_cli("--project", world.project, "--venv", venv, "--prune", env=world.env)
    assert again.returncode == 0, again.stderr
    assert "Already in sync" in again.stdout and "nothing to do" in again.stdout
    assert snapshot(venv) == before


def test_without_prune_extras_stay(world: World, tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    _seed(venv, world, "extra")
    proc = run_cli("--project", world.project, "--venv", venv, "--json", env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha": "2.0", "beta": "1.5", "extra-pkg": "9.0"}
    data = json.loads(proc.stdout)
    assert data["remove"] == []
    assert data["extraneous"] == [{"name": "extra-pkg", "version": "9.0"}]


def test_dev_and_categories_select_sections(world: World, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    proc = run_cli("--project", world.project, "--venv", venv, "--dev", env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha": "2.0", "beta": "1.5", "devtool": "0.3"}
    # only [develop]: default packages are pruned, as they are not selected
    proc = run_cli("--project", world.project, "--venv", venv, "--categories", "dev-packages", "--prune", env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"devtool": "0.3"}
    proc = run_cli("--project", world.project, "--venv", venv, "--all", "--prune", env=world.env)
    assert installed(venv) == {"alpha": "2.0", "beta": "1.5", "devtool": "0.3"}


def test_json_plan_and_dry_run_change_nothing(world: World, tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv")
    _seed(venv, world, "alpha1", "extra")
    before = snapshot(venv)
    index = world.index
    proc = run_cli("--project", world.project, "--venv", venv, "--prune", "--dry-run", "--json", env=world.env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {(i["name"], i["version"]) for i in data["install"]} == {("alpha", "2.0"), ("beta", "1.5")}
    assert [i["replaces"] for i in data["install"] if i["name"] == "alpha"] == [["1.0"]]
    assert [(r["name"], r["version"]) for r in data["remove"]] == [("extra-pkg", "9.0")]
    assert data["unchanged"] == []
    assert data["dry_run"] is True and data["changed"] is False
    assert snapshot(venv) == before
    assert index.requests == []  # planning needs no index


def test_online_fetch_then_cache_hit_with_no_request(world: World, tmp_path: Path) -> None:
    index = world.index
    proc = run_cli("--project", world.project, "--venv", tmp_path / "v1", env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v1") == {"alpha": "2.0", "beta": "1.5"}
    assert any(r.startswith("/files/") for r in index.requests)
    index.requests.clear()
    # a fresh venv, online: everything is in the store, so nothing is downloaded; the index is asked
    # only for the status of each locked project (yanked? quarantined? issue 17)
    proc = run_cli("--project", world.project, "--venv", tmp_path / "v2", "--prune", env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v2") == {"alpha": "2.0", "beta": "1.5"}
    assert index.downloads == [] and all(r.startswith("/simple/") for r in index.requests)


def test_json_api_is_used_when_offered(world: World, tmp_path: Path) -> None:
    index = world.index
    index.json_api = True
    proc = run_cli("--project", world.project, "--venv", tmp_path / "v", env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v") == {"alpha": "2.0", "beta": "1.5"}


def test_offline_from_store_makes_no_connection(world: World, tmp_path: Path) -> None:
    index = world.index
    assert run_cli("--project", world.project, "--venv", tmp_path / "warm", env=world.env).returncode == 0
    index.requests.clear()
    proc = run_cli("--project", world.project, "--venv", tmp_path / "fresh", "--offline", "--prune", env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "fresh") == {"alpha": "2.0", "beta": "1.5"}
    assert index.requests == []


def test_offline_missing_artifact_fails_before_touching_the_venv(world: World, tmp_path: Path) -> None:
    index = world.index
    wheels = world.wheels
    venv = make_venv(tmp_path / "venv")
    _seed(venv, world, "alpha1", "extra")
    before = snapshot(venv)
    # only alpha 2.0 is available locally; beta is missing
    only_alpha = tmp_path / "fl"
    only_alpha.mkdir()
    (only_alpha / wheels["alpha2"].name).write_bytes(wheels["alpha2"].read_bytes())
    proc = run_cli(
        "--project",
        world.project,
        "--venv",
        venv,
        "--offline",
        "--prune",
        "--find-links",
        only_alpha,
        env=world.env,
    )
    assert proc.returncode == 4
    assert "[default] beta==1.5: none of the 1 files the lock allows" in proc.stderr
    assert "nothing was changed" in proc.stderr and str(world.project) in proc.stderr
    assert "hint: run `pipenv-sync fetch`" in error_text(proc.stderr)  # a headline, a line per package, a hint
    assert "alpha==" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(venv) == before
    assert index.requests == []


def test_failed_bootstrap_leaves_no_venv(world: World, tmp_path: Path) -> None:
    venv = tmp_path / "new-venv"
    proc = run_cli("--project", world.project, "--venv", venv, "--offline", "--json", env=world.env)
    assert proc.returncode == 4 and "[default] alpha==2.0" in proc.stderr
    assert json.loads(proc.stdout)["exit_code"] == 4
    assert not venv.exists()


def test_offline_refuses_any_connection(world: World, tmp_path: Path) -> None:
    """The offline guard is a guarantee of the process, not a code path that happens not to connect."""
    code = (
        "import sys, urllib.request; from pipenv_sync_ext.pipeline.offline import forbid_network; forbid_network();\n"
        "try:\n    urllib.request.urlopen(sys.argv[1], timeout=5)\n"
        "except Exception as e:\n    print(type(e).__name__, e)"
    )
    import subprocess
    import sys

    index = world.index
    out = subprocess.run([sys.executable, "-c", code, index.url + "/alpha/"], capture_output=True, text=True)
    assert "refused a network connection" in out.stdout
    assert index.requests == []


def test_corrupt_store_file_is_evicted_and_refetched(world: World, tmp_path: Path) -> None:
    assert run_cli("--project", world.project, "--venv", tmp_path / "v1", env=world.env).returncode == 0
    stored = list((tmp_path / "cache" / "v1" / "artifacts").glob("*/*/beta-1.5-*.whl"))
    assert len(stored) == 1
    stored[0].write_bytes(b"not the wheel the lock pinned")
    proc = run_cli("--project", world.project, "--venv", tmp_path / "v2", "--offline", env=world.env)
    assert proc.returncode == 4
    assert "does not match its sha256" in proc.stderr and "beta==1.5" in proc.stderr
    assert not stored[0].exists()
    proc = run_cli("--project", world.project, "--venv", tmp_path / "v2", env=world.env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v2") == {"alpha": "2.0", "beta": "1.5"}


def test_stale_lock_warns_and_deploy_refuses(world: World, tmp_path: Path) -> None:
    project = world.project
    with (project / "Pipfile").open("a") as f:
        f.write('\n[scripts]\nx = "y"\n')  # scripts are not hashed: still fresh
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--dry-run", env=world.env)
    assert proc.returncode == 0 and "out of date" not in proc.stderr
    text = (project / "Pipfile").read_text().replace("[packages]", '[packages]\nnewpkg = "*"')
    (project / "Pipfile").write_text(text)
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--dry-run", env=world.env)
    assert proc.returncode == 0 and "out of date" in proc.stderr
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--deploy", env=world.env)
    assert proc.returncode == 3 and "out of date" in proc.stderr
    assert not (tmp_path / "v").exists()


def test_no_compatible_wheel_is_named(world: World, tmp_path: Path, index: Index) -> None:
    wheels_dir = tmp_path / "other"
    win = build_wheel(wheels_dir, "native", "1.0", tag="cp311-cp311-win_amd64")
    index.add(win)
    project = write_project(tmp_path / "p2", {"default": {"native": lock_entry([win], "1.0")}}, index_url=index.url)
    venv = make_venv(tmp_path / "v")
    before = snapshot(venv)
    proc = run_cli("--project", project, "--venv", venv, env=world.env)
    assert proc.returncode == 4
    assert "[default] native==1.0: no wheel compatible" in proc.stderr and win.name in proc.stderr
    assert "hint: relock" in error_text(proc.stderr)
    assert snapshot(venv) == before


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda lock: "{not json", "not valid JSON"),
        (lambda lock: json.dumps({"default": {}}), "[_meta] is missing"),
        (lambda lock: lock.replace('"==2.0"', '">=2.0"'), "[default] alpha: version '>=2.0' is not an exact pin"),
        (lambda lock: lock.replace('"sha256:', '"md5:', 1), "is not 'sha256:<64 hex digits>'"),
    ],
)
def test_bad_lock_is_one_line_and_changes_nothing(
    world: World, tmp_path: Path, mutate: Callable[[str], str], expected: str
) -> None:
    project = world.project
    lock = project / "Pipfile.lock"
    lock.write_text(mutate(lock.read_text()))
    venv = make_venv(tmp_path / "venv")
    before = snapshot(venv)
    proc = run_cli("--project", project, "--venv", venv, "--prune", env=world.env)
    assert proc.returncode == 1, proc.stderr
    text = error_text(proc.stderr)  # a headline (folded when long) and a hint, no traceback
    assert expected in text and str(lock) in text and "hint: " in text
    assert snapshot(venv) == before


def test_unknown_category_and_broken_venv(world: World, tmp_path: Path) -> None:
    proc = run_cli("--project", world.project, "--venv", tmp_path / "v", "--categories", "docs", env=world.env)
    assert proc.returncode == 1 and "no category 'docs'" in proc.stderr
    broken = make_venv(tmp_path / "broken")
    (broken / "bin" / "python").unlink()
    proc = run_cli("--project", world.project, "--venv", broken, env=world.env)
    assert proc.returncode == 1 and "bin/python is missing" in proc.stderr and "--rebuild" in proc.stderr
    assert "Traceback" not in proc.stderr


def _other_python() -> tuple[str, str] | None:
    """A working interpreter of another minor version (PATH, then pyenv's versions)."""
    import glob
    import os
    import shutil
    import subprocess
    import sys

    for minor in (12, 13, 10):
        if minor == sys.version_info[1]:
            continue
        candidates = [
            shutil.which(f"python3.{minor}"),
            *glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}*/bin/python3.{minor}")),
        ]
        for found in filter(None, candidates):
            ok = subprocess.run([found, "-c", "import venv"], capture_output=True).returncode == 0
            if ok:
                return found, f"3.{minor}"
    return None


def test_markers_and_tags_are_the_targets_not_the_tools(tmp_path: Path, index: Index) -> None:
    other = _other_python()
    if other is None:
        pytest.skip("needs a second Python minor version on PATH")
    python, version = other
    nodot = version.replace(".", "")
    wh = tmp_path / "w"
    only_there = build_wheel(wh, "only-there", "1.0", tag=f"cp{nodot}-none-any")
    not_there = build_wheel(wh, "not-there", "1.0")
    project = write_project(
        tmp_path / "p",
        {
            "default": {
                "only-there": lock_entry([only_there], "1.0", markers=f"python_version == '{version}'"),
                "not-there": lock_entry([not_there], "1.0", markers=f"python_version != '{version}'"),
            }
        },
    )
    env = cli_env(tmp_path)
    venv = tmp_path / "venv"
    proc = run_cli("--project", project, "--venv", venv, "--python", python, "--offline", "--find-links", wh, env=env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"only-there": "1.0"}
    # the base interpreter (planned against before the venv exists) and the venv, each probed once, cached
    probes = tmp_path / "cache" / "probes"
    assert len(list(probes.glob("*.json"))) == 2
    again = run_cli("--project", project, "--venv", venv, "--dry-run", "--offline", env=env)
    assert again.returncode == 0 and len(list(probes.glob("*.json"))) == 2
