"""Interpreter drift, broken venvs, rebuilds and the sync stamp, on real venvs."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipenv_sync_ext.target.drift import inspect_venv, parse_pyvenv_cfg, requires_mismatch

from .support import (
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

HERE = ".".join(map(str, sys.version_info[:3]))


@pytest.mark.parametrize(
    ("requires", "version", "wanted"),
    [
        ({}, "3.11.7", None),
        ({"python_version": "3.11"}, "3.11.7", None),
        ({"python_version": "3.11"}, "3.12.1", "python_version 3.11"),
        ({"python_version": "3"}, "3.12.1", None),
        ({"python_version": "2"}, "3.12.1", "python_version 2"),
        ({"python_full_version": "3.11.7"}, "3.11.7", None),
        ({"python_full_version": "3.11.6"}, "3.11.7", "python_full_version 3.11.6"),
        # python_full_version wins over python_version, as in pipenv
        ({"python_full_version": "3.11.6", "python_version": "3.11"}, "3.11.7", "python_full_version 3.11.6"),
        ({"python_version": ">=3.10,<3.12"}, "3.11.7", None),
        ({"python_version": ">=3.12"}, "3.11.7", "python_version >=3.12"),
        ({"python_version": ">=x"}, "3.11.7", "python_version >=x (not a valid version or specifier)"),
    ],
)
def test_requires_rules(requires: dict[str, str], version: str, wanted: str | None) -> None:
    assert requires_mismatch(requires, version) == wanted


def test_pyvenv_cfg_parsing() -> None:
    cfg = parse_pyvenv_cfg(
        "home = /usr/bin\nInclude-System-Site-Packages = TRUE\nversion_info = 3.11.7.final.0\n"
        "command = /usr/bin/python3 -m venv --without-pip /srv/my app/.venv\n"
    )
    assert (cfg.home, cfg.version, cfg.system_site_packages) == ("/usr/bin", "3.11.7", True)
    assert cfg.command == "/usr/bin/python3 -m venv --without-pip /srv/my app/.venv"
    cfg = parse_pyvenv_cfg("home = /x/bin\nuv = 0.13.9\nversion_info = 3.12.1\n")  # uv: no version, no command
    assert (cfg.version, cfg.command, cfg.system_site_packages) == ("3.12.1", None, False)


def _pyenv_python(minor: int) -> str | None:
    import glob

    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")))
    return found[-1] if found else None


def _make(creator: str, venv: Path) -> None:
    from .realtools import tool_env, uv_bin

    if creator.startswith("venv-3."):
        python = _pyenv_python(int(creator.rsplit(".", 1)[1]))
        if python is None:
            pytest.skip(f"needs pyenv's Python {creator[5:]}")
        cmd = [python, "-m", "venv", "--without-pip", str(venv)]
    elif creator == "virtualenv":
        cmd = [sys.executable, "-m", "virtualenv", "--quiet", "--no-seed", "--no-periodic-update", str(venv)]
    else:
        cmd = [uv_bin(), "venv", "--quiet", "--python", sys.executable, str(venv)]
        cmd += ["--relocatable"] if creator == "uv-relocatable" else []
    subprocess.run(cmd, check=True, env=tool_env(venv.parent), capture_output=True)


def _moved(venv: Path) -> str | None:
    found = [p.message for p in inspect_venv(venv, prune=False) if p.code == "moved"]
    assert len(found) <= 1
    return found[0] if found else None


#: Which creators' venvs still name their old place after `mv`: venv and uv write it as a literal
#: into bin/activate; virtualenv's bash activate relocates itself, uv --relocatable has no literal.
BROKEN_BY_MV = {"venv-3.8": True, "venv-3.12": True, "venv-3.13": True, "uv": True, "virtualenv": False}


@pytest.mark.parametrize("creator", [*BROKEN_BY_MV, "uv-relocatable"])
def test_moved_detection_reads_what_each_creator_writes(tmp_path: Path, creator: str) -> None:
    made = tmp_path / "made"
    _make(creator, made)
    assert _moved(made) is None  # in place: never "moved" (virtualenv 21 writes VIRTUAL_ENV="$CURRENT_ENV")
    # A copy whose original is still there activates (and runs) the original: moved, unless relocatable.
    shutil.copytree(made, tmp_path / "copy", symlinks=True)
    copied = _moved(tmp_path / "copy")
    if creator == "uv-relocatable":
        assert copied is None
    else:
        assert copied == f"{tmp_path / 'copy'}: was made at {made} and moved or copied; bin/activate still points there"
    os.rename(made, tmp_path / "moved")
    assert (_moved(tmp_path / "moved") is not None) == BROKEN_BY_MV.get(creator, False)


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


UV_RELOCATABLE = """#!/bin/sh
'''exec' "$(dirname -- "$(realpath -- "$0")")"/'python' "$0" "$@"
' '''
"""


def test_moved_detection_reads_every_shebang_form(tmp_path: Path) -> None:
    """pip's and uv's shebangs (plain, distlib's /bin/sh form, enquoted), and those that prove nothing."""
    venv = make_venv(tmp_path / "v")
    (venv / "bin" / "activate").unlink()  # only the scripts speak here
    old = tmp_path / "gone venv"
    _script(venv / "bin" / "here", f"#!{venv}/bin/python\nimport x\n")
    _script(venv / "bin" / "env", "#!/usr/bin/env python3\n")
    _script(venv / "bin" / "system", "#!/usr/bin/python3\n")  # /usr exists and is no venv: foreign, not stale
    _script(venv / "bin" / "reloc", UV_RELOCATABLE)
    _script(venv / "bin" / "shell", "#!/bin/sh\necho hi\n")
    assert _moved(venv) is None
    _script(venv / "bin" / "long", f"#!/bin/sh\n'''exec' '{old}/bin/python' \"$0\" \"$@\"\n' '''\n")
    _script(venv / "bin" / "quoted", f'#!"{old}/bin/python3"\n')
    _script(venv / "bin" / "other-name", f"#!{old}/bin/python9.9\n")  # no such python in this venv: not ours
    message = _moved(venv)
    assert message == f"{venv}: was made at {old} and moved or copied; bin/long, bin/quoted still point there"
    # Installed here from another live venv (`--prefix`), while pyvenv.cfg's command names this place: no move.
    for name in ("long", "quoted", "other-name"):
        (venv / "bin" / name).unlink()
    other = make_venv(tmp_path / "other")
    _script(venv / "bin" / "tool", f"#!{other}/bin/python -E\n")
    assert f"-m venv --without-pip {venv}" in (venv / "pyvenv.cfg").read_text()
    assert _moved(venv) is None
    shutil.rmtree(other)  # gone: now the script really is stale
    assert _moved(venv) == f"{venv}: was made at {other} and moved or copied; bin/tool still points there"


@dataclass
class Proj:
    project: Path
    wheels: Path
    env: dict[str, str]
    tmp: Path

    def sync(self, venv: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "--project",
            self.project,
            "--venv",
            venv,
            "--offline",
            "--find-links",
            self.wheels,
            *args,
            env={**self.env, **env},
        )


@pytest.fixture
def proj(tmp_path: Path) -> Proj:
    wh = tmp_path / "wheels"
    alpha = build_wheel(wh, "alpha", "1.0", console_scripts={"alpha-cli": "alpha:main"})
    beta = build_wheel(wh, "beta", "2.0")
    project = write_project(
        tmp_path / "p", {"default": {"alpha": lock_entry([alpha], "1.0"), "beta": lock_entry([beta], "2.0")}}
    )
    return Proj(project, wh, cli_env(tmp_path), tmp_path)


def _cfg_set(venv: Path, key: str, value: str) -> None:
    cfg = venv / "pyvenv.cfg"
    lines = [ln for ln in cfg.read_text().splitlines() if not ln.lower().startswith(key + " ")]
    cfg.write_text("\n".join([*lines, f"{key} = {value}"]) + "\n")


def _json(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def _codes(proc: subprocess.CompletedProcess[str]) -> list[object]:
    problems = _json(proc)["problems"]
    assert isinstance(problems, list)
    return [p["code"] for p in problems]


def _works(venv: Path) -> bool:
    code = "import alpha, beta, json, ssl; print('ok')"
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() == "ok"


def test_bootstrap_from_nothing_without_pip_unless_seeded(proj: Proj) -> None:
    venv = proj.tmp / "deep" / "venv"
    proc = proj.sync(venv, "--json")
    assert proc.returncode == 0, proc.stderr
    assert _json(proc)["created_venv"] is True
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"} and _works(venv)
    assert not list(venv.parent.glob(".venv.pipenv-sync-*"))  # no staging left behind
    # the venv was built beside and moved into place: its scripts and activate name the final path
    assert (venv / "bin" / "alpha-cli").read_text().startswith(f"#!{venv / 'bin' / 'python'}\n")
    assert f'VIRTUAL_ENV="{venv}"' in (venv / "bin" / "activate").read_text()
    seeded = proj.tmp / "seeded"
    assert proj.sync(seeded, "--seed").returncode == 0
    assert "pip" in installed(seeded)


def test_patch_upgrade_of_the_base_is_detected_and_rebuild_fixes_it(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    assert proj.sync(venv).returncode == 0
    _cfg_set(venv, "version", "3.11.0" if HERE != "3.11.0" else "3.11.1")  # as if made before an upgrade
    check = proj.sync(venv, "--check", "--json")
    assert check.returncode == 5 and _codes(check) == ["base-interpreter-upgraded"]
    assert "upgraded in place" in str(_json(check)["out_of_sync"])
    # a patch upgrade does not break the venv: a sync warns and goes on
    proc = proj.sync(venv)
    assert proc.returncode == 0 and f"its base interpreter is now {HERE} (upgraded in place)" in proc.stderr
    rebuilt = proj.sync(venv, "--rebuild", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert _json(rebuilt)["rebuilt"] is True
    assert f"version = {HERE}" in (venv / "pyvenv.cfg").read_text()
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"} and _works(venv)
    assert proj.sync(venv, "--check").returncode == 0


def test_moved_venv_is_refused_then_rebuilt(proj: Proj) -> None:
    old = proj.tmp / "old"
    assert proj.sync(old).returncode == 0
    venv = proj.tmp / "moved"
    os.rename(old, venv)
    before = snapshot(venv)
    proc = proj.sync(venv)
    assert proc.returncode == 1
    assert f"{venv}: was made at {old} and moved" in proc.stderr and "--rebuild" in proc.stderr
    assert snapshot(venv) == before
    assert _codes(proj.sync(venv, "--check", "--json")) == ["moved"]
    fixed = proj.sync(venv, "--rebuild-on-drift")
    assert fixed.returncode == 0, fixed.stderr
    assert "Rebuilding" in fixed.stderr and (venv / "bin" / "alpha-cli").read_text().startswith(f"#!{venv}/bin/python")
    assert _works(venv) and proj.sync(venv, "--check").returncode == 0


def test_missing_base_interpreter_rebuilds_with_the_env_var(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    assert proj.sync(venv).returncode == 0
    _cfg_set(venv, "home", str(proj.tmp / "gone" / "bin"))
    proc = proj.sync(venv)
    gone = f"its base interpreter's directory {proj.tmp / 'gone' / 'bin'} is gone"
    assert proc.returncode == 1 and gone in error_text(proc.stderr) and "--rebuild" in error_text(proc.stderr)
    fixed = proj.sync(venv, "--json", PIPENV_SYNC_REBUILD="1")
    assert fixed.returncode == 0, fixed.stderr
    assert _json(fixed)["rebuilt"] is True and _codes(fixed) == ["base-interpreter-missing"]
    assert _works(venv)


def test_no_pyvenv_cfg_is_never_rebuilt_over(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    assert proj.sync(venv).returncode == 0
    (venv / "pyvenv.cfg").unlink()
    before = snapshot(venv)
    for args in ((), ("--rebuild",), ("--rebuild-on-drift",)):
        proc = proj.sync(venv, *args)
        assert proc.returncode == 1 and "not a virtualenv (no pyvenv.cfg)" in proc.stderr, proc.stderr
    assert snapshot(venv) == before
    assert _codes(proj.sync(venv, "--check", "--json")) == ["no-pyvenv-cfg"]


def test_system_site_packages_and_prune(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    assert proj.sync(venv).returncode == 0  # without --prune there is nothing to own
    proc = proj.sync(venv, "--prune")
    assert proc.returncode == 1 and "include-system-site-packages is on, so --prune cannot own" in proc.stderr
    assert proj.sync(venv, "--prune", "--rebuild").returncode == 0
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    assert proj.sync(venv, "--prune", "--check").returncode == 0


def test_failed_rebuild_leaves_the_old_venv_working(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    assert proj.sync(venv).returncode == 0
    lock = proj.project / "Pipfile.lock"
    data = json.loads(lock.read_text())
    data["default"]["gamma"] = {"version": "==1.0", "hashes": ["sha256:" + "0" * 64]}  # in no store
    lock.write_text(json.dumps(data))
    before = snapshot(venv)
    proc = proj.sync(venv, "--rebuild")
    assert proc.returncode == 4 and "gamma==1.0" in proc.stderr
    assert snapshot(venv) == before and _works(venv)
    assert sorted(p.name for p in proj.tmp.iterdir() if "pipenv-sync" in p.name) == []


def test_lock_for_another_python_fails_and_changes_nothing(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    assert proj.sync(venv).returncode == 0
    lock = proj.project / "Pipfile.lock"
    data = json.loads(lock.read_text())
    data["_meta"]["requires"] = {"python_version": "3.4"}
    lock.write_text(json.dumps(data))
    before = snapshot(venv)
    proc = proj.sync(venv, "--prune")
    assert proc.returncode == 1
    line = error_text(proc.stderr)  # a headline and a hint
    assert f"_meta.requires wants python_version 3.4, the venv {venv} has Python {HERE}" in line
    assert "--rebuild" in line and "--python X.Y" in line and "--allow-python-drift" in line
    assert snapshot(venv) == before
    allowed = proj.sync(venv, "--allow-python-drift")
    assert allowed.returncode == 0 and "wants python_version 3.4" in allowed.stderr


def _other_python() -> tuple[str, str] | None:
    import glob

    for minor in (12, 13, 10):
        if minor == sys.version_info[1]:
            continue
        for found in glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}*/bin/python3.{minor}")):
            if subprocess.run([found, "-c", "import venv"], capture_output=True).returncode == 0:
                return found, f"3.{minor}"
    return None


def test_rebuild_picks_the_interpreter_the_lock_requires(proj: Proj) -> None:
    other = _other_python()
    if other is None:
        pytest.skip("needs a second Python minor version (pyenv)")
    python, version = other
    venv = proj.tmp / "venv"
    assert proj.sync(venv).returncode == 0
    lock = proj.project / "Pipfile.lock"
    data = json.loads(lock.read_text())
    data["_meta"]["requires"] = {"python_version": version}
    lock.write_text(json.dumps(data))
    assert proj.sync(venv).returncode == 1
    # the same discovery as `pipenv --python X.Y`: PATH, then pyenv's installs
    env = {"PATH": "/usr/bin:/bin", "PYENV_ROOT": str(Path(python).parents[3])}
    proc = proj.sync(venv, "--rebuild", **env)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.version)"], capture_output=True)
    assert out.stdout.decode().startswith(version + ".")
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}


def test_noop_with_a_valid_stamp_starts_no_interpreter(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--copies", str(venv)], check=True)
    assert proj.sync(venv, "--prune").returncode == 0
    binary = Path(os.path.realpath(venv / "bin" / "python"))
    assert binary.is_relative_to(venv)  # a copy, so making it unrunnable harms nobody else
    mode = binary.stat().st_mode
    binary.chmod(mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))  # chmod keeps mtime: stamp unchanged
    shutil.rmtree(proj.tmp / "cache" / "probes")  # and no cached probe to fall back on
    try:
        proc = proj.sync(venv, "--prune", "--json")
        assert proc.returncode == 0, proc.stderr
        data = _json(proc)
        assert data["stamp_hit"] is True and data["changed"] is False
        assert data["unchanged"] == [{"name": "alpha", "version": "1.0"}, {"name": "beta", "version": "2.0"}]
        # anything that may change the answer falls back to the full plan, which must probe and fails here
        (proj.project / "Pipfile.lock").write_text((proj.project / "Pipfile.lock").read_text() + "\n")
        assert proj.sync(venv, "--prune").returncode == 1
    finally:
        binary.chmod(mode)
    assert proj.sync(venv, "--prune").returncode == 0


def test_stamp_sees_changes_behind_its_back(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    assert proj.sync(venv, "--prune").returncode == 0
    hit = proj.sync(venv, "--prune", "--json")
    assert _json(hit)["stamp_hit"] is True
    # another tool installs a package: the next sync plans, and prunes it
    extra = build_wheel(proj.tmp / "x", "stray", "1.0")
    seed = write_project(proj.tmp / "seed", {"default": {"stray": lock_entry([extra], "1.0")}})
    assert (
        run_cli("--project", seed, "--venv", venv, "--offline", "--find-links", extra.parent, env=proj.env).returncode
        == 0
    )
    check = proj.sync(venv, "--prune", "--check")
    assert check.returncode == 5 and "stray 1.0 is installed but not in the selected categories" in check.stdout
    proc = proj.sync(venv, "--prune", "--json")
    assert _json(proc)["stamp_hit"] is False and installed(venv) == {"alpha": "1.0", "beta": "2.0"}
    # another selection is another key
    assert _json(proj.sync(venv, "--prune", "--dev", "--json"))["stamp_hit"] is False
    # a package removed by hand
    shutil.rmtree(next(venv.glob("lib/python*/site-packages/beta-2.0.dist-info")))
    check = proj.sync(venv, "--check")
    assert check.returncode == 5 and "beta 2.0 is not installed" in check.stdout
    assert proj.sync(venv).returncode == 0 and installed(venv)["beta"] == "2.0"


def test_check_changes_nothing_and_needs_no_network(proj: Proj) -> None:
    venv = make_venv(proj.tmp / "venv")
    before = snapshot(venv)
    proc = run_cli("--project", proj.project, "--venv", venv, "--check", "--json", env=proj.env)  # online, no index
    assert proc.returncode == 5, proc.stderr
    reasons = _json(proc)["out_of_sync"]
    assert isinstance(reasons, list)
    assert set(reasons) == {"alpha 1.0 is not installed", "beta 2.0 is not installed"}
    assert snapshot(venv) == before
    missing = run_cli("--project", proj.project, "--venv", proj.tmp / "none", "--check", env=proj.env)
    assert missing.returncode == 5 and "does not exist" in missing.stdout and not (proj.tmp / "none").exists()


def test_the_noop_fast_path_imports_neither_pipenv_nor_pip_nor_packaging(proj: Proj) -> None:
    venv = proj.tmp / "venv"
    assert proj.sync(venv, "--prune").returncode == 0
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "pipenv_sync_ext",
            "--project",
            str(proj.project),
            "--venv",
            str(venv),
            "--prune",
            "--offline",
            "--find-links",
            str(proj.wheels),
        ],
        capture_output=True,
        text=True,
        env=proj.env,
    )
    assert proc.returncode == 0 and "Already in sync: 2 packages (sync stamp)" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "pipenv_sync_ext.fastpath.noop" in imported
    for heavy in ("pipenv", "pip", "packaging", "argparse", "dataclasses", "pipenv_sync_ext.cli.app", "installer"):
        assert heavy not in imported, heavy
    # the same answer, in the same words, from the full CLI (a touched lock is re-hashed, not re-planned)
    os.utime(proj.project / "Pipfile.lock")
    full = proj.sync(venv, "--prune", "--json")
    assert json.loads(full.stdout)["stamp_hit"] is True
