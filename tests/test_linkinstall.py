"""The linking installer: every --link-mode installs the same files, and no edit reaches the cache.

What they all install is pip's layout: ``test_pip_parity.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipenv_sync_ext.store import unpacked

from .support import build_wheel, cli_env, installed, lock_entry, make_venv, run_cli, sha256_file, write_project

EXEC = 0o100755 << 16  # a zip member's external_attr: a regular, executable file
FILE = 0o100644 << 16


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def custom_wheel(
    dest: Path,
    name: str,
    version: str,
    members: Mapping[str, tuple[bytes, int]],
    *,
    purelib: bool = True,
    entry_points: str = "",
) -> Path:
    """A wheel with chosen member modes, ``.data/`` members, entry points and Root-Is-Purelib."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    contents = dict(members)
    contents[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(), FILE)
    wheel = f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {str(purelib).lower()}\nTag: py3-none-any\n"
    contents[f"{info}/WHEEL"] = (wheel.encode(), FILE)
    if entry_points:
        contents[f"{info}/entry_points.txt"] = (entry_points.encode(), FILE)
    record = "".join(f"{p},{_hash(d)},{len(d)}\n" for p, (d, _m) in contents.items()) + f"{info}/RECORD,,\n"
    contents[f"{info}/RECORD"] = (record.encode(), FILE)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, (data, mode) in contents.items():
            item = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            item.external_attr = mode
            item.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(item, data)
    return path


@dataclass
class Demo:
    project: Path
    wheels: dict[str, Path]
    env: dict[str, str]
    tmp: Path

    @property
    def cache(self) -> Path:
        return self.tmp / "cache"

    def sync(self, venv: Path, *args: str, project: Path | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "--project",
            project or self.project,
            "--venv",
            venv,
            "--offline",
            "--prune",
            "--find-links",
            self.tmp / "wheels",
            *args,
            env=self.env,
        )

    def tree_file(self, wheel: str, member: str) -> Path:
        return self.cache / "v1" / "unpacked" / sha256_file(self.wheels[wheel]) / "files" / member


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    wh = tmp_path / "wheels"
    wheels = {
        "demo": custom_wheel(
            wh,
            "demo",
            "1.0",
            {
                "demo/__init__.py": (b"def main():\n    print('demo main')\n", FILE),
                "demo/gui.py": (b"def run():\n    pass\n", FILE),
                "demo/tool.sh": (b"#!/bin/sh\necho tool\n", EXEC),
                "demo/sub/deep/leaf.txt": (b"leaf\n", FILE),
                "demo-1.0.data/scripts/demo-py": (b"#!python\nprint('from a .data script')\n", EXEC),
                "demo-1.0.data/scripts/demo-sh": (b"#!/bin/sh\necho sh\n", EXEC),
                "demo-1.0.data/data/share/demo/readme.txt": (b"shared data\n", FILE),
                "demo-1.0.data/headers/demo.h": (b"#define DEMO 1\n", FILE),
                "demo-1.0.data/purelib/demo_extra.py": (b"EXTRA = 1\n", FILE),
            },
            entry_points="[console_scripts]\ndemo = demo:main\n[gui_scripts]\ndemo-gui = demo.gui:run\n",
        ),
        "plat": custom_wheel(
            wh,
            "plat",
            "2.0",
            {
                "plat/__init__.py": (b"P = 2\n", FILE),
                "plat-2.0.data/purelib/plat_pure.py": (b"PURE = 1\n", FILE),
            },
            purelib=False,
        ),
        "alpha": build_wheel(wh, "alpha", "1.0", files={f"alpha/m{i}.py": f"X = {i}\n".encode() for i in range(3)}),
    }
    project = write_project(
        tmp_path / "proj",
        {"default": {name: lock_entry([w], w.name.split("-")[1]) for name, w in wheels.items()}},
    )
    return Demo(project, wheels, cli_env(tmp_path), tmp_path)


def _site(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


def _contents(venv: Path) -> dict[str, tuple[str, bytes, bool]]:
    """Every entry of the venv (but the sync stamp): kind, bytes or link target, executable bit."""
    found: dict[str, tuple[str, bytes, bool]] = {}
    for dirpath, dirs, files in os.walk(venv):
        for name in dirs + files:
            path = Path(dirpath, name)
            rel = str(path.relative_to(venv))
            if rel == ".pipenv-sync-stamp.json" or "__pycache__" in rel:
                continue
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path).encode(), False)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", b"", False)
            else:
                found[rel] = ("file", path.read_bytes(), bool(st.st_mode & 0o100))
    return found


@pytest.mark.parametrize("mode", ["auto", "clone", "hardlink", "copy"])
def test_every_link_mode_installs_what_the_installer_mode_installs(demo: Demo, mode: str) -> None:
    venv = make_venv(demo.tmp / "venv")
    reference = demo.sync(venv, "--link-mode", "installer")
    assert reference.returncode == 0, reference.stderr
    expected = _contents(venv)
    shutil.rmtree(venv)
    make_venv(venv)  # the same path: scripts and RECORD name it
    linked = demo.sync(venv, "--link-mode", mode)
    assert linked.returncode == 0, linked.stderr
    assert _contents(venv) == expected  # files, RECORD, INSTALLER, scripts, modes' executable bit

    site = _site(venv)
    assert (site / "demo-1.0.dist-info" / "INSTALLER").read_text() == "pipenv-sync\n"
    record = (site / "demo-1.0.dist-info" / "RECORD").read_bytes().decode()
    assert "../../../bin/demo," in record and "../../../bin/demo-py," in record
    assert "\r\ndemo-1.0.dist-info/RECORD,,\r\n" in record  # pip's csv: CRLF
    assert "\r\nplat_pure.py," in (site / "plat-2.0.dist-info" / "RECORD").read_bytes().decode()  # pip's relpath
    assert (venv / "share" / "demo" / "readme.txt").read_bytes() == b"shared data\n"
    assert (site / "demo_extra.py").exists() and (site / "plat_pure.py").exists()
    assert next(venv.glob("include/site/python*/demo/demo.h")).read_bytes() == b"#define DEMO 1\n"
    assert (venv / "bin" / "demo-py").read_text().startswith(f"#!{venv / 'bin' / 'python'}\n")
    assert (venv / "bin" / "demo-py").stat().st_mode & 0o111 and (site / "demo" / "tool.sh").stat().st_mode & 0o111
    run = subprocess.run([str(venv / "bin" / "demo")], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout == "demo main\n", run.stderr

    module, cached = site / "demo" / "__init__.py", demo.tree_file("demo", "demo/__init__.py")
    script = venv / "bin" / "demo-sh"
    assert script.stat().st_nlink == 1  # scripts are never linked
    if mode == "hardlink":
        assert os.path.samefile(module, cached) and not module.stat().st_mode & 0o222  # read-only, shared
    elif mode in ("copy", "clone"):
        assert module.stat().st_nlink == 1 and module.stat().st_mode & 0o200  # our own, writable inode
    assert "cannot be unpacked" not in linked.stderr
    assert not list((demo.cache / "v1" / "tmp").glob("*"))  # no staging left behind
    assert run_cli(*_verify_args(demo, venv), env=demo.env).returncode == 0


def _verify_args(demo: Demo, venv: Path) -> list[str | Path]:
    return ["--project", demo.project, "--venv", venv, "--offline", "--prune", "--verify"]


def test_an_in_place_edit_of_a_hardlink_is_reported_and_repair_restores_venv_and_cache(demo: Demo) -> None:
    venv = make_venv(demo.tmp / "venv")
    assert demo.sync(venv, "--link-mode", "hardlink").returncode == 0
    target, cached = _site(venv) / "alpha" / "m1.py", demo.tree_file("alpha", "alpha/m1.py")
    assert os.path.samefile(target, cached)
    before = target.stat()
    with target.open("r+b") as f:  # in place, as an editor keeping the inode would (root ignores 0o444)
        f.write(b"X = 'tampered'\n")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # and hide it from the stat check
    assert cached.read_bytes() == b"X = 'tampered'\n"  # a hard link shares the bytes: the known trade-off

    verify = run_cli(*_verify_args(demo, venv), "--json", env=demo.env)
    assert verify.returncode == 5
    assert (
        "alpha 1.0: installed files differ from RECORD: 1 modified (alpha/m1.py)"
        in json.loads(verify.stdout)["out_of_sync"]
    )
    repair = demo.sync(venv, "--repair", "--link-mode", "hardlink")
    assert repair.returncode == 0, repair.stderr
    said = " ".join(repair.stderr.split())  # a long warning is folded between words
    assert "the unpacked copy of alpha-1.0-py3-none-any.whl was modified (alpha/m1.py" in said
    assert target.read_bytes() == b"X = 1\n" and cached.read_bytes() == b"X = 1\n"  # both: the tree was rebuilt
    assert os.path.samefile(target, cached)
    assert run_cli(*_verify_args(demo, venv), env=demo.env).returncode == 0

    other = make_venv(demo.tmp / "other")
    assert demo.sync(other).returncode == 0
    assert (_site(other) / "alpha" / "m1.py").read_bytes() == b"X = 1\n"


def test_a_tree_touched_since_it_was_unpacked_is_rebuilt_before_it_is_linked_again(demo: Demo) -> None:
    venv = make_venv(demo.tmp / "venv")
    assert demo.sync(venv, "--link-mode", "hardlink").returncode == 0
    (_site(venv) / "alpha" / "m2.py").write_bytes(b"X = 'edited'\n")  # in place: the mtime changes
    demo.tree_file("demo", "demo/gui.py").unlink()  # and a file of another tree goes missing

    other = make_venv(demo.tmp / "other")
    synced = demo.sync(other)
    assert synced.returncode == 0, synced.stderr
    assert synced.stderr.count("unpacked again from the verified wheel") == 2
    assert (_site(other) / "alpha" / "m2.py").read_bytes() == b"X = 2\n"
    assert (_site(other) / "demo" / "gui.py").exists()
    assert run_cli(*_verify_args(demo, other), env=demo.env).returncode == 0
    assert run_cli(*_verify_args(demo, venv), env=demo.env).returncode == 5  # the edited venv is still edited


@pytest.mark.parametrize("mode", ["installer", "copy", "hardlink"])
def test_installing_over_a_hardlinked_file_replaces_it_and_leaves_the_cache_alone(tmp_path: Path, mode: str) -> None:
    wh = tmp_path / "wheels"
    a = build_wheel(wh, "aaa", "1.0", files={"shared.py": b"WHO = 'a'\n", "aaa/__init__.py": b""})
    b = build_wheel(wh, "bbb", "1.0", files={"shared.py": b"WHO = 'b'\n", "bbb/__init__.py": b""})
    one = write_project(tmp_path / "one", {"default": {"aaa": lock_entry([a], "1.0")}})
    two = write_project(tmp_path / "two", {"default": {"aaa": lock_entry([a], "1.0"), "bbb": lock_entry([b], "1.0")}})
    env = cli_env(tmp_path)
    venv = make_venv(tmp_path / "venv")
    common: list[str | Path] = ["--venv", venv, "--offline", "--prune", "--find-links", wh]
    assert run_cli("--project", one, *common, "--link-mode", "hardlink", env=env).returncode == 0
    tree = unpacked.load(tmp_path / "cache", sha256_file(a))
    assert tree is not None
    cached = Path(tree.files_dir, "shared.py")
    assert os.path.samefile(_site(venv) / "shared.py", cached)

    synced = run_cli("--project", two, *common, "--link-mode", mode, env=env)
    assert synced.returncode == 0, synced.stderr
    assert (_site(venv) / "shared.py").read_bytes() == b"WHO = 'b'\n"
    assert cached.read_bytes() == b"WHO = 'a'\n" and not unpacked.damaged(tree, deep=True)
    assert installed(venv) == {"aaa": "1.0", "bbb": "1.0"}


def test_a_wheel_that_cannot_be_unpacked_is_installed_with_installer(demo: Demo) -> None:
    (demo.cache / "v1").mkdir(parents=True)
    (demo.cache / "v1" / "unpacked").write_text("not a directory\n")
    venv = make_venv(demo.tmp / "venv")
    synced = demo.sync(venv)
    assert synced.returncode == 0, synced.stderr
    assert synced.stderr.count("installing it from the wheel") == 3
    assert installed(venv) == {"demo": "1.0", "plat": "2.0", "alpha": "1.0"}
    assert run_cli(*_verify_args(demo, venv), env=demo.env).returncode == 0


def test_a_fresh_venv_built_beside_its_target_links_too(demo: Demo) -> None:
    venv = demo.tmp / "new-venv"  # does not exist: built beside, then renamed into place
    synced = demo.sync(venv)
    assert synced.returncode == 0, synced.stderr
    assert (venv / "bin" / "demo").read_text().startswith(f"#!{venv / 'bin' / 'python'}\n")
    assert run_cli(*_verify_args(demo, venv), env=demo.env).returncode == 0
    run = subprocess.run([str(venv / "bin" / "demo")], capture_output=True, text=True)
    assert run.stdout == "demo main\n", run.stderr
