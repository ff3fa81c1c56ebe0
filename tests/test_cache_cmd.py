"""``pipenv-sync cache info`` and ``cache prune``: the store's size, and dropping what no lock needs."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipenv_sync_ext.store.cas import Store

from .support import (
    Index,
    build_wheel,
    cli_env,
    installed,
    lock_entry,
    make_sdist,
    run_cli,
    sha256_file,
    write_project,
)

TARGET = ("--python-version", "3.12", "--platform", "manylinux_2_17_x86_64")


def _env(tmp: Path) -> dict[str, str]:
    return cli_env(
        tmp,
        PIP_CONFIG_FILE=os.devnull,
        PIP_CACHE_DIR=str(tmp / "no-pip-cache"),
        PIPENV_CACHE_DIR=str(tmp / "no-pipenv-cache"),
    )


def _json(*args: str | Path, env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    proc = run_cli(*args, "--json", env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
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
    assert info["artifact_bytes"] == sum(p.stat().st_size for p in w.values())
    assert info["kinds"]["artifacts"]["files"] == 3
    text = run_cli("cache", "info", env=env).stdout
    assert f"Store: {tmp_path / 'cache'}" in text and "artifacts: 3 (3 wheel(s), 0 other)" in text


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
    assert [r["filename"] for r in dry["removed"]] == [w["gamma"].name]
    assert _json("cache", "info", env=env)["artifacts"] == 3

    # every section of the kept lock counts (beta is a dev package); gamma goes
    result = _json("cache", "prune", "--keep-lock", keep, "--min-age", "0", env=env)
    assert result["kept"] == 2 and result["freed_bytes"] == w["gamma"].stat().st_size
    store = Store(tmp_path / "cache", print)
    assert sorted(e.artifact.filename for e in store.entries()) == sorted([w["alpha"].name, w["beta"].name])
    assert result["kept_locks"] == [str(keep / "Pipfile.lock")]
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


def test_prune_outside_a_project_needs_a_lock_to_keep(tmp_path: Path) -> None:
    proc = run_cli("cache", "prune", env=_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "hint:" in proc.stderr and "--keep-lock LOCK" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 2 and proc.stderr.splitlines()[1].startswith("hint: ")
    proc = run_cli("cache", "prune", "--keep-lock", tmp_path / "nope.lock", env=_env(tmp_path))
    assert proc.returncode == 1 and "not found" in proc.stderr and "Traceback" not in proc.stderr


def _du_bytes(path: Path) -> int:
    """What ``du -sb`` says: the reference ``cache info`` must agree with."""
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def _synced_store(tmp_path: Path, index: Index) -> tuple[Path, Path, dict[str, Path], dict[str, str]]:
    """Both projects synced into venvs: the store holds artifacts, unpacked trees, probes and locks."""
    env = _env(tmp_path)
    keep, drop, w = _two_locks(tmp_path, index)
    for project, venv in ((keep, "v-keep"), (drop, "v-drop")):
        proc = run_cli("--project", project, "--venv", tmp_path / venv, "--dev", env=env)
        assert proc.returncode == 0, proc.stderr
    return keep, drop, w, env


def test_info_counts_every_byte_by_kind_as_du_does(tmp_path: Path, index: Index) -> None:
    _keep, _drop, _w, env = _synced_store(tmp_path, index)
    info = _json("cache", "info", env=env)
    kinds: dict[str, dict[str, int]] = info["kinds"]
    assert kinds["artifacts"]["files"] >= 3 and kinds["unpacked"]["files"] >= 3 * 2  # files + manifest per tree
    assert kinds["probes"]["files"] >= 1 and kinds["status"]["files"] >= 1  # what the index said (issue 17)
    assert kinds["locks"]["files"] == 0  # venvs are locked by flock on the venv itself, not by a file here
    assert sum(k["bytes"] for k in kinds.values()) == info["size_bytes"]
    du = _du_bytes(tmp_path / "cache")
    assert abs(int(info["size_bytes"]) - du) <= du / 100, (info["size_bytes"], du)
    assert int(info["size_bytes"]) > int(info["artifact_bytes"]) + kinds["unpacked"]["bytes"] // 2
    text = run_cli("cache", "info", env=env).stdout
    assert "unpacked" in text and "wheels unpacked once" in text and "probes" in text
    # something this version does not know of is counted too, as "other"
    (tmp_path / "cache" / "v1" / "future-kind").write_bytes(b"x" * 50_000)
    again = _json("cache", "info", env=env)
    assert again["kinds"]["other"]["bytes"] >= 50_000
    du = _du_bytes(tmp_path / "cache")
    assert abs(int(again["size_bytes"]) - du) <= du / 100


def test_prune_removes_trees_with_their_artifacts_and_keeps_the_current_projects(tmp_path: Path, index: Index) -> None:
    keep, _drop, w, env = _synced_store(tmp_path, index)
    unpacked = tmp_path / "cache" / "v1" / "unpacked"
    sha = {name: sha256_file(path) for name, path in w.items()}
    assert {p.name for p in unpacked.iterdir()} == set(sha.values())
    # an orphan: a tree whose artifact an older prune removed
    Store(tmp_path / "cache", print).evict(sha["beta"])
    old = time.time() - 7200
    os.utime(unpacked / sha["beta"], (old, old))

    dry = _json("cache", "prune", "--min-age", "0", "--dry-run", env=env, cwd=keep)
    assert {d["path"] for d in dry["removed_derived"]} == {
        str(unpacked / sha["gamma"]),
        str(unpacked / sha["beta"]),
    }
    assert len(list(unpacked.iterdir())) == 3  # a dry run deletes nothing

    # no --keep-lock: the lock of the project it runs in (found as a sync finds it) is kept
    before = _du_bytes(tmp_path / "cache")
    (keep / "sub").mkdir()
    result = _json("cache", "prune", "--min-age", "0", env=env, cwd=keep / "sub")  # the Pipfile is searched upwards
    assert result["kept_locks"] == [str(keep / "Pipfile.lock")]
    assert [r["filename"] for r in result["removed"]] == [w["gamma"].name]
    assert {p.name for p in unpacked.iterdir()} == {sha["alpha"]}  # gamma's tree with it, beta's orphan too
    freed = before - _du_bytes(tmp_path / "cache")
    assert abs(int(result["freed_bytes"]) - freed) <= before / 100
    # what the kept lock needs still syncs offline from the store; the pruned one fetches again
    assert run_cli("--project", keep, "--venv", tmp_path / "v-again", "--offline", env=env).returncode == 0
    assert installed(tmp_path / "v-again") == {"alpha": "1.0"}
    assert installed(tmp_path / "v-drop") == {"gamma": "1.0"}  # a venv linked from a pruned tree keeps its files


def test_prune_removes_a_wheel_built_from_a_pruned_sdist(tmp_path: Path) -> None:
    env = _env(tmp_path)
    wheels = tmp_path / "wheels"
    sdist = make_sdist(wheels, "sdonly", "1.0")
    project = write_project(tmp_path / "p", {"default": {"sdonly": lock_entry([sdist], "1.0")}})
    args = ("--project", project, "--venv", tmp_path / "v", "--offline", "--find-links", wheels)
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    built = tmp_path / "cache" / "v1" / "built" / sha256_file(sdist)
    assert list(built.glob("*/*.whl"))
    info = _json("cache", "info", env=env)
    assert info["kinds"]["built"]["files"] >= 2 and info["kinds"]["unpacked"]["files"] > 0

    kept = _json("cache", "prune", "--min-age", "0", env=env, cwd=project)  # its own lock allows the sdist
    assert kept["removed"] == [] and kept["removed_derived"] == [] and built.is_dir()

    other = write_project(tmp_path / "other", {"default": {}})
    result = _json("cache", "prune", "--keep-lock", other, "--min-age", "0", env=env)
    assert [r["filename"] for r in result["removed"]] == [sdist.name]
    assert sorted(d["kind"] for d in result["removed_derived"]) == ["built", "unpacked"]
    assert not built.exists() and list((tmp_path / "cache" / "v1" / "unpacked").iterdir()) == []


def test_cache_dir_and_clean(tmp_path: Path, index: Index) -> None:
    _keep, _drop, _w, env = _synced_store(tmp_path, index)
    assert run_cli("cache", "dir", env=env).stdout == f"{tmp_path / 'cache'}\n"
    # not a terminal and no --yes: a usage error that says how, and nothing removed
    proc = run_cli("cache", "clean", env=env)
    assert proc.returncode == 2 and "hint: add --yes" in proc.stderr
    assert _json("cache", "info", env=env)["artifacts"] == 3
    before = _du_bytes(tmp_path / "cache")
    result = _json("cache", "clean", "--yes", env=env)
    assert abs(int(result["freed_bytes"]) - before) <= before / 100
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == []  # no lock files: flock on the venv
    info = _json("cache", "info", env=env)
    assert info["artifacts"] == 0 and info["kinds"]["unpacked"]["bytes"] == 0


def test_clean_asks_on_a_terminal(tmp_path: Path) -> None:
    env = _env(tmp_path)
    store = Store(tmp_path / "cache", print)
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    store.add_copy(wheel, sha256_file(wheel))
    no = _on_terminal(["cache", "clean"], answer="n\n", env=env)
    assert "Remove everything in" in no.output and no.code == 1
    assert store.get(sha256_file(wheel)) is not None
    yes = _on_terminal(["cache", "clean"], answer="y\n", env=env)
    assert yes.code == 0 and store.get(sha256_file(wheel)) is None


@dataclass(frozen=True)
class _Tty:
    code: int
    output: str


def _on_terminal(args: list[str], *, answer: str, env: dict[str, str]) -> _Tty:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal; type ``answer`` once it asks."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipenv_sync_ext", *args], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    output = b""
    while b"[y/N]" not in output:
        chunk = _read(leader)
        if not chunk:
            break
        output += chunk
    os.write(leader, answer.encode())
    while chunk := _read(leader):
        output += chunk
    os.close(leader)
    return _Tty(proc.wait(timeout=60), output.decode(errors="replace"))


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the other side is closed
        return b""
