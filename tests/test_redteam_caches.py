"""Red team: planted or edited cache entries (``<cache>/probes/``, ``<cache>/v1/plans/``) against the real CLI.

The cache is the user's, but what it says is data: an entry edited by hand, left by
another version, or planted in a cache directory another user can write must never lead
an install out of the venv, nor change what the lock selects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import build_wheel, cli_env, error_text, installed, lock_entry, run_cli, snapshot, write_project


@pytest.mark.parametrize("data_too", [False, True], ids=["site-packages", "site-packages-and-data"])
def test_a_planted_interpreter_probe_never_leads_an_install_out_of_the_venv(tmp_path: Path, data_too: bool) -> None:
    wheels = tmp_path / "wheels"
    alpha, beta = build_wheel(wheels, "alpha", "1.0"), build_wheel(wheels, "beta", "2.0")
    project = write_project(tmp_path / "proj", {"default": {"alpha": lock_entry([alpha], "1.0")}})
    env, venv = cli_env(tmp_path), tmp_path / "venv"
    args: list[str | Path] = ["--project", project, "--venv", venv, "--offline", "--find-links", wheels]
    assert run_cli(*args, env=env).returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    probes = [p for p in (tmp_path / "cache").glob("probes/*.json") if str(venv) in p.read_text()]
    assert probes
    for probe in probes:  # the venv's own probe, its install directories pointed elsewhere
        info = json.loads(probe.read_text())
        info["scheme"].update(purelib=str(outside), platlib=str(outside))
        if data_too:
            info["scheme"]["data"] = "/"
        probe.write_text(json.dumps(info))
    project = write_project(
        tmp_path / "proj", {"default": {"alpha": lock_entry([alpha], "1.0"), "beta": lock_entry([beta], "2.0")}}
    )
    before = snapshot(venv)
    proc = run_cli(*args, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = error_text(proc.stderr)
    assert f"goes to {'/' if data_too else outside}, outside the venv; nothing installed" in text, text
    assert list(outside.iterdir()) == []
    assert {k: v for k, v in snapshot(venv).items() if "pipenv-sync-stamp" not in k} == {
        k: v for k, v in before.items() if "pipenv-sync-stamp" not in k
    }
    assert installed(venv) == {"alpha": "1.0"}


def _two_sections(tmp_path: Path) -> tuple[list[str | Path], dict[str, str], Path]:
    wheels = tmp_path / "wheels"
    alpha, beta = build_wheel(wheels, "alpha", "1.0"), build_wheel(wheels, "beta", "2.0")
    project = write_project(
        tmp_path / "proj",
        {"default": {"alpha": lock_entry([alpha], "1.0")}, "develop": {"beta": lock_entry([beta], "2.0")}},
    )
    venv = tmp_path / "venv"
    args: list[str | Path] = ["--project", project, "--venv", venv, "--offline", "--find-links", wheels]
    return args, cli_env(tmp_path), venv


def _plans(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "cache").glob("v1/plans/*.json") if "-" not in p.name]


def test_a_compiled_lock_edited_to_drop_a_section_never_makes_prune_remove_it(tmp_path: Path) -> None:
    args, env, venv = _two_sections(tmp_path)
    assert run_cli(*args, "--dev", "--prune", env=env).returncode == 0
    (entry,) = _plans(tmp_path)
    data = json.loads(entry.read_text())
    assert data["sections"] == ["default", "develop"]
    data["sections"] = ["default"]  # develop's packages would be "not selected", and pruned
    entry.write_text(json.dumps(data))
    (venv / ".pipenv-sync-stamp.json").unlink()
    proc = run_cli(*args, "--dev", "--prune", env=env)
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}
    assert json.loads(entry.read_text())["sections"] == ["default", "develop"]  # compiled again


def test_a_probe_another_user_could_write_is_not_trusted(tmp_path: Path) -> None:
    """A world-writable probe (a shared cache directory) is probed again, not refused: the sync succeeds."""
    args, env, venv = _two_sections(tmp_path)
    assert run_cli(*args, env=env).returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    probes = [p for p in (tmp_path / "cache").glob("probes/*.json") if str(venv) in p.read_text()]
    for probe in probes:
        info = json.loads(probe.read_text())
        info["scheme"].update(purelib=str(outside), platlib=str(outside), data="/")
        probe.write_text(json.dumps(info))
        probe.chmod(0o666)
    proc = run_cli(*args, "--dev", env=env)
    assert proc.returncode == 0, proc.stderr
    assert list(outside.iterdir()) == []
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_a_compiled_lock_another_user_could_write_does_not_hide_a_stale_lock_from_deploy(tmp_path: Path) -> None:
    args, env, _ = _two_sections(tmp_path)
    pipfile = tmp_path / "proj" / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace("[packages]\n", '[packages]\ngamma = "*"\n'))  # now stale
    proc = run_cli(*args, "--dev", env=env)
    assert proc.returncode == 0 and "out of date" in proc.stderr, proc.stderr
    (entry,) = _plans(tmp_path)
    data = json.loads(entry.read_text())
    assert data["fresh"] is False
    data["fresh"], data["notes"] = True, ["planted note"]
    entry.write_text(json.dumps(data))
    entry.chmod(0o666)
    proc = run_cli(*args, "--dev", "--deploy", env=env)
    assert proc.returncode == 3, proc.stderr
    assert "planted note" not in proc.stderr


def test_an_unpacked_tree_whose_manifest_another_user_could_write_is_unpacked_again(tmp_path: Path) -> None:
    """Trees are linked into venvs as they are (checked by stat): one planted with its own manifest in a cache
    another user can write must not be installed. Simulated: a tree file's bytes changed (same size and
    mtime), the manifest world-writable."""
    import os

    args, env, _ = _two_sections(tmp_path)
    assert run_cli(*args, env=env).returncode == 0
    (manifest,) = (tmp_path / "cache").glob("v1/unpacked/*/manifest.json")
    module = next(manifest.parent.rglob("alpha/__init__.py"))
    honest, stat = module.read_bytes(), module.stat()
    module.chmod(0o644)
    module.write_bytes(b"X" * len(honest))  # what a planted tree would hold
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    module.chmod(stat.st_mode)
    manifest.chmod(0o666)
    fresh = tmp_path / "fresh"
    proc = run_cli(*[fresh if a == tmp_path / "venv" else a for a in args], env=env)
    assert proc.returncode == 0, proc.stderr
    assert next(fresh.glob("lib/python*/site-packages/alpha/__init__.py")).read_bytes() == honest
