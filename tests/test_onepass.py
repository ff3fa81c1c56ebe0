"""One pass per byte: a wheel is checked against RECORD while it is unpacked into the store, right after its
download, and preflight reads the tree's verdict instead of opening the zip again (issue 16, item 4).

The RECORD rules are ``installer``'s ``validate_record``, now enforced by the unpacking: each case below is
refused before any change and leaves no tree behind; where no tree is made, installer refuses the same wheels.
"""

from __future__ import annotations

import os
import re
import threading
import zipfile
from pathlib import Path

import pytest

from pipenv_sync_ext.errors import InstallError
from pipenv_sync_ext.feedback import Transfer
from pipenv_sync_ext.install import preflight
from pipenv_sync_ext.lock.model import LockedPackage, Source
from pipenv_sync_ext.store import unpacked
from pipenv_sync_ext.store.cas import LocalArtifact, Store
from pipenv_sync_ext.store.findlinks import FindLinks
from pipenv_sync_ext.store.gather import gather
from pipenv_sync_ext.store.index import IndexClient, RemoteFile

from .support import (
    Index,
    build_wheel,
    cli_env,
    error_text,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    sha256_file,
    snapshot_tree,
    write_project,
)
from .test_hostile_wheels import MODES, Scene, _hash, craft
from .test_hostile_wheels import scene as scene  # the fixture

DI = "alpha-1.0.dist-info"
META = b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n"
WHEEL = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
BODY = b"x = 1\n"
OTHER = b"x = 2\n"


def _record(*rows: str, hashed_self: bool = False) -> bytes:
    """RECORD with METADATA's and WHEEL's true rows, ``rows``, and itself (with a hash when ``hashed_self``)."""
    base = [f"{DI}/METADATA,{_hash(META)},{len(META)}", f"{DI}/WHEEL,{_hash(WHEEL)},{len(WHEEL)}"]
    own = f"{DI}/RECORD,{_hash(b'')},0" if hashed_self else f"{DI}/RECORD,,"
    return ("\n".join([*base, *rows, own]) + "\n").encode()


TRUE_ROW = f"alpha/__init__.py,{_hash(BODY)},6"
PYC = "alpha/__pycache__/__init__.cpython-311.pyc"
CASES: dict[str, tuple[dict[str, bytes], str, str]] = {
    # name: (members besides METADATA and WHEEL, our message, installer's for the same wheel)
    "a member RECORD does not list": (
        {"alpha/__init__.py": BODY, "alpha/extra.py": b"", f"{DI}/RECORD": _record(TRUE_ROW)},
        "alpha/extra.py is not listed in RECORD",
        "alpha/extra.py is not mentioned in RECORD",
    ),
    "a member whose bytes are not RECORD's": (
        {"alpha/__init__.py": BODY, f"{DI}/RECORD": _record(f"alpha/__init__.py,{_hash(OTHER)},6")},
        "alpha/__init__.py does not match the hash its RECORD gives",
        "hash / size of alpha/__init__.py didn't match RECORD",
    ),
    "a member whose size is not RECORD's": (
        {"alpha/__init__.py": BODY, f"{DI}/RECORD": _record(f"alpha/__init__.py,{_hash(BODY)},7")},
        "alpha/__init__.py does not match the hash its RECORD gives",
        "hash / size of alpha/__init__.py didn't match RECORD",
    ),
    "a RECORD row without a hash": (
        {"alpha/__init__.py": BODY, f"{DI}/RECORD": _record("alpha/__init__.py,,6")},
        "RECORD gives no hash or no size for alpha/__init__.py",
        "hash / size of alpha/__init__.py is not included in RECORD",
    ),
    "a RECORD row with an unknown algorithm": (
        {"alpha/__init__.py": BODY, f"{DI}/RECORD": _record("alpha/__init__.py,rot13=abc,6")},
        "RECORD's hash for alpha/__init__.py is not '<algorithm>=<digest>'",
        "invalid hash algorithm 'rot13'",
    ),
    "a __pycache__ member (never installed) whose bytes are not RECORD's": (
        {"alpha/__init__.py": BODY, PYC: b"forged", f"{DI}/RECORD": _record(TRUE_ROW, f"{PYC},{_hash(b'honest')},6")},
        f"{PYC} does not match the hash its RECORD gives",
        f"hash / size of {PYC} didn't match RECORD",
    ),
    "a signature RECORD lists": (
        {"alpha/__init__.py": BODY, f"{DI}/RECORD.jws": b"{}", f"{DI}/RECORD": _record(TRUE_ROW, f"{DI}/RECORD.jws,,")},
        f"RECORD lists {DI}/RECORD.jws, a signature of RECORD itself",
        "is incorrectly contained in RECORD",
    ),
    "RECORD with a hash for itself": (
        {"alpha/__init__.py": BODY, f"{DI}/RECORD": _record(TRUE_ROW, hashed_self=True)},
        "RECORD must list itself without a hash or size",
        "RECORD file incorrectly contains hash / size",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_wheel_whose_bytes_are_not_its_record_is_refused_before_any_change(scene: Scene, case: str) -> None:
    members, expected, _installer_words = CASES[case]
    wheel = craft(scene.tmp / "hostile", "alpha-1.0-py3-none-any.whl", members)
    for mode in MODES:
        message = scene.sync_refused(wheel, mode, expected)  # the cache gained only the artifact: no tree
        assert "alpha-1.0-py3-none-any.whl (locked as alpha==1.0)" in message, message
    assert list((scene.cache / "v1" / "tmp").iterdir()) == []  # nothing left half-unpacked


@pytest.mark.parametrize("case", sorted(CASES))
def test_without_a_tree_installer_refuses_the_same_wheels(tmp_path: Path, case: str) -> None:
    """Where no tree is made (no cache given), the zip is judged by installer's validate_record: the same verdict."""
    members, _ours, installer_words = CASES[case]
    wheel = craft(tmp_path / "hostile", "alpha-1.0-py3-none-any.whl", members)
    local = Store(tmp_path / "cache", lambda _line: None).add_copy(wheel, sha256_file(wheel))
    with pytest.raises(InstallError, match=re.escape(installer_words)):
        preflight.check_wheel(local, name="alpha", version="1.0", cache_dir=None)


def test_a_wheel_refused_after_its_download_leaves_no_tree_and_the_venv_unchanged(tmp_path: Path, index: Index) -> None:
    """Checked in the download's pool, refused in plan order with the lock entry; the good wheels' trees stay."""
    good = [build_wheel(tmp_path / "w", f"good{i}", "1.0") for i in range(3)]
    bad = craft(
        tmp_path / "w", "alpha-1.0-py3-none-any.whl",
        {"alpha/__init__.py": BODY, f"{DI}/RECORD": _record(f"alpha/__init__.py,{_hash(OTHER)},6")},
    )  # fmt: skip
    for w in [*good, bad]:
        index.add(w)
    entries = {w.name.split("-")[0]: lock_entry([w], "1.0") for w in [*good, bad]}
    project = write_project(tmp_path / "p", {"default": entries}, index_url=index.url)
    venv = make_venv(tmp_path / "venv")
    before = snapshot_tree(venv)
    proc = run_cli("--project", project, "--venv", venv, env=cli_env(tmp_path))
    assert proc.returncode == 1, proc.stderr
    text = error_text(proc.stderr, hint=False)
    assert "alpha-1.0-py3-none-any.whl (locked as alpha==1.0): alpha/__init__.py does not match" in text, text
    assert "Traceback" not in proc.stderr
    assert snapshot_tree(venv) == before
    trees = tmp_path / "cache" / "v1" / "unpacked"
    made = {p.name for p in trees.iterdir()} if trees.exists() else set()
    assert sha256_file(bad) not in made
    assert list((tmp_path / "cache" / "v1" / "tmp").iterdir()) == []
    assert len(index.downloads) == 4
    proc = run_cli(
        "--project", write_project(tmp_path / "q", {"default": {k: v for k, v in entries.items() if k != "alpha"}},
                                   index_url=index.url),
        "--venv", venv, env=cli_env(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"good0": "1.0", "good1": "1.0", "good2": "1.0"}


class _HeldClient(IndexClient):
    """The real client, except that the download of ``held`` completes only once ``first``'s tree exists:
    it completes only if unpacking overlaps the downloads (else the test fails at the guard, not hangs)."""

    def __init__(self, sources: list[Source], *, held: str, tree: Path) -> None:
        super().__init__(sources, lambda _line: None)
        self.held = held
        self.tree = tree
        self.seen_before_release = threading.Event()

    def download(self, remote: RemoteFile, store: Store, transfer: Transfer | None = None) -> LocalArtifact:
        local = super().download(remote, store, transfer)
        if remote.artifact.filename == self.held:
            for _ in range(6000):  # a guard against hanging forever, not a timing threshold
                if (self.tree / "manifest.json").exists():
                    self.seen_before_release.set()
                    break
                threading.Event().wait(0.01)
        return local


def test_a_wheel_is_unpacked_while_other_downloads_are_still_running(tmp_path: Path, index: Index) -> None:
    first = build_wheel(tmp_path / "w", "first", "1.0", files={"first/__init__.py": os.urandom(2000).hex().encode()})
    held = build_wheel(tmp_path / "w", "held", "1.0")
    for w in (first, held):
        index.add(w)
    cache = tmp_path / "cache"
    client = _HeldClient(
        [Source("test", index.url)], held=held.name, tree=unpacked.unpacked_root(cache) / sha256_file(first)
    )
    packages = [LockedPackage(n, "1.0", frozenset({sha256_file(w)}), "default") for n, w in [("first", first)]]
    packages.append(LockedPackage("held", "1.0", frozenset({sha256_file(held)}), "default"))
    found = gather(
        packages=packages,
        tag_rank={"py3-none-any": 0},
        store=Store(cache, lambda _line: None),
        find_links=FindLinks([], lambda _line: None),
        client=client,
        log=lambda _line: None,
        workers=2,
        unpack=True,
    )
    assert client.seen_before_release.is_set()  # first's tree was complete while held's download was running
    tree = unpacked.verified(found["first"], cache, name="first", version="1.0")
    assert {m.path for m in tree.files} >= {"first/__init__.py", "first-1.0.dist-info/METADATA"}


def test_each_member_is_inflated_once_from_download_to_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Preflight reads the tree's verdict; the pool made the tree: every member of the zip is opened once."""
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0", files={f"alpha/m{i}.py": b"x = 1\n" for i in range(20)})
    cache = tmp_path / "cache"
    store = Store(cache, lambda _line: None)
    local = store.add_copy(wheel, sha256_file(wheel))
    local = LocalArtifact(local.artifact, local.path, locked=("alpha", "1.0"))
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def counting(self: zipfile.ZipFile, name: str | zipfile.ZipInfo, *args: object, **kwargs: object) -> object:
        opened.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "open", counting)
    unpacked.start(local, cache, name="alpha", version="1.0")
    preflight.check_wheel(local, name="alpha", version="1.0", cache_dir=cache)
    trees = unpacked.prepare_all([local], cache, deep=False, warn=lambda _line: None)
    with zipfile.ZipFile(wheel) as zf:
        members = [i.filename for i in zf.infolist() if not i.filename.endswith("/")]
    assert trees[0] is not None and len(trees[0].files) == len(members) - 1  # all but RECORD
    assert sorted(opened) == sorted(members)  # each once: METADATA, WHEEL and RECORD included
