"""Every link mode installs what pip installs, file for file: paths, bytes, executable bits, RECORD, scripts that run.

The reference is a real pip, the one next to the tests (``python -m pip``, ensurepip's 23.2 in CI), run as
``pip --python <venv> install --no-deps --no-compile --no-index --find-links <wheels> name==version`` (an index
install of top-level requirements, as ``pipenv sync`` makes it) into a fresh venv at the very path the tool then
syncs, one link mode after another. What may differ is listed in :func:`tests.wheelcorpus.normalized`; with a pip
older than 26 the launchers' text after the shebang too, which ``test_launchers_are_pip_26s_byte_for_byte`` pins
(and ``test_pip_parity_online.py`` compares with a real pip 26 on real PyPI wheels).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipenv_sync_ext.install import scripts

from .support import cli_env, lock_entry, make_venv, run_cli, write_project
from .wheelcorpus import FILE, build_corpus, make_wheel, normalized, tree_of

MODES = ("auto", "clone", "hardlink", "copy", "installer")
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass
class Corpus:
    tmp: Path
    wheels: dict[str, Path]
    project: Path
    env: dict[str, str]
    reference: dict[str, tuple[str, bytes, int]]  # the venv pip made at `venv`
    pip_version: str

    @property
    def venv(self) -> Path:
        return self.tmp / "venv"

    @property
    def wheelhouse(self) -> Path:
        return self.tmp / "wheels"


def _version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def pip_install(venv: Path, wheels: Mapping[str, Path], wheelhouse: Path, env: Mapping[str, str]) -> None:
    requirements = [f"{name}=={_version(w)}" for name, w in wheels.items()]
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "--disable-pip-version-check"]
    options = ["--no-deps", "--no-compile", "--no-index", "--find-links", str(wheelhouse), "-q"]
    done = subprocess.run([*pip, "install", *options, *requirements], capture_output=True, text=True, env=dict(env))
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    tmp = tmp_path_factory.mktemp("parity")
    wheels = build_corpus(tmp / "wheels")
    project = write_project(tmp / "proj", {"default": {n: lock_entry([w], _version(w)) for n, w in wheels.items()}})
    env = cli_env(tmp)
    venv = make_venv(tmp / "venv")
    pip_install(venv, wheels, tmp / "wheels", env)
    reference = tree_of(venv)
    shutil.rmtree(venv)
    version = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True)
    return Corpus(tmp, wheels, project, env, reference, version.stdout.split()[1])


def differences(ours: Mapping[str, object], pips: Mapping[str, object]) -> list[str]:
    found = [f"only ours: {k}" for k in sorted(ours.keys() - pips.keys())]
    found += [f"only pip's: {k}" for k in sorted(pips.keys() - ours.keys())]
    found += [
        f"differs: {k}: ours {ours[k]!r:.300} pip's {pips[k]!r:.300}"
        for k in sorted(ours)
        if k in pips and ours[k] != pips[k]
    ]
    return found


def _launchers(tree: Mapping[str, tuple[str, bytes, int]]) -> frozenset[str]:
    return frozenset(k for k, (_kind, data, _m) in tree.items() if k.startswith("bin/") and b"\n    sys.exit(" in data)


def _run(path: Path) -> str:
    done = subprocess.run([str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (path, done.stderr)
    return done.stdout


@pytest.mark.parametrize("mode", MODES)
def test_every_link_mode_installs_what_pip_installs(corpus: Corpus, mode: str) -> None:
    venv = make_venv(corpus.venv)  # the same path: scripts name it
    try:
        common: list[str | Path] = ["--project", corpus.project, "--venv", venv, "--offline", "--prune"]
        synced = run_cli(*common, "--find-links", corpus.wheelhouse, "--link-mode", mode, env=corpus.env)
        assert synced.returncode == 0, synced.stderr
        ours = tree_of(venv)
        launchers = frozenset() if corpus.pip_version.startswith("26.") else _launchers(corpus.reference)
        read_only = mode in ("auto", "hardlink")  # hard links are the store's read-only inodes
        assert not differences(
            normalized(ours, launchers=launchers, read_only=read_only),
            normalized(corpus.reference, launchers=launchers, read_only=read_only),
        )
        assert run_cli(*common, "--verify", env=corpus.env).returncode == 0  # clean right after the install

        site = f"lib/python{PY}/site-packages"
        assert f"include/site/python{PY}/odd-pkg-tool/sub/inner.h" in ours  # the distribution's own folder
        assert ours[f"{site}/odd_pkg_tool-1.0.dist-info/REQUESTED"][1] == b""
        assert ours[f"{site}/odd_pkg_tool-1.0.dist-info/INSTALLER"][1] == b"pipenv-sync\n"
        assert {k for k in ours if k.startswith(("bin/pip", "bin/easy"))} == {
            "bin/pip",
            "bin/pip3",
            f"bin/pip{PY}",
            "bin/pipx",
            "bin/easy_install",
            "bin/easy_install-3",
            f"bin/easy_install-{PY}",
        }
        record = ours[f"{site}/odd_pkg_tool-1.0.dist-info/RECORD"][1].decode()
        assert record.count("../../../bin/odd-clash,") == 1 and "odd.exe" not in record
        bin_ = venv / "bin"
        assert _run(bin_ / "odd-clash") == "main of odd_pkg_tool as odd-clash\n"  # the launcher, not the data script
        assert _run(bin_ / "odd-gui") == "gui of odd_pkg_tool\n"
        assert _run(bin_ / "odd-dotted") == "method of odd_pkg_tool\n"
        assert _run(bin_ / f"pip{PY}") == f"main of pipnames as pip{PY}\n"
        assert _run(bin_ / "odd-py") == "odd-py ran\n" and _run(bin_ / "odd-pythonw") == "odd-pythonw ran\n"
        assert _run(bin_ / "nested" / "odd-nested") == "nested ran\n"
        module = venv / site / "manyfiles" / "d07" / "m0700.py"
        if mode == "hardlink":
            assert module.stat().st_nlink > 1  # really linked from the store
        elif mode in ("copy", "installer"):
            assert module.stat().st_nlink == 1
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def test_a_venv_pip_installed_verifies_clean(corpus: Corpus) -> None:
    """pip's stale RECORD row (a ``.data/scripts`` file a launcher replaced) is no missing file for --verify."""
    venv = make_venv(corpus.tmp / "pip-venv")
    pip_install(venv, corpus.wheels, corpus.wheelhouse, corpus.env)
    verify = run_cli("--project", corpus.project, "--venv", venv, "--offline", "--verify", env=corpus.env)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_launchers_are_pip_26s_byte_for_byte() -> None:
    ep = {"module": "pkg.cli", "attr": "main.run"}
    body = (
        "import sys\nfrom pkg.cli import main\nif __name__ == '__main__':\n"
        "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(main.run())\n"
    )
    assert scripts.launcher("/v/bin/python", "3.11.7", **ep) == ("#!/v/bin/python\n" + body).encode()
    spaced = "#!/bin/sh\n'''exec' \"/a b/bin/python\" \"$0\" \"$@\"\n' '''\n"
    assert scripts.launcher("/a b/bin/python", "3.12", **ep) == (spaced + body).encode()
    long = "/long" * 30 + "/bin/python"
    assert scripts.launcher(long, "3.11", **ep).startswith(f"#!/bin/sh\n'''exec' {long} \"$0\"".encode())
    old = scripts.launcher("/v/bin/python", "3.8.18", **ep)
    assert b"removesuffix" not in old and b"    if sys.argv[0].endswith('.exe'):\n" in old
    # pip's fix_script: the whole #!python line, arguments and all
    assert scripts.fix_shebang(b"#!python3 -E\nx\n", "/v/bin/python") == b"#!/v/bin/python\nx\n"
    assert scripts.fix_shebang(b"#!/bin/sh\nx\n", "/v/bin/python") == b"#!/bin/sh\nx\n"


@pytest.mark.parametrize("mode", ["copy", "installer"])
def test_scripts_run_from_a_venv_whose_path_has_a_space(corpus: Corpus, mode: str) -> None:
    """pip's ``#!python`` rewrite breaks on a space in the path; this tool's scripts run (the /bin/sh form)."""
    venv = make_venv(corpus.tmp / f"a space {mode}")
    common: list[str | Path] = ["--project", corpus.project, "--venv", venv, "--offline", "--prune"]
    synced = run_cli(*common, "--find-links", corpus.wheelhouse, "--link-mode", mode, env=corpus.env)
    assert synced.returncode == 0, synced.stderr
    assert (venv / "bin" / "odd").read_bytes().startswith(f"#!/bin/sh\n'''exec' \"{venv}/bin/python\"".encode())
    assert _run(venv / "bin" / "odd") == "main of odd_pkg_tool as odd\n"
    assert _run(venv / "bin" / "odd-py") == "odd-py ran\n"
    assert run_cli(*common, "--verify", env=corpus.env).returncode == 0


@pytest.mark.parametrize("mode", ["auto", "installer"])
def test_an_entry_point_named_out_of_the_scripts_directory_is_refused_before_any_change(
    tmp_path: Path, mode: str
) -> None:
    """pip 26 refuses it too (``_raise_for_invalid_entrypoint``); here nothing is written, not even the others."""
    wheel = make_wheel(
        tmp_path / "wheels",
        "evil",
        "1.0",
        {"evil/__init__.py": (b"def main(): pass\n", FILE)},
        entry_points="[console_scripts]\n../../../escaped = evil:main\n",
    )
    good = make_wheel(tmp_path / "wheels", "good", "1.0", {"good/__init__.py": (b"", FILE)})
    lock = {"evil": lock_entry([wheel], "1.0"), "good": lock_entry([good], "1.0")}
    project = write_project(tmp_path / "proj", {"default": lock})
    venv = make_venv(tmp_path / "venv")
    before = tree_of(tmp_path)
    synced = run_cli(
        *("--project", project, "--venv", venv, "--offline", "--find-links", tmp_path / "wheels", "--link-mode", mode),
        env=cli_env(tmp_path),
    )
    assert synced.returncode == 1
    expected = "evil-1.0-py3-none-any.whl (locked as evil==1.0): entry point '../../../escaped' would be written"
    assert expected in synced.stderr
    assert "Traceback" not in synced.stderr
    after = tree_of(tmp_path, exclude=())
    assert {k: v for k, v in after.items() if not k.startswith(("cache", "pip-cache"))} == before
