"""Crafted wheels the lock's hashes allow: each is refused before any change, in every link mode.

Every case runs the real CLI against a venv that already holds ``keep`` (which
the hostile lock would prune), with a sibling directory holding a file a
crafted name aims at. Each asserts the one-line error, and that the venv and
the sibling are unchanged path for path and byte for byte, and that the cache
only gained the stored copy of the crafted file (``v1/artifacts``).
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import (
    build_wheel,
    cli_env,
    error_text,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    snapshot_tree,
    write_project,
)

MODES = ("auto", "installer")


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def craft(
    dest: Path,
    filename: str,
    members: dict[str, bytes],
    *,
    dist_info: str = "alpha-1.0.dist-info",
    name: str = "alpha",
    version: str = "1.0",
    record: bool = True,
) -> Path:
    """A wheel file named ``filename`` holding ``members``, with default METADATA and WHEEL and a true RECORD."""
    contents = {
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        **members,
    }
    if record:
        rows = "".join(f"{p},{_hash(d)},{len(d)}\n" for p, d in contents.items())
        contents.setdefault(f"{dist_info}/RECORD", (rows + f"{dist_info}/RECORD,,\n").encode())
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / filename
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in contents.items():
            zf.writestr(arcname, data)
    return path


@dataclass
class Scene:
    tmp: Path
    venv: Path
    cache: Path
    sibling: Path
    env: dict[str, str]

    def snapshots(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        return snapshot_tree(self.venv), snapshot_tree(self.cache), snapshot_tree(self.sibling)

    def sync_refused(self, wheel: Path, mode: str, expected: str, *, name: str = "alpha", version: str = "1.0") -> str:
        """Sync (with --prune) a lock allowing only ``wheel`` as ``name``: refused, nothing changed."""
        project = write_project(self.tmp / f"p-{mode}", {"default": {name: lock_entry([wheel], version)}})
        before = self.snapshots()
        proc = run_cli(
            "--project", project, "--venv", self.venv, "--prune", "--offline", "--find-links", wheel.parent,
            "--link-mode", mode, env=self.env,
        )  # fmt: skip
        assert proc.returncode == 1, (mode, proc.stdout, proc.stderr)
        assert expected in error_text(proc.stderr, hint=False), (mode, proc.stderr)  # a headline, no traceback
        venv, cache, sibling = self.snapshots()
        assert venv == before[0], mode
        assert sibling == before[2], mode
        assert all(cache.get(p) == h for p, h in before[1].items()), mode  # nothing in the cache changed or went
        gained = [p for p in cache if p not in before[1]]
        assert all(p.startswith("v1/artifacts") for p in gained), gained
        assert installed(self.venv) == {"keep": "1.0"}
        return proc.stderr


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    keep = build_wheel(tmp_path / "seed-wheels", "keep", "1.0", console_scripts={"keep-tool": "keep:main"})
    env = cli_env(tmp_path)
    venv = make_venv(tmp_path / "venv")
    seed = write_project(tmp_path / "seed", {"default": {"keep": lock_entry([keep], "1.0")}})
    proc = run_cli("--project", seed, "--venv", venv, "--offline", "--find-links", keep.parent, env=env)
    assert proc.returncode == 0, proc.stderr
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    (sibling / "victim").write_text("precious\n")
    return Scene(tmp_path, venv, tmp_path / "cache", sibling, env)


def _entry_points(text: str) -> dict[str, bytes]:
    return {"alpha/__init__.py": b"def main(): pass\n", "alpha-1.0.dist-info/entry_points.txt": text.encode()}


OK_FILE = {"alpha/__init__.py": b"x = 1\n"}
CASES: dict[str, tuple[dict[str, bytes], dict[str, str], str]] = {
    # name: (members, craft() keywords, expected in the message)
    "script name with ../": (
        _entry_points("[console_scripts]\n../../sibling/victim = alpha:main\n"),
        {},
        "entry point '../../sibling/victim' would be written outside the scripts directory (it has a '..' component)",
    ),
    "absolute gui script name": (
        _entry_points("[gui_scripts]\n/tmp/evil = alpha:main\n"),
        {},
        "entry point '/tmp/evil' would be written outside the scripts directory (it is not a relative POSIX path)",
    ),
    "script name with U+2028": (
        _entry_points("[console_scripts]\nline\u2028split = alpha:main\n"),
        {},
        "holds a control or line-separator character",
    ),
    "entry_points.txt without a section header": (
        _entry_points("tool = alpha:main\n"),
        {},
        "unreadable entry_points.txt",
    ),
    "entry point that is not module:attr": (
        _entry_points("[console_scripts]\ntool = alpha main()\n"),
        {},
        "is 'alpha main()', not 'module:attr'",
    ),
    "unknown .data scheme": (
        {**OK_FILE, "alpha-1.0.data/evil/x.txt": b"x"},
        {},
        "alpha-1.0.data/evil/x.txt is not in a valid .data subdirectory",
    ),
    "file at a .data scheme's place": (
        {**OK_FILE, "alpha-1.0.data/scripts": b"#!/bin/sh\n"},
        {},
        "alpha-1.0.data/scripts is not in a valid .data subdirectory",
    ),
    "METADATA version is not the pin": (
        OK_FILE,
        {"version": "2.0"},
        "METADATA says version 2.0, the lock pins 1.0",
    ),
    "dist-info version is not the pin": (
        OK_FILE,
        {"dist_info": "alpha-2.0.dist-info"},
        "alpha-2.0.dist-info says version 2.0, the lock pins 1.0",
    ),
    "a file named for alpha holding beta": (
        {"beta/__init__.py": b""},
        {"dist_info": "beta-1.0.dist-info", "name": "beta"},
        "is a wheel of 'beta', not of 'alpha'",
    ),
    "beta's dist-info with alpha's METADATA": (
        OK_FILE,
        {"dist_info": "beta-1.0.dist-info"},
        "is a wheel of 'beta', not of 'alpha' (beta-1.0.dist-info)",
    ),
    "two dist-info directories": (
        {**OK_FILE, "other-1.0.dist-info/METADATA": b"Name: other\nVersion: 1.0\n"},
        {},
        "holds 2 .dist-info directories (alpha-1.0.dist-info, other-1.0.dist-info)",
    ),
    "member with ../": (
        {**OK_FILE, "../sibling/victim": b"owned\n"},
        {},
        "archive member '../sibling/victim' escapes the install location (it has a '..' component)",
    ),
    "member that is a file and a directory": (
        {"alpha/x": b"file", "alpha/x/y": b"below"},
        {},
        "archive member 'alpha/x' is both a file and a directory",
    ),
    "two members installed at one place": (
        {**OK_FILE, "alpha-1.0.data/purelib/alpha/__init__.py": b"y = 2\n"},
        {},
        "would be installed at one place",
    ),
    "no RECORD": (OK_FILE, {"record": False}, "alpha-1.0.dist-info/RECORD is missing"),  # type: ignore[dict-item]
    "RECORD row with four fields": (
        {**OK_FILE, "alpha-1.0.dist-info/RECORD": b"alpha/__init__.py,sha256=x,6,extra\n"},
        {},
        "RECORD line 1 has 4 fields, not 3",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_crafted_wheel_is_refused_before_any_change_in_every_link_mode(scene: Scene, case: str) -> None:
    members, keywords, expected = CASES[case]
    wheel = craft(scene.tmp / "hostile", "alpha-1.0-py3-none-any.whl", members, **keywords)  # type: ignore[arg-type]
    for mode in MODES:
        message = scene.sync_refused(wheel, mode, expected)
        assert "alpha-1.0-py3-none-any.whl (locked as alpha==1.0)" in message, message
    assert (scene.sibling / "victim").read_text() == "precious\n"


def test_many_small_members_inflating_to_512_mib_are_a_zip_bomb(scene: Scene) -> None:
    """Each member is 8 MiB of zeros (under the per-member floor); the archive is ~0.5 MB, the total 512 MiB."""
    zeros = bytes(8 << 20)
    members = {f"alpha/blob{i:02}.bin": zeros for i in range(64)}
    wheel = craft(scene.tmp / "hostile", "alpha-1.0-py3-none-any.whl", {**OK_FILE, **members})
    size = wheel.stat().st_size
    with zipfile.ZipFile(wheel) as zf:
        declared = sum(i.file_size for i in zf.infolist())
    assert size < 1 << 20 and declared > 512 << 20, (size, declared)  # the premise: a small download
    for mode in MODES:
        message = scene.sync_refused(wheel, mode, "a zip bomb?")
        assert f"its 68 members inflate {size} bytes to {declared}" in message, message


LINKS = {
    # where the link is planted (relative to the venv, "{site}" the site-packages), the member that goes through it
    "a package directory": ("{site}/alpha", "alpha/victim"),
    "the headers directory (include/site)": ("include/site", "alpha-1.0.data/headers/victim.h"),
    "the data scheme's share": ("share", "alpha-1.0.data/data/share/victim"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("link", sorted(LINKS))
def test_a_symlink_in_the_venv_cannot_lead_an_install_outside(scene: Scene, mode: str, link: str) -> None:
    """A link planted in the venv to the sibling (as ``lib64 -> lib`` is planted, but leading out): the
    wheel's member would land in the sibling through it; refused while nothing is changed."""
    site = next((scene.venv / "lib").glob("python*/site-packages"))
    where, member = LINKS[link]
    planted = scene.venv / where.format(site=site.relative_to(scene.venv))
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(scene.sibling, target_is_directory=True)
    wheel = craft(scene.tmp / "honest", "alpha-1.0-py3-none-any.whl", {**OK_FILE, member: b"owned\n"})
    project = write_project(scene.tmp / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    venv_before, _cache, sibling_before = scene.snapshots()
    proc = run_cli(
        "--project", project, "--venv", scene.venv, "--prune", "--offline", "--find-links", wheel.parent,
        "--link-mode", mode, env=scene.env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    text = error_text(proc.stderr, hint=False)
    assert "leads outside" in text and "(through a symlink); refused" in text, proc.stderr
    venv_after, _cache, sibling_after = scene.snapshots()
    assert sibling_after == sibling_before
    # Refused while the stamp still stands: nothing at all changed (where a wheel writes is checked first).
    assert venv_after == venv_before
    assert installed(scene.venv) == {"keep": "1.0"}


def test_a_wheel_already_unpacked_in_the_store_is_judged_against_each_lock_anew(scene: Scene) -> None:
    """The store's tree of an honest alpha 1.0 skips the zip checks, not the identity: a lock that names
    the same hash for another version or another package is refused, in both link modes."""
    wheel = build_wheel(scene.tmp / "honest", "alpha", "1.0")
    other = make_venv(scene.tmp / "other")
    project = write_project(scene.tmp / "p-other", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    proc = run_cli("--project", project, "--venv", other, "--offline", "--find-links", wheel.parent, env=scene.env)
    assert proc.returncode == 0, proc.stderr
    assert list((scene.cache / "v1" / "unpacked").iterdir())  # the premise: a tree to skip the zip with
    for mode in MODES:
        scene.sync_refused(wheel, mode, "alpha-1.0.dist-info says version 1.0, the lock pins 2.0", version="2.0")
        scene.sync_refused(wheel, mode, "is a wheel of 'alpha', not of 'beta'", name="beta")


def _site(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("obstacle", ["a directory where a file goes", "a file where a directory goes"])
def test_a_clash_with_what_the_venv_holds_is_refused_before_any_change(scene: Scene, mode: str, obstacle: str) -> None:
    site = _site(scene.venv)
    if obstacle == "a directory where a file goes":
        (site / "alpha" / "x").mkdir(parents=True)  # nobody's: no RECORD names it
        (site / "alpha" / "x" / "notes.txt").write_text("mine\n")
        expected = f"{site}/alpha/x cannot be installed: a directory is there"
    else:
        (site / "alpha").write_text("a stray file\n")
        expected = f"{site}/alpha is a file, not a directory"
    wheel = build_wheel(scene.tmp / "honest", "alpha", "1.0", files={"alpha/__init__.py": b"", "alpha/x": b"data\n"})
    project = write_project(scene.tmp / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    before = snapshot_tree(scene.venv)
    proc = run_cli(
        "--project", project, "--venv", scene.venv, "--prune", "--offline", "--find-links", wheel.parent,
        "--link-mode", mode, env=scene.env,
    )  # fmt: skip
    assert proc.returncode == 1 and expected in error_text(proc.stderr, hint=False), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert snapshot_tree(scene.venv) == before  # keep not pruned, and the stamp still stands
    assert installed(scene.venv) == {"keep": "1.0"}


@pytest.mark.parametrize("mode", MODES)
def test_an_upgrade_that_turns_a_file_into_a_directory_is_no_clash(scene: Scene, mode: str) -> None:
    """The file in the way belongs to the version being replaced: it goes first, then the new one installs."""
    old = build_wheel(scene.tmp / "w1", "alpha", "1.0", files={"alpha/__init__.py": b"", "alpha/x": b"a file\n"})
    new = build_wheel(scene.tmp / "w2", "alpha", "2.0", files={"alpha/__init__.py": b"", "alpha/x/__init__.py": b""})
    for wheel, version in ((old, "1.0"), (new, "2.0")):
        project = write_project(scene.tmp / f"p{version}", {"default": {"alpha": lock_entry([wheel], version)}})
        proc = run_cli(
            "--project", project, "--venv", scene.venv, "--offline", "--find-links", wheel.parent,
            "--link-mode", mode, env=scene.env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    assert installed(scene.venv) == {"keep": "1.0", "alpha": "2.0"}
    assert (_site(scene.venv) / "alpha" / "x" / "__init__.py").is_file()


@pytest.mark.parametrize("mode", ["auto", "copy"])
def test_a_tampered_unpacked_manifest_is_not_trusted(scene: Scene, mode: str) -> None:
    """A manifest entry (read back from the cache) naming ``../`` makes the tree untrusted: it is unpacked
    again from the verified zip, and the install lands where the wheel says."""
    import json

    wheel = build_wheel(scene.tmp / "honest", "alpha", "1.0")
    other = make_venv(scene.tmp / "other")
    project = write_project(scene.tmp / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    proc = run_cli("--project", project, "--venv", other, "--offline", "--find-links", wheel.parent, env=scene.env)
    assert proc.returncode == 0, proc.stderr
    (tree,) = [t for t in (scene.cache / "v1" / "unpacked").iterdir() if "alpha" in (t / "manifest.json").read_text()]
    manifest = json.loads((tree / "manifest.json").read_text())
    target = next(f for f in manifest["files"] if f[0] == "alpha/__init__.py")
    target[2] = "../" * 6 + "sibling/victim"
    (tree / "manifest.json").write_text(json.dumps(manifest))
    sibling = snapshot_tree(scene.sibling)
    proc = run_cli(
        "--project", project, "--venv", scene.venv, "--offline", "--find-links", wheel.parent, "--link-mode", mode,
        env=scene.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert snapshot_tree(scene.sibling) == sibling
    assert installed(scene.venv) == {"keep": "1.0", "alpha": "1.0"}
    assert (_site(scene.venv) / "alpha" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    assert "sibling/victim" not in (tree / "manifest.json").read_text()  # made again from the zip
