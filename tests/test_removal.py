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
