"""``--compile``: what this sync installed is byte-compiled by the venv's interpreter, and recorded.

Through the real CLI: a new venv (built beside, so the code objects must name
the final path, not the staging one) gets a ``.pyc`` for each module that
compiles (a module that does not is skipped, as pip does), each listed in
RECORD without hash (as pip lists them), so ``--verify`` still passes and
``--prune`` removes them with their package. A later sync compiles only what
it installed: a kept package's bytecode is not touched, and a sync with
nothing to install writes nothing.
"""

from __future__ import annotations

import csv
import importlib.util
import marshal
import subprocess
from pathlib import Path

import pytest

from .support import build_wheel, cli_env, installed, lock_entry, run_cli, snapshot, write_project

ALPHA = {
    "alpha/__init__.py": b"from alpha.sub import VALUE\n",
    "alpha/sub.py": b"VALUE = 42\n",
    "alpha/legacy.py": b"print 'python 2'\n",  # does not compile: skipped
}


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    wheels = tmp_path / "wheels"
    alpha = build_wheel(wheels, "alpha", "1.0", files=ALPHA, console_scripts={"alpha-cli": "alpha:main"})
    beta = build_wheel(wheels, "beta", "2.0")
    one = write_project(tmp_path / "one", {"default": {"alpha": lock_entry([alpha], "1.0")}})
    both = write_project(
        tmp_path / "both", {"default": {"alpha": lock_entry([alpha], "1.0"), "beta": lock_entry([beta], "2.0")}}
    )
    only_beta = write_project(tmp_path / "only_beta", {"default": {"beta": lock_entry([beta], "2.0")}})
    return {"tmp": tmp_path, "wheels": wheels, "one": one, "both": both, "only_beta": only_beta}


def _sync(world: dict[str, Path], project: str, *args: str) -> subprocess.CompletedProcess[str]:
    tmp = world["tmp"]
    return run_cli(
        "--project", world[project], "--venv", tmp / "venv", "--offline", "--prune",
        "--find-links", world["wheels"], *args, env=cli_env(tmp),
    )  # fmt: skip


def _site(world: dict[str, Path]) -> Path:
    return next((world["tmp"] / "venv" / "lib").glob("python*/site-packages"))


def _pyc(source: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(source)))


def _record(dist_info: Path) -> dict[str, list[str]]:
    with open(dist_info / "RECORD", newline="") as f:
        return {row[0]: row[1:] for row in csv.reader(f) if row}


def test_a_new_venv_is_compiled_recorded_and_verified(world: dict[str, Path]) -> None:
    proc = _sync(world, "one", "--compile")
    assert proc.returncode == 0, proc.stderr
    site = _site(world)
    for module in ("__init__", "sub"):
        pyc = _pyc(site / "alpha" / f"{module}.py")
        assert pyc.is_file()
        code = marshal.loads(pyc.read_bytes()[16:])
        assert code.co_filename == str(site / "alpha" / f"{module}.py")  # the final path, not the staging one
    assert not _pyc(site / "alpha" / "legacy.py").exists()
    rows = _record(site / "alpha-1.0.dist-info")
    pycs = {path: rest for path, rest in rows.items() if path.endswith(".pyc")}
    assert sorted(pycs) == sorted(str(_pyc(site / "alpha" / f"{m}.py").relative_to(site)) for m in ("__init__", "sub"))
    assert all(rest == ["", ""] for rest in pycs.values())
    assert "Byte-compiled 2 files" in proc.stderr + proc.stdout
    # The interpreter takes the compiled files as they are: -B forbids writing, -X importtime would show a compile.
    out = subprocess.run(
        [world["tmp"] / "venv" / "bin" / "python", "-I", "-B", "-c", "import alpha; print(alpha.VALUE)"],
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "42", out.stderr
    verify = _sync(world, "one", "--verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_without_compile_nothing_is_compiled(world: dict[str, Path]) -> None:
    assert _sync(world, "one").returncode == 0
    site = _site(world)
    assert not list(site.rglob("*.pyc"))
    assert not [p for p in _record(site / "alpha-1.0.dist-info") if p.endswith(".pyc")]


def test_a_later_sync_compiles_only_what_it_installed_and_prune_removes_it(world: dict[str, Path]) -> None:
    assert _sync(world, "one", "--compile").returncode == 0
    site = _site(world)
    sub = _pyc(site / "alpha" / "sub.py")
    sub.unlink()  # alpha is kept by the next sync: not compiled again
    before = snapshot(site / "alpha")
    proc = _sync(world, "both", "--compile")
    assert proc.returncode == 0, proc.stderr
    assert installed(world["tmp"] / "venv") == {"alpha": "1.0", "beta": "2.0"}
    assert _pyc(site / "beta" / "__init__.py").is_file()
    assert not sub.exists() and snapshot(site / "alpha") == before
    assert [p for p in _record(site / "beta-2.0.dist-info") if p.endswith(".pyc")]

    everything = snapshot(site)
    nothing = _sync(world, "both", "--compile")  # nothing to install: nothing compiled
    assert nothing.returncode == 0, nothing.stderr
    assert "(sync stamp)" in nothing.stdout  # --compile does not keep the stamp from answering
    assert "Byte-compiled" not in nothing.stderr + nothing.stdout
    assert snapshot(site) == everything

    pruned = _sync(world, "only_beta", "--compile")
    assert pruned.returncode == 0, pruned.stderr
    assert installed(world["tmp"] / "venv") == {"beta": "2.0"}
    assert not (site / "alpha").exists()  # its __pycache__ went with it
    assert _pyc(site / "beta" / "__init__.py").is_file()


def test_help_lists_compile(tmp_path: Path) -> None:
    proc = run_cli("--help", env=cli_env(tmp_path))
    assert "--compile" in proc.stdout
