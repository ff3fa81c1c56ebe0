"""The compiled lock in the store (issue 16): used when it checks out, invalidated by what changes the
answer, never trusted when it is corrupt; and a cached prune imports none of the heavy parsers.

Whether a run used the compiled lock is read from ``python -X importtime``: the full path always
imports plette (it validates every Pipfile.lock), a run from the compiled lock never does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from pipenv_sync_ext.install.removal import claimed_among, claimed_files
from pipenv_sync_ext.lock.names import canonical_name
from pipenv_sync_ext.plan import _same_version
from pipenv_sync_ext.target.interpreter import _base_record, _run_probe, venv_python
from pipenv_sync_ext.target.inventory import record_paths, scan

from .support import build_wheel, cli_env, fake_dist, installed, lock_entry, make_venv, run_cli, write_project

HEAVY = ("packaging", "plette", "tomlkit", "installer")


class Synced:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.wheels = tmp / "w"
        self.a = build_wheel(self.wheels, "alpha", "1.0")
        self.b = build_wheel(self.wheels, "beta", "1.0")
        self.c = build_wheel(self.wheels, "gamma", "1.0")
        self.project = tmp / "p"
        self.write({"default": {"alpha": lock_entry([self.a], "1.0"), "beta": lock_entry([self.b], "1.0")}})
        self.venv = make_venv(tmp / "venv")
        self.env = cli_env(tmp)
        self.plans = tmp / "cache" / "v1" / "plans"
        assert self.sync().returncode == 0
        self.site = next((self.venv / "lib").glob("python*/site-packages"))

    def write(self, sections: dict[str, dict[str, Any]]) -> None:
        write_project(self.project, {"develop": {}, **sections})

    def sync(self, *args: str, prefix: tuple[str, ...] = ("-m", "pipenv_sync_ext")) -> Run:
        cmd = [sys.executable, "-X", "importtime", *prefix, "--project", str(self.project), "--venv", str(self.venv)]
        cmd += ["--offline", "--prune", "--find-links", str(self.wheels), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=300)
        return Run(proc)

    def entries(self) -> dict[str, Path]:
        """The compiled locks (not the remembered marker/conflict answers, whose names have a kind)."""
        return {p.name: p for p in self.plans.glob("*.json") if "-" not in p.name}

    def extraneous(self) -> None:
        """A package the lock does not name: the next sync has a prune to do (no stamp answers it)."""
        fake_dist(self.site, "stray", "0.1", {"stray.py": ""})


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        lines = proc.stderr.splitlines()
        self.imported = {ln.split("|")[-1].strip() for ln in lines if ln.startswith("import time:")}
        self.stderr = "\n".join(ln for ln in lines if not ln.startswith("import time:"))
        self.stdout = proc.stdout
        self.returncode = proc.returncode

    @property
    def compiled(self) -> bool:
        assert self.returncode == 0, self.stderr
        return "plette" not in self.imported

    def heavy(self) -> set[str]:
        return {m for m in self.imported if m.split(".")[0] in HEAVY}


@pytest.fixture
def synced(tmp_path: Path) -> Synced:
    return Synced(tmp_path)


def test_a_cached_prune_imports_no_parser_and_ends_right(synced: Synced) -> None:
    [entry] = synced.entries().values()
    before = entry.stat()
    synced.extraneous()
    first = synced.sync()
    assert first.compiled and first.heavy() == set(), first.heavy()
    assert installed(synced.venv) == {"alpha": "1.0", "beta": "1.0"}
    assert not (synced.site / "stray.py").exists()
    assert (entry.stat().st_ino, entry.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # read, not rewritten
    synced.extraneous()
    dry = synced.sync("--dry-run")
    assert dry.compiled and dry.heavy() == set() and "stray" in dry.stdout


def test_a_changed_lock_is_compiled_again(synced: Synced) -> None:
    synced.write({"default": {"alpha": lock_entry([synced.a], "1.0")}})  # beta dropped from the lock
    run = synced.sync()
    assert not run.compiled
    assert installed(synced.venv) == {"alpha": "1.0"}  # pruned against the new lock, not the cached one
    assert len(synced.entries()) == 2
    synced.extraneous()
    assert synced.sync().compiled  # and the new one is used next time


def test_another_selection_is_compiled_on_its_own(synced: Synced) -> None:
    synced.write(
        {
            "default": {"alpha": lock_entry([synced.a], "1.0"), "beta": lock_entry([synced.b], "1.0")},
            "develop": {"gamma": lock_entry([synced.c], "1.0")},
        }
    )
    assert synced.sync().returncode == 0
    run = synced.sync("--dev")
    assert not run.compiled
    assert installed(synced.venv) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}
    synced.extraneous()
    assert synced.sync("--dev").compiled
    synced.extraneous()
    default_only = synced.sync()
    assert default_only.compiled  # the default selection's entry is still there, and still right
    assert installed(synced.venv) == {"alpha": "1.0", "beta": "1.0"}


def test_another_tool_version_does_not_read_the_entry(synced: Synced) -> None:
    synced.extraneous()
    code = (
        "import runpy, pipenv_sync_ext; pipenv_sync_ext.__version__ = '99.0'; "
        "runpy.run_module('pipenv_sync_ext', run_name='__main__', alter_sys=True)"
    )
    run = synced.sync(prefix=("-c", code))
    assert not run.compiled
    assert len(synced.entries()) == 2
    assert installed(synced.venv) == {"alpha": "1.0", "beta": "1.0"}


def test_an_edited_pipfile_is_checked_again(synced: Synced) -> None:
    pipfile = synced.project / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace("[packages]", "[packages]\nzeta = '*'"))
    synced.extraneous()
    run = synced.sync()
    assert not run.compiled
    assert "out of date with Pipfile" in run.stderr  # the cached "fresh" was not reused
    synced.extraneous()
    again = synced.sync()
    assert again.compiled and "out of date with Pipfile" in again.stderr  # "stale" is remembered too
    assert synced.sync("--deploy").returncode != 0  # and still refused under --deploy


def _garbage(data: bytes) -> bytes:
    return b"\x00\xff not json"


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        parsed = json.loads(data)
        change(parsed)
        return json.dumps(parsed).encode()

    return edit


def _wrong_type(entry: dict[str, Any]) -> None:
    entry["lock"]["sections"]["default"][0]["hashes"] = 42


def _extra_package(entry: dict[str, Any]) -> None:
    evil = {"package": ["evil", "6.6", "default", None, None], "hashes": ["0" * 64], "extras": []}
    entry["lock"]["sections"]["default"].append(evil)


def _hash_changed(entry: dict[str, Any]) -> None:
    entry["lock"]["sections"]["default"][0]["hashes"] = ["f" * 64]


def _dropped_package(entry: dict[str, Any]) -> None:
    entry["lock"]["sections"]["default"].pop()


@pytest.mark.parametrize(
    "corrupt",
    [
        _garbage,
        _truncated,
        _edit(_wrong_type),
        _edit(_extra_package),
        _edit(_hash_changed),
        _edit(_dropped_package),
    ],
    ids=["garbage", "truncated", "wrong-type", "package-not-in-lock", "hash-changed", "package-dropped"],
)
def test_a_corrupt_entry_is_ignored_and_rewritten(synced: Synced, corrupt: Callable[[bytes], bytes]) -> None:
    [entry] = synced.entries().values()
    good = entry.read_bytes()
    entry.write_bytes(corrupt(good))
    synced.extraneous()
    run = synced.sync()
    assert not run.compiled  # the full path, not the entry
    assert installed(synced.venv) == {"alpha": "1.0", "beta": "1.0"}
    assert not (synced.site / "stray.py").exists()
    assert json.loads(entry.read_bytes()) == json.loads(good)  # rewritten from the lock
    synced.extraneous()
    assert synced.sync().compiled


def test_marker_answers_are_per_interpreter_and_never_trusted_blindly(synced: Synced) -> None:
    synced.write(
        {
            "default": {
                "alpha": lock_entry([synced.a], "1.0"),
                "beta": lock_entry([synced.b], "1.0", markers="sys_platform == 'nonesuch'"),
            }
        }
    )
    assert synced.sync().returncode == 0
    assert installed(synced.venv) == {"alpha": "1.0"}
    [answer] = synced.plans.glob("markers-*.json")
    recorded = json.loads(answer.read_text())
    assert recorded["value"] == {"sys_platform == 'nonesuch'": False}
    answer.write_text(json.dumps({**recorded, "value": {"sys_platform == 'nonesuch'": "yes"}}))  # wrong type
    synced.extraneous()
    run = synced.sync()
    assert run.returncode == 0 and "packaging.markers" in run.imported  # evaluated again
    assert installed(synced.venv) == {"alpha": "1.0"}
    assert json.loads(answer.read_text()) == recorded


def test_claims_among_removals_agree_with_every_kept_path(tmp_path: Path) -> None:
    """claimed_among answers as claimed_files does for the paths a removal would delete, including
    files inside a kept metadata directory and rows spelled with ``..`` or through a link."""
    site = tmp_path / "lib" / "site-packages"
    site.mkdir(parents=True)
    (tmp_path / "lib64").symlink_to("lib")
    fake_dist(site, "keeper", "1", {"keeper/a.py": "", "shared/x.py": "", "keeper/../top.py": ""})
    (site / "keeper-1.dist-info" / "extra.txt").write_text("not in RECORD")
    egg = site / "old-0.1.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Name: old\nVersion: 0.1\n")
    (egg / "installed-files.txt").write_text("../old.py\nPKG-INFO\n")
    (site / "old.py").write_text("")
    claims = [
        "shared/x.py",
        "../../lib64/site-packages/keeper/a.py",
        "keeper-1.dist-info/extra.txt",
        "keeper-1.dist-info/METADATA",
        "old.py",
        "top.py",
        "mine.py",
        "shared/y.py",
    ]
    fake_dist(site, "leaver", "2", dict.fromkeys(claims, ""))
    dists = scan([site])
    kept = [d for d in dists if d.name != "leaver"]
    [leaver] = [d for d in dists if d.name == "leaver"]
    candidates = record_paths(leaver)
    every, among = claimed_files(kept), claimed_among(kept, candidates)
    assert [p in among for p in candidates] == [p in every for p in candidates]
    protected = {os.path.relpath(p, site) for p in candidates if p in among}
    assert protected == {
        "shared/x.py",
        "../../lib64/site-packages/keeper/a.py",
        "keeper-1.dist-info/extra.txt",
        "keeper-1.dist-info/METADATA",
        "old.py",
        "top.py",
    }


@given(st.text(alphabet="abcXYZ019-_.", min_size=1, max_size=20))
def test_canonical_name_is_packagings(name: str) -> None:
    assert canonical_name(name) == canonicalize_name(name)


@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=4),
    st.lists(st.integers(0, 30), min_size=1, max_size=4),
    st.booleans(),
)
def test_plain_release_numbers_compare_as_versions(a: list[int], b: list[int], zero_padded: bool) -> None:
    left = ".".join(f"0{n}" if zero_padded else str(n) for n in a)
    right = ".".join(map(str, b))
    assert _same_version(left, right) == (Version(left) == Version(right))


def test_a_new_venv_of_a_known_base_is_described_without_a_probe(synced: Synced) -> None:
    probes = synced.tmp / "cache" / "probes"
    assert len(list((probes / "bases").glob("*.json"))) == 1  # recorded by the first venv's probe
    other = make_venv(synced.tmp / "venv2")
    proc = run_cli(
        "--project", synced.project, "--venv", other, "--offline", "--find-links", synced.wheels, env=synced.env
    )
    assert proc.returncode == 0, proc.stderr
    assert installed(other) == {"alpha": "1.0", "beta": "1.0"}
    entries = [json.loads(p.read_text()) for p in probes.glob("*.json")]
    [derived] = [e for e in entries if e.get("derived")]
    assert derived.pop("derived") and derived == _run_probe(venv_python(other))  # what a probe would say


def test_the_base_record_is_keyed_by_the_binary(tmp_path: Path) -> None:
    binary = tmp_path / "python3.99"
    binary.write_bytes(b"\x7fELF not really")
    (tmp_path / "v" / "bin").mkdir(parents=True)
    (tmp_path / "v" / "bin" / "python").symlink_to(binary)
    first = _base_record(tmp_path / "cache", venv_python(tmp_path / "v"))
    os.utime(binary, ns=(1, 1))  # a patch upgrade replaces the binary: another stat
    assert first is not None and _base_record(tmp_path / "cache", venv_python(tmp_path / "v")) not in (None, first)
