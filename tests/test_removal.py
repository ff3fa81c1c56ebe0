"""Removal reads RECORD but deletes only inside the venv, and never a file another kept package claims."""

from __future__ import annotations

import json
from pathlib import Path

from .support import build_wheel, cli_env, fake_dist, installed, lock_entry, make_venv, run_cli, write_project


def test_prune_keeps_outside_and_shared_files(tmp_path: Path) -> None:
    keep = build_wheel(tmp_path / "w", "keeper", "1.0")
    project = write_project(tmp_path / "p", {"default": {"keeper": lock_entry([keep], "1.0")}})
    venv = make_venv(tmp_path / "venv")
    site = next((venv / "lib").glob("python*/site-packages"))
    outside = tmp_path / "precious.txt"
    outside.write_text("do not delete")
    env = cli_env(tmp_path)
    assert (
        run_cli("--project", project, "--venv", venv, "--find-links", tmp_path / "w", "--offline", env=env).returncode
        == 0
    )
    # "intruder" claims a file of keeper, a namespace dir shared with keeper, and a file outside the venv
    fake_dist(site, "keeper_ns", "1", {"ns/shared.py": "x"})
    fake_dist(
        site,
        "intruder",
        "0.1",
        {"intruder/__init__.py": "", "keeper/__init__.py": "", "ns/own.py": "", f"../../../../{outside.name}": ""},
    )
    proc = run_cli("--project", project, "--venv", venv, "--prune", "--keep", "keeper-ns", env=env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"keeper": "1.0", "keeper-ns": "1"}
    assert outside.read_text() == "do not delete"
    assert "outside the venv; not removed" in proc.stderr
    assert (site / "keeper" / "__init__.py").exists()  # claimed by the kept keeper
    assert (site / "ns" / "shared.py").exists() and not (site / "ns" / "own.py").exists()
    assert not (site / "intruder").exists() and not (site / "intruder-0.1.dist-info").exists()


def test_prune_removes_egg_info_installs(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"default": {}})
    venv = make_venv(tmp_path / "venv")
    site = next((venv / "lib").glob("python*/site-packages"))
    egg = site / "Old_Thing-0.5-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: Old-Thing\nVersion: 0.5\n")
    (site / "old_thing.py").write_text("")
    (egg / "installed-files.txt").write_text("../old_thing.py\nPKG-INFO\ninstalled-files.txt\n")
    assert installed(venv) == {"old-thing": "0.5"}
    proc = run_cli("--project", project, "--venv", venv, "--prune", "--json", env=cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert [(r["name"], r["version"]) for r in json.loads(proc.stdout)["remove"]] == [("old-thing", "0.5")]
    assert installed(venv) == {}
    assert not (site / "old_thing.py").exists() and not egg.exists()


def _synced_keeper(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, str]]:
    keep = build_wheel(tmp_path / "w", "keeper", "1.0", files={"keeper/__init__.py": b"K = 1\n", "keeper/x.py": b""})
    project = write_project(tmp_path / "p", {"default": {"keeper": lock_entry([keep], "1.0")}})
    venv = make_venv(tmp_path / "venv")
    env = cli_env(tmp_path)
    args = ("--project", project, "--venv", venv, "--find-links", tmp_path / "w", "--offline")
    assert run_cli(*args, env=env).returncode == 0
    return project, venv, next((venv / "lib").glob("python*/site-packages")), env


def test_a_record_row_through_the_venvs_lib64_link_never_deletes_a_kept_file(tmp_path: Path) -> None:
    project, venv, site, env = _synced_keeper(tmp_path)
    lib64 = venv / "lib64"
    if not lib64.is_symlink():
        lib64.symlink_to("lib")
    via_lib64 = f"../../../lib64/{site.parent.name}/site-packages"
    # "twin" claims keeper's files, spelled through lib64 -> lib, and one file of its own
    fake_dist(
        site, "twin", "1.0", {f"{via_lib64}/keeper/__init__.py": "", f"{via_lib64}/keeper/x.py": "", "twin.py": ""}
    )
    proc = run_cli("--project", project, "--venv", venv, "--prune", env=env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"keeper": "1.0"}
    assert (site / "keeper" / "__init__.py").read_text() == "K = 1\n" and (site / "keeper" / "x.py").exists()
    assert not (site / "twin.py").exists() and not (site / "twin-1.0.dist-info").exists()
    assert run_cli("--project", project, "--venv", venv, "--verify", env=env).returncode == 0


def test_a_dist_info_symlinked_to_a_kept_one_is_unlinked_not_emptied(tmp_path: Path) -> None:
    project, venv, site, env = _synced_keeper(tmp_path)
    real = site / "keeper-1.0.dist-info"
    (site / "alias-2.0.dist-info").symlink_to(real.name)  # another name for keeper's metadata
    outside = tmp_path / "outside-meta"
    outside.mkdir()
    (outside / "METADATA").write_text("Metadata-Version: 2.1\nName: far\nVersion: 1\n")
    (outside / "RECORD").write_text("far-1.dist-info/METADATA,,\nfar-1.dist-info/RECORD,,\n")
    (site / "far-1.dist-info").symlink_to(outside)  # metadata that leads out of the venv
    before = sorted(p.name for p in real.iterdir())
    proc = run_cli("--project", project, "--venv", venv, "--prune", env=env)
    assert proc.returncode == 0, proc.stderr
    assert not (site / "alias-2.0.dist-info").is_symlink() and not (site / "far-1.dist-info").is_symlink()
    assert sorted(p.name for p in real.iterdir()) == before  # nothing deleted through the links
    assert sorted(p.name for p in outside.iterdir()) == ["METADATA", "RECORD"]
    assert installed(venv) == {"keeper": "1.0"}
    assert run_cli("--project", project, "--venv", venv, "--verify", env=env).returncode == 0
