"""README.rst's shell examples, run as written: a doctest for the ``.. code-block:: sh`` blocks.

The first two blocks are .ci/run's (install the tool, run the suite); the
others run here, in order, in one copy of ``examples/hello`` (so a block can use
what an earlier one made, as a reader following the README would), with
``pipenv-sync`` and ``pipenv`` of this environment on PATH, and in a network
namespace of their own (``unshare -n``): an example that would need the index
fails instead of reaching it. The store starts as the first block leaves it
(the example synced offline from its wheelhouse). A block is skipped only when
an RST comment starting ``.. skip-test`` (with the reason) comes right before
it, and at most two may be.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .realtools import tool_env
from .support import installed

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.rst"
CI_BLOCKS = 2  # run by .ci/run
MAX_SKIPPED = 2


@dataclass(frozen=True)
class Block:
    line: int  # of the code-block directive, 1-based
    script: str
    skip: str | None  # the reason given by a preceding ``.. skip-test`` comment


def sh_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip() != ".. code-block:: sh":
            continue
        body = []
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith("    ")):
            body.append(lines[j][4:])
            j += 1
        blocks.append(Block(i + 1, "\n".join(body).strip() + "\n", _skip_reason(lines, i)))
    return blocks


def _skip_reason(lines: list[str], directive: int) -> str | None:
    """The ``.. skip-test: reason`` comment right above a directive (its indented continuation included)."""
    k = directive - 1
    while k >= 0 and lines[k].startswith("   ") and lines[k].strip():
        k -= 1
    match = re.match(r"^\.\. skip-test\b:?\s*(.*)$", lines[k]) if k >= 0 else None
    return (match.group(1) or "skipped") if match else None


def _network_can_be_cut() -> bool:
    return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=30).returncode == 0


def test_the_readme_parser_finds_the_blocks_and_few_are_skipped() -> None:
    blocks = sh_blocks(README.read_text(encoding="utf-8"))
    assert "pip install ." in blocks[0].script and "-m pytest" in blocks[1].script  # what .ci/run takes
    examples = blocks[CI_BLOCKS:]
    assert len(examples) >= 4
    assert sum(1 for b in examples if b.skip) <= MAX_SKIPPED, [b.line for b in examples if b.skip]
    sample = (
        "x\n\n.. skip-test: needs\n   the index\n.. code-block:: sh\n\n    false\n\n.. code-block:: sh\n\n    true\n"
    )
    assert [(b.script, b.skip) for b in sh_blocks(sample)] == [("false\n", "needs"), ("true\n", None)]


@pytest.mark.skipif(not _network_can_be_cut(), reason="needs `unshare -n` (root) to run the examples offline")
def test_every_readme_example_runs(tmp_path: Path) -> None:
    hello = tmp_path / "hello"
    ignore = shutil.ignore_patterns(".venv")
    shutil.copytree(ROOT / "examples" / "hello", hello, ignore=ignore)
    shutil.copytree(ROOT / "examples" / "hello", tmp_path / "other-app", ignore=ignore)
    bindir = Path(sys.executable).parent
    env = tool_env(tmp_path, PATH=f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin", HOME=str(tmp_path / "home"))
    env.pop("NO_COLOR", None)  # as a user's shell has it
    # the store as README's first command leaves it (that command is .ci/run's, with its install)
    first = sh_blocks(README.read_text(encoding="utf-8"))[0].script
    seed = first.split("&& .venv/bin/", 2)[-1]
    assert seed.startswith("pipenv-sync "), first
    _run(seed, cwd=ROOT, env={**env, "PATH": env["PATH"]}, where="the first block (seed)", hello=hello)

    ran = 0
    for block in sh_blocks(README.read_text(encoding="utf-8"))[CI_BLOCKS:]:
        if block.skip:
            continue
        _run(block.script, cwd=hello, env=env, where=f"README.rst:{block.line}", hello=hello)
        ran += 1
    assert ran >= 4
    # what the examples promise, checked on what they left: a wheelhouse, a venv pipenv finds, in sync
    assert (hello / "wheelhouse" / "simple" / "six" / "index.html").is_file()
    venv = subprocess.run(
        [bindir / "pipenv", "--venv"], cwd=hello, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    check = subprocess.run(
        [bindir / "pipenv-sync", "--lockfile", "pylock.dev.toml", "--prune", "--check", "--offline"],
        cwd=hello,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert venv in check.stdout
    assert set(installed(hello / "other")) == {"six", "idna", "attrs", "iniconfig"}  # pip, from the exported pylock


def _run(script: str, *, cwd: Path, env: dict[str, str], where: str, hello: Path) -> None:
    # The seed is written for the checkout: its examples/hello paths point at the copy here.
    script = script.replace("examples/hello", str(hello))
    proc = subprocess.run(
        ["unshare", "-n", "bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{where}: exit {proc.returncode}\n{script}\n{proc.stdout}\n{proc.stderr}"
