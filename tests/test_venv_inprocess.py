"""A venv written in-process is, file for file, what the interpreter's own ``python -m venv`` makes.

Each interpreter on this machine whose ``venv`` builder is one the writer knows
(target/venvwrite.py) makes a venv both ways at the same path; the trees are
compared entry by entry (names, modes, symlink targets, bytes: pyvenv.cfg and
the activate scripts included), and the written venv's interpreter finds
itself there. Then through the real CLI: a new venv is written (no
``python -m venv``), is not taken for moved, activates with its own prompt,
and ``--seed`` gives it a working pip; a shim in front of the base is written
as ``venv`` run through it writes; an unknown builder, or a wrapper script in
front of a venv's interpreter, falls back to ``python -m venv``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipenv_sync_ext.target.interpreter import probe
from pipenv_sync_ext.target.venvwrite import Builder, builder_for, write

from .support import build_wheel, cli_env, installed, lock_entry, run_cli, write_project

FALLBACK = "-m venv`"  # what the CLI says when it runs `python -m venv` instead of writing the venv


def _bases() -> list[str]:
    found = [sys.executable, os.path.realpath(getattr(sys, "_base_executable", sys.executable))]
    found += [p for p in ("/usr/bin/python3.11", "/usr/bin/python3") if os.path.exists(p)]
    usable = []
    for python in dict.fromkeys(found):
        if isinstance(builder_for(python, probe(Path(python), None)), Builder):
            usable.append(python)
    return usable


BASES = _bases()


def _tree(root: Path) -> dict[str, tuple[str, int, bytes | str]]:
    """Every entry under ``root``: kind, mode, and bytes (a file) or target (a link)."""
    found: dict[str, tuple[str, int, bytes | str]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            st = path.lstat()
            if path.is_symlink():
                found[rel] = ("link", 0, os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", st.st_mode & 0o7777, "")
            else:
                found[rel] = ("file", st.st_mode & 0o7777, path.read_bytes())
    return found


def _cfg(venv: Path) -> dict[str, str]:
    lines = (venv / "pyvenv.cfg").read_text().splitlines()
    return dict(tuple(part.strip() for part in line.split("=", 1)) for line in lines if "=" in line)  # type: ignore[misc]


def test_a_builder_of_this_machine_is_known() -> None:
    assert BASES, "no interpreter here has a venv builder the in-process writer knows: it would never be used"


@pytest.mark.parametrize("python", BASES)
def test_the_written_venv_is_what_python_m_venv_makes(tmp_path: Path, python: str) -> None:
    venv = tmp_path / "some env"  # a space: quoted where the builder quotes
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    reference = _tree(venv)
    made_cfg = _cfg(venv)
    shutil.rmtree(venv)
    builder = builder_for(python, probe(Path(python), None))
    assert isinstance(builder, Builder)
    write(venv, venv, builder=builder, seed=False)
    assert _cfg(venv) == made_cfg
    assert _tree(venv) == reference
    assert {"bin/activate", "bin/activate.fish", "bin/activate.csh", "pyvenv.cfg", "lib64"} <= set(reference)
    code = "import sys; print(sys.prefix)"
    out = subprocess.run([venv / "bin" / "python", "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == str(venv)


@pytest.mark.parametrize("python", BASES[:1])
def test_written_beside_it_names_the_final_place(tmp_path: Path, python: str) -> None:
    final, staging = tmp_path / "venv", tmp_path / ".venv.staging"
    subprocess.run([python, "-m", "venv", "--without-pip", str(final)], check=True)
    reference = _tree(final)
    shutil.rmtree(final)
    builder = builder_for(python, probe(Path(python), None))
    assert isinstance(builder, Builder)
    write(staging, final, builder=builder, seed=False)
    os.rename(staging, final)
    assert _tree(final) == reference


def test_an_unknown_builder_or_a_wrapper_is_left_to_python_m_venv(tmp_path: Path) -> None:
    python = BASES[0]
    base = probe(Path(python), None)
    short = "python{}.{}".format(*base.version.split(".")[:2])
    prefix = tmp_path / "prefix"
    shutil.copytree(Path(base.base_prefix, "lib", short, "venv"), prefix / "lib" / short / "venv")
    init = prefix / "lib" / short / "venv" / "__init__.py"
    init.write_text(init.read_text().replace("'(%s) ' % prompt", "'[%s] ' % prompt"))
    reason = builder_for(python, dataclasses.replace(base, base_prefix=str(prefix)))
    assert isinstance(reason, str) and "not checked against" in reason
    shim = tmp_path / "shim"
    shim.write_text(f'#!/bin/sh\nexec {python} "$@"\n')
    shim.chmod(0o755)
    assert isinstance(builder_for(str(shim), probe(shim, None)), str)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("written")
    wheels = tmp / "wheels"
    alpha = build_wheel(wheels, "alpha", "1.0", console_scripts={"alpha-cli": "alpha:main"})
    return write_project(tmp / "project", {"default": {"alpha": lock_entry([alpha], "1.0")}}), wheels


def _sync(tmp: Path, project: tuple[Path, Path], venv: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "--project", project[0], "--venv", venv, "--offline", "--find-links", project[1], *args, env=cli_env(tmp)
    )


def test_a_new_venv_is_written_in_process_and_synced(tmp_path: Path, project: tuple[Path, Path]) -> None:
    python = BASES[0]
    reference = tmp_path / "ref" / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(reference)], check=True)
    venv = tmp_path / "venv"
    proc = _sync(tmp_path, project, venv, "--python", python)
    assert proc.returncode == 0, proc.stderr
    assert FALLBACK not in proc.stderr
    assert installed(venv) == {"alpha": "1.0"}
    # The same as `python -m venv` at that place, but for what the sync installed.
    synced = ("bin/alpha-cli", ".pipenv-sync-stamp.json")
    ours = {k: v for k, v in _tree(venv).items() if "site-packages/" not in k and k not in synced}
    theirs = _tree(reference)
    assert set(ours) == set(theirs)
    assert _cfg(venv) == {**_cfg(reference), "command": _cfg(reference)["command"].replace(str(reference), str(venv))}
    activate = (venv / "bin" / "activate").read_text()
    assert f'VIRTUAL_ENV="{venv}"' in activate or f"VIRTUAL_ENV={venv}" in activate
    assert "(venv) " in activate and "pipenv-sync" not in activate
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".venv.")]
    check = _sync(tmp_path, project, venv, "--check", "--json")
    assert check.returncode == 0, check.stdout + check.stderr


def test_seed_gives_the_written_venv_pip(tmp_path: Path, project: tuple[Path, Path]) -> None:
    venv = tmp_path / "venv"
    proc = _sync(tmp_path, project, venv, "--python", BASES[0], "--seed")
    assert proc.returncode == 0, proc.stderr
    assert FALLBACK not in proc.stderr
    assert "pip" in installed(venv)
    pip = subprocess.run([venv / "bin" / "pip", "--version"], capture_output=True, text=True)
    assert pip.returncode == 0 and str(venv) in pip.stdout, pip.stdout + pip.stderr
    assert str(tmp_path / ".venv") not in (venv / "bin" / "pip").read_text()  # not the staging path


def test_a_shim_is_written_as_its_venv_would_be(tmp_path: Path, project: tuple[Path, Path]) -> None:
    """A pyenv-like shim: `shim -m venv` runs the interpreter, whose own path the venv then names."""
    real = os.path.realpath(BASES[0])
    shim = tmp_path / "shims" / "python3"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    shim.chmod(0o755)
    reference = tmp_path / "ref" / "venv"
    subprocess.run([shim, "-m", "venv", "--without-pip", str(reference)], check=True)
    venv = tmp_path / "venv"
    proc = _sync(tmp_path, project, venv, "--python", shim)
    assert proc.returncode == 0, proc.stderr
    assert FALLBACK not in proc.stderr
    assert installed(venv) == {"alpha": "1.0"}
    assert _cfg(venv) == {**_cfg(reference), "command": _cfg(reference)["command"].replace(str(reference), str(venv))}
    assert os.readlink(venv / "bin" / "python3") == os.readlink(reference / "bin" / "python3")


def test_a_wrapper_in_a_venv_gets_python_m_venv(tmp_path: Path, project: tuple[Path, Path]) -> None:
    other = tmp_path / "other"
    subprocess.run([BASES[0], "-m", "venv", "--without-pip", str(other)], check=True)
    wrapper = other / "bin" / "python-wrapped"
    wrapper.write_text(f'#!/bin/sh\nexec {other / "bin" / "python"} "$@"\n')
    wrapper.chmod(0o755)
    venv = tmp_path / "venv"
    proc = _sync(tmp_path, project, venv, "--python", wrapper)
    assert proc.returncode == 0, proc.stderr
    assert FALLBACK in proc.stderr
    assert installed(venv) == {"alpha": "1.0"}
    assert "(venv) " in (venv / "bin" / "activate").read_text()  # venv's prompt, not the staging directory's
