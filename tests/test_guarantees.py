"""The promises of README's "Guarantees": crash safety, concurrency, verification, hostile artifacts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import (
    build_wheel,
    cli_env,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    snapshot,
    sync_offline_pruned,
    write_project,
)


@dataclass
class Two:
    """An old and a new lock of the same project, and the wheels of both."""

    old: Path
    new: Path
    wheels: Path
    env: dict[str, str]
    tmp: Path

    def sync(self, project: Path, venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return sync_offline_pruned(project, venv, *args, wheels=self.wheels, env={**self.env, **env})


def _many_files(prefix: str, count: int) -> dict[str, bytes]:
    return {f"{prefix}/m{i}.py": f"X = {i}\n".encode() for i in range(count)}


@pytest.fixture
def two(tmp_path: Path) -> Two:
    wh = tmp_path / "wheels"
    a1 = build_wheel(wh, "alpha", "1.0", files=_many_files("alpha", 2))
    a2 = build_wheel(wh, "alpha", "2.0", files=_many_files("alpha", 3), console_scripts={"alpha": "alpha.m0:X"})
    gone = build_wheel(wh, "gone", "1.0", files=_many_files("gone", 2))
    fresh = build_wheel(wh, "fresh", "1.0", files=_many_files("fresh", 3))
    shared_old = build_wheel(wh, "nsa", "1.0", files={"ns/a.py": b"A = 1\n"})
    shared_new = build_wheel(wh, "nsb", "1.0", files={"ns/b.py": b"B = 1\n"})
    old = write_project(
        tmp_path / "old",
        {
            "default": {
                "alpha": lock_entry([a1], "1.0"),
                "gone": lock_entry([gone], "1.0"),
                "nsa": lock_entry([shared_old], "1.0"),
            }
        },
    )
    new = write_project(
        tmp_path / "new",
        {
            "default": {
                "alpha": lock_entry([a2], "2.0"),
                "fresh": lock_entry([fresh], "1.0"),
                "nsa": lock_entry([shared_old], "1.0"),
                "nsb": lock_entry([shared_new], "1.0"),
            }
        },
    )
    return Two(old, new, wh, cli_env(tmp_path), tmp_path)


NEW = {"alpha": "2.0", "fresh": "1.0", "nsa": "1.0", "nsb": "1.0"}


def test_a_sync_killed_at_any_file_operation_is_repaired_by_the_next(two: Two) -> None:
    venv = make_venv(two.tmp / "venv")
    assert two.sync(two.old, venv).returncode == 0
    template = two.tmp / "template"
    shutil.copytree(venv, template, symlinks=True)
    crashes = 0
    for n in range(1, 80):
        shutil.rmtree(venv)
        shutil.copytree(template, venv, symlinks=True)  # the old lock's state, at the same path
        killed = two.sync(two.new, venv, PIPENV_SYNC_TEST_CRASH_AFTER=str(n))
        if killed.returncode == 0:
            break  # n is past the last file operation: the sync completed
        assert killed.returncode == -9, killed.stderr  # SIGKILL, mid-sync
        crashes += 1
        if n % 3 == 1:
            assert two.sync(two.new, venv, "--check").returncode == 5, f"kill after op {n} went unnoticed"
        repaired = two.sync(two.new, venv)
        assert repaired.returncode == 0, f"after op {n}: {repaired.stderr}"
        assert installed(venv) == NEW, f"after op {n}"
        verified = two.sync(two.new, venv, "--verify")
        assert verified.returncode == 0, f"after op {n}: {verified.stdout}"
        site = next(venv.glob("lib/python*/site-packages"))
        assert not list(site.glob("*.pipenv-sync-partial")) and not (venv / ".pipenv-sync-journal.json").exists()
        assert not (site / "gone").exists(), f"after op {n}: files of the removed package remain"
    else:
        pytest.fail("the sync never completed")
    assert crashes >= 20  # every removal, write and registration was a kill point


def test_verify_reports_and_repair_reinstalls(two: Two) -> None:
    venv = make_venv(two.tmp / "venv")
    assert two.sync(two.new, venv).returncode == 0
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "alpha" / "m1.py").write_text("X = 'tampered'\n")
    (site / "fresh" / "m2.py").unlink()
    # the stamp cannot see an edit inside a package; --verify hashes every file
    assert two.sync(two.new, venv, "--json").returncode == 0
    verify = two.sync(two.new, venv, "--verify", "--json")
    assert verify.returncode == 5
    reasons = json.loads(verify.stdout)["out_of_sync"]
    assert "alpha 2.0: installed files differ from RECORD: 1 modified (alpha/m1.py)" in reasons
    assert "fresh 1.0: installed files differ from RECORD: 1 missing (fresh/m2.py)" in reasons
    repair = two.sync(two.new, venv, "--repair")
    assert repair.returncode == 0, repair.stderr
    assert (site / "alpha" / "m1.py").read_text() == "X = 1\n" and (site / "fresh" / "m2.py").exists()
    assert two.sync(two.new, venv, "--verify").returncode == 0


def test_concurrent_syncs_of_one_venv_wait_and_of_many_venvs_share_the_store(two: Two) -> None:
    same = two.tmp / "same"
    others = [two.tmp / f"other{i}" for i in range(4)]
    jobs = [(same, ()), (same, ()), *((v, ()) for v in others)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job: two.sync(two.new, job[0], "--lock-timeout", "120"), jobs))
    for proc in results:
        assert proc.returncode == 0, proc.stderr
    for venv in (same, *others):
        assert installed(venv) == NEW
        assert two.sync(two.new, venv, "--verify").returncode == 0
    store = two.tmp / "cache" / "v1"
    assert not list((store / "tmp").glob("*")) if (store / "tmp").exists() else True
    for artifact in (store / "artifacts").glob("*/*/*.whl"):
        assert zipfile.ZipFile(artifact).testzip() is None


def _hostile(tmp: Path, name: str, members: dict[str, bytes], record: str | None = None) -> Path:
    """A wheel built by hand; ``record`` overrides the RECORD a well-formed wheel would have."""
    wheel = build_wheel(tmp / "src", name, "1.0")
    out = tmp / "hostile" / wheel.name
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("/RECORD") and record is not None:
                data = record.encode()
            dst.writestr(item, data)
        for arcname, data in members.items():
            dst.writestr(arcname, data)
    return out


@pytest.mark.parametrize("case", ["escapes", "bad-hash", "zip-bomb", "store-rot", "wrong-name"])
def test_hostile_artifacts_are_refused_and_change_nothing(tmp_path: Path, case: str) -> None:
    env = cli_env(tmp_path)
    keep = build_wheel(tmp_path / "keep", "keeper", "1.0")
    venv = make_venv(tmp_path / "venv")
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    (sibling / "precious.txt").write_text("x")
    seed = write_project(tmp_path / "seed", {"default": {"keeper": lock_entry([keep], "1.0")}})
    assert run_cli("--project", seed, "--venv", venv, "--offline", "--find-links", keep.parent, env=env).returncode == 0
    if case == "escapes":
        bad = _hostile(tmp_path, "evil", {"../../../sibling/precious.txt": b"pwned"})
        expected = "escapes the install location"
    elif case == "bad-hash":
        good = build_wheel(tmp_path / "src", "evil", "1.0")
        record = zipfile.ZipFile(good).read("evil-1.0.dist-info/RECORD").decode()
        bad = _hostile(tmp_path, "evil", {}, record=record.replace("sha256=", "sha256=AAAA", 1))
        expected = "evil/__init__.py"
    elif case == "zip-bomb":
        bad = _hostile(tmp_path, "evil", {"evil/zeros.bin": b"\0" * (17 << 20)})
        expected = "a zip bomb?"
    elif case == "wrong-name":
        other = build_wheel(tmp_path / "src", "other", "1.0")
        bad = tmp_path / "hostile" / "evil-1.0-py3-none-any.whl"  # the lock allows, for evil, a wheel of other
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_bytes(other.read_bytes())
        expected = "is a wheel of 'other', not of 'evil'"
    else:
        bad = build_wheel(tmp_path / "src", "evil", "1.0")
    project = write_project(
        tmp_path / "p", {"default": {"keeper": lock_entry([keep], "1.0"), "evil": lock_entry([bad], "1.0")}}
    )
    if case == "store-rot":
        # in the store under its sha256, then changed on disk: the name no longer matches the bytes
        assert (
            run_cli(
                "--project", project, "--venv", tmp_path / "v2", "--offline", "--find-links", bad.parent, env=env
            ).returncode
            == 0
        )
        stored = next((tmp_path / "cache" / "v1" / "artifacts").glob(f"*/*/{bad.name}"))
        stored.write_bytes(stored.read_bytes() + b"rot")
        find_links: tuple[str, ...] = ()
        expected = "content does not match its sha256"
    else:
        find_links = ("--find-links", str(bad.parent))
    before, before_sibling = snapshot(venv), snapshot(sibling)
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--prune", *find_links, env=env)
    assert proc.returncode in (1, 4), proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(venv) == before and snapshot(sibling) == before_sibling
    assert installed(venv) == {"keeper": "1.0"}
    assert (sibling / "precious.txt").read_text() == "x"


def test_killed_fresh_build_leaves_no_venv_and_the_next_run_builds_it(two: Two) -> None:
    venv = two.tmp / "venv"
    killed = two.sync(two.new, venv, PIPENV_SYNC_TEST_CRASH_AFTER="5")
    assert killed.returncode == -9
    assert not venv.exists()  # the half-built venv was beside it, never in place
    assert two.sync(two.new, venv).returncode == 0
    assert installed(venv) == NEW
    assert not [p for p in two.tmp.iterdir() if ".pipenv-sync-" in p.name]  # the leftover was cleaned up


def test_no_sync_writes_outside_the_venv_and_the_cache(two: Two) -> None:
    """Snapshot everything under the test's directory except the venv and the cache."""
    venv = make_venv(two.tmp / "venv")
    outside = {k: v for k, v in snapshot(two.tmp).items() if not k.startswith(("venv/", "cache/"))}
    assert two.sync(two.old, venv).returncode == 0
    assert two.sync(two.new, venv, "--rebuild").returncode == 0
    assert two.sync(two.new, venv, "--check").returncode == 0
    after = {k: v for k, v in snapshot(two.tmp).items() if not k.startswith(("venv/", "cache/"))}
    assert after == outside


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("SIGKILL and flock semantics are tested on Linux")
_ = os
