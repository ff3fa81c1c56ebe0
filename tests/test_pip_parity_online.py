"""Opt-in (``pytest -m online``): real PyPI wheels installed by pip 26.3 and by this tool, compared file for file.

The corpus is pinned and chosen for odd features. The wheels and pip itself are fetched once with
``pip download --no-deps --only-binary :all:`` into ``$PIPENV_SYNC_TEST_CORPUS`` (default
``~/.cache/pipenv-sync-tests/pypi-corpus``). pip 26.3 runs from its wheel, ``--python`` the target venv,
``install --no-deps --no-compile --no-index --find-links <corpus> name==version`` (an index install of top-level
requirements, as ``pipenv sync`` makes it); this tool syncs a lock of the same sha256s, in each link mode, into a
fresh venv at the same path. Compared after :func:`tests.wheelcorpus.normalized` (INSTALLER, pip's
``<dist>.data/`` RECORD rows, the hard links' write bits) and without ``__pycache__`` (files and RECORD rows: numpy
ships some, which pip installs and this tool, as ``installer``, does not).

No wheel with non-ASCII file names, nor one whose ``.data/scripts`` file shadows a console script, was found among
these or the ~1,000 wheels on this machine; ``tests/wheelcorpus.py`` has both, compared with a real pip in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from .support import cli_env, lock_entry, make_venv, run_cli, write_project
from .test_pip_parity import MODES, differences
from .wheelcorpus import normalized, tree_of

pytestmark = pytest.mark.online

PIP = "pip==26.3"
CORPUS = {
    "greenlet": "3.5.6",  # .data/headers (include/site/python3.11/greenlet/greenlet.h), a C extension
    "pip": "26.3",  # pip's own versioned scripts (pip, pip3, pip3.11), PEP 639 licenses/
    "setuptools": "51.3.3",  # easy_install and easy_install-3.11, distutils-precedence.pth
    "qtconsole": "5.7.2",  # gui_scripts
    "jmespath": "1.1.0",  # .data/scripts/jp.py with #!python
    "jsonpatch": "1.33",  # .data/scripts with #!python
    "ruff": "0.16.9",  # a binary in .data/scripts
    "botocore": "1.43.107",  # 2,021 files
    "ipykernel": "7.4.0",  # .data/data (share/jupyter/kernels/...)
    "jaraco-functools": "4.6.0",  # a namespace package (jaraco/, no __init__.py)
    "zope-interface": "8.6",  # a namespace package in a platlib wheel
    "packaging": "26.3",  # PEP 639 licenses/
    "numpy": "2.4.1",  # ships __pycache__, thousands of files, platlib
}
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _corpus_dir() -> Path:
    default = Path.home() / ".cache" / "pipenv-sync-tests" / "pypi-corpus"
    return Path(os.environ.get("PIPENV_SYNC_TEST_CORPUS", default))


def _download(dest: Path) -> dict[str, Path]:
    dest.mkdir(parents=True, exist_ok=True)
    wanted = [PIP, *(f"{n}=={v}" for n, v in CORPUS.items())]
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}  # PyPI itself, not the machine's mirrors
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(dest), *wanted],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Path] = {}
    for wheel in dest.glob("*.whl"):
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        if CORPUS.get(name) == wheel.name.split("-")[1]:
            found[name] = wheel
    assert found.keys() == CORPUS.keys()
    return found


def _without_pycache(tree: Mapping[str, tuple[str, bytes, int]]) -> dict[str, tuple[str, bytes, int]]:
    out = dict(tree)
    for rel, (kind, data, mode) in tree.items():
        if rel.endswith(".dist-info/RECORD"):
            rows = [line for line in data.split(b"\r\n") if b"/__pycache__/" not in line.split(b",", 1)[0]]
            out[rel] = (kind, b"\r\n".join(rows), mode)
    return out


def _owners(tree: Mapping[str, tuple[str, bytes, int]], site: str) -> dict[str, str]:
    """Venv-relative path -> the distribution whose RECORD lists it."""
    owners = {}
    for rel, (_kind, data, _mode) in tree.items():
        if rel.endswith(".dist-info/RECORD"):
            dist = rel.rpartition("/")[0].rpartition("/")[2].split("-")[0]
            for line in data.decode().splitlines():
                path = os.path.normpath(f"{site}/{line.split(',', 1)[0]}")
                owners[path] = dist
                owners[rel.rpartition("/")[0]] = dist
    return owners


def test_real_wheels_install_as_pip_26_installs_them(tmp_path: Path) -> None:
    wheels = _download(_corpus_dir())
    pip_wheel = next(_corpus_dir().glob("pip-26.3-*.whl"))
    wheelhouse = tmp_path / "wheels"  # the corpus only (the cache may hold other versions)
    wheelhouse.mkdir()
    for wheel in wheels.values():
        shutil.copy(wheel, wheelhouse)
    project = write_project(tmp_path / "proj", {"default": {n: lock_entry([w], CORPUS[n]) for n, w in wheels.items()}})
    env = cli_env(tmp_path)
    venv = make_venv(tmp_path / "venv")
    pip = [sys.executable, str(pip_wheel / "pip"), "--python", str(venv / "bin" / "python"), "--isolated"]
    options = ["--no-deps", "--no-compile", "--no-index", "--find-links", str(wheelhouse), "-q"]
    requirements = [f"{n}=={v}" for n, v in CORPUS.items()]
    done = subprocess.run([*pip, "install", *options, *requirements], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    reference = _without_pycache(tree_of(venv))
    shutil.rmtree(venv)
    site = f"lib/python{PY}/site-packages"
    owners = _owners(reference, site)
    assert f"include/site/python{PY}/greenlet/greenlet.h" in reference
    assert {"bin/pip", "bin/pip3", f"bin/pip{PY}", "bin/easy_install", f"bin/easy_install-{PY}"} <= reference.keys()

    report, failures = [], []
    for mode in MODES:
        make_venv(venv)
        common: list[str | Path] = ["--project", project, "--venv", venv, "--offline", "--prune"]
        synced = run_cli(*common, "--find-links", wheelhouse, "--link-mode", mode, env=env)
        assert synced.returncode == 0, synced.stderr
        ours = _without_pycache(tree_of(venv))
        read_only = mode in ("auto", "hardlink")
        diffs = differences(normalized(ours, read_only=read_only), normalized(reference, read_only=read_only))
        both = {**_owners(ours, site), **owners}
        differing = sorted({re.sub(r"[-_.]+", "-", both.get(d.split(": ")[1], "?")).lower() for d in diffs})
        same = len(CORPUS.keys() - set(differing))
        report.append(f"{mode}: {same} of {len(CORPUS)} identical; differ: {differing}")
        failures += [f"{mode}: {d}" for d in diffs[:10]]
        verify = run_cli(*common, "--verify", env=env)  # out of sync only for the dependencies left out
        if "installed files differ from RECORD" in verify.stdout or verify.returncode not in (0, 5):
            failures.append(f"{mode}: --verify: {verify.stdout.strip()}")
        for script in ("pip", f"pip{PY}", "ruff", "jp.py"):
            if not (venv / "bin" / script).exists():
                failures.append(f"{mode}: no bin/{script}")
                continue
            ran = subprocess.run([str(venv / "bin" / script), "--help"], capture_output=True, timeout=120)
            if ran.returncode != 0:
                failures.append(f"{mode}: bin/{script} --help: {ran.stderr[-300:]!r}")
        shutil.rmtree(venv)
    print("\n".join(report))
    assert not failures, "\n".join(report + failures)
