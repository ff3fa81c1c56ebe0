"""``pipenv-sync cache info`` and ``cache prune``: the store's size, and dropping what no lock needs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pipenv_sync_ext.store.cas import Store

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, sha256_file, write_project

TARGET = ("--python-version", "3.12", "--platform", "manylinux_2_17_x86_64")


def _env(tmp: Path) -> dict[str, str]:
    return cli_env(
        tmp,
        PIP_CONFIG_FILE=os.devnull,
        PIP_CACHE_DIR=str(tmp / "no-pip-cache"),
        PIPENV_CACHE_DIR=str(tmp / "no-pipenv-cache"),
    )


def _json(*args: str | Path, env: dict[str, str]) -> dict[str, object]:
    proc = run_cli(*args, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def _two_locks(tmp_path: Path, index: Index) -> tuple[Path, Path, dict[str, Path]]:
    w = {
        "alpha": build_wheel(tmp_path / "w", "alpha", "1.0"),
        "beta": build_wheel(tmp_path / "w", "beta", "1.0"),
        "gamma": build_wheel(tmp_path / "w", "gamma", "1.0"),
    }
    for wheel in w.values():
        index.add(wheel)
    keep = write_project(
        tmp_path / "keep",
        {"default": {"alpha": lock_entry([w["alpha"]], "1.0")}, "develop": {"beta": lock_entry([w["beta"]], "1.0")}},
        index_url=index.url,
    )
    drop = write_project(
        tmp_path / "drop", {"default": {"gamma": lock_entry([w["gamma"]], "1.0")}}, index_url=index.url
    )
    return keep, drop, w


def test_info_counts_and_sizes_the_store(tmp_path: Path, index: Index) -> None:
    env = _env(tmp_path)
    empty = _json("cache", "info", env=env)
    assert empty["artifacts"] == 0 and empty["size_bytes"] == 0
    assert empty["path"] == str(tmp_path / "cache")
    keep, drop, w = _two_locks(tmp_path, index)
    assert run_cli("fetch", "--project", keep, "--dev", *TARGET, env=env).returncode == 0
    assert run_cli("fetch", "--project", drop, *TARGET, env=env).returncode == 0
    info = _json("cache", "info", env=env)
    assert info["artifacts"] == 3 and info["wheels"] == 3
    assert info["size_bytes"] == sum(p.stat().st_size for p in w.values())
    text = run_cli("cache", "info", env=env).stdout
    assert f"Store: {tmp_path / 'cache'}" in text and "Artifacts: 3 (3 wheel(s), 0 other)" in text


def test_prune_keeps_what_a_given_lock_allows(tmp_path: Path, index: Index) -> None:
    env = _env(tmp_path)
    keep, drop, w = _two_locks(tmp_path, index)
    assert run_cli("fetch", "--project", keep, "--all", *TARGET, env=env).returncode == 0
    assert run_cli("fetch", "--project", drop, *TARGET, env=env).returncode == 0

    # just used: spared by the default grace period, and said so
    proc = run_cli("cache", "prune", "--keep-lock", keep / "Pipfile.lock", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Removed 0 artifact(s)" in proc.stdout and "1 used in the last 3600 s" in proc.stdout

    dry = _json("cache", "prune", "--keep-lock", keep, "--min-age", "0", "--dry-run", env=env)
    assert [r["filename"] for r in dry["removed"]] == [w["gamma"].name]  # type: ignore[attr-defined]
    assert _json("cache", "info", env=env)["artifacts"] == 3

    # every section of the kept lock counts (beta is a dev package); gamma goes
    result = _json("cache", "prune", "--keep-lock", keep, "--min-age", "0", env=env)
    assert result["kept"] == 2 and result["freed_bytes"] == w["gamma"].stat().st_size
    store = Store(tmp_path / "cache", print)
    assert sorted(e.artifact.filename for e in store.entries()) == sorted([w["alpha"].name, w["beta"].name])
    assert store.staging_leftovers() == []  # the trash was emptied

    # the pruned lock still syncs: its artifact is fetched again
    index.requests.clear()
    proc = run_cli("--project", drop, "--venv", tmp_path / "v", env=env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v") == {"gamma": "1.0"}
    assert f"/files/{w['gamma'].name}" in index.requests


def test_prune_is_safe_for_a_reader_holding_the_artifact(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0", files={"alpha/__init__.py": os.urandom(50_000)})
    store = Store(tmp_path / "store", print)
    local = store.add_copy(wheel, sha256_file(wheel))
    with local.path.open("rb") as reader:  # a sync in the middle of reading it
        head = reader.read(10)
        result = store.prune(keep=set(), min_age=0)
        assert [e.artifact.filename for e in result.removed] == [wheel.name]
        assert not local.path.exists()  # gone from the store at once (renamed into the trash)...
        rest = reader.read()  # ...while what was open stays whole
    assert head + rest == wheel.read_bytes()
    assert store.get(sha256_file(wheel)) is None
    assert store.staging_leftovers() == []


def test_prune_spares_recently_used_and_clears_old_leftovers(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    store = Store(tmp_path / "store", print)
    local = store.add_copy(wheel, sha256_file(wheel))
    old = time.time() - 7200
    os.utime(local.path.parent, (old, old))
    staging, _ = store.staging_file("x.whl")  # an insert interrupted two hours ago...
    os.utime(staging, (old, old))
    fresh, _ = store.staging_file("y.whl")  # ...and one that may be running now
    assert store.verify(local)  # a sync uses it: it is recent again
    result = store.prune(keep=set(), min_age=3600)
    assert result.removed == () and len(result.kept_recent) == 1
    assert not staging.exists() and fresh.exists()


def test_prune_needs_a_lock_to_keep(tmp_path: Path) -> None:
    proc = run_cli("cache", "prune", env=_env(tmp_path))
    assert proc.returncode == 2 and "--keep-lock" in proc.stderr
    proc = run_cli("cache", "prune", "--keep-lock", tmp_path / "nope.lock", env=_env(tmp_path))
    assert proc.returncode == 1 and "not found" in proc.stderr and "Traceback" not in proc.stderr
