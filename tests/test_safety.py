"""What the tool refuses to do: write outside the venv, install the wrong bytes, leak credentials."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipenv_sync_ext.store.listing import parse_listing as _parse_listing

from .support import (
    Index,
    build_wheel,
    cli_env,
    error_text,
    fake_dist,
    installed,
    lock_entry,
    make_venv,
    run_cli,
    snapshot,
    write_project,
)


def _site(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


def test_refuses_a_target_that_is_not_a_virtualenv(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}})
    env = cli_env(tmp_path)
    # An interpreter without pyvenv.cfg: syncing (let alone pruning) it could touch a system Python.
    fake = tmp_path / "not-a-venv"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "python").symlink_to(sys.executable)
    before = snapshot(fake)
    proc = run_cli("--project", project, "--venv", fake, "--prune", "--offline", "--find-links", wheel.parent, env=env)
    assert proc.returncode == 1 and "not a virtualenv (no pyvenv.cfg)" in proc.stderr, proc.stderr
    assert snapshot(fake) == before
    # A regular file where the venv should be.
    regular = tmp_path / "file"
    regular.write_text("x")
    proc = run_cli("--project", project, "--venv", regular, "--offline", env=env)
    assert proc.returncode == 1 and "is not a directory; not a virtualenv" in proc.stderr
    assert regular.read_text() == "x"


def test_removal_never_follows_a_symlinked_directory_out_of_the_venv(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"default": {}})
    venv = make_venv(tmp_path / "venv")
    site = _site(venv)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("precious")
    (site / "linked").symlink_to(outside, target_is_directory=True)
    fake_dist(site, "linker", "1.0", {"linked/victim.txt": "", "linker.py": ""})
    proc = run_cli("--project", project, "--venv", venv, "--prune", "--offline", env=cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (outside / "victim.txt").read_text() == "precious"
    assert "linked/victim.txt, outside the venv; not removed" in proc.stderr
    assert installed(venv) == {} and not (site / "linker.py").exists()


def _rewrite(wheel: Path, dest: Path, name: str, replace: dict[str, bytes]) -> Path:
    """A copy of ``wheel`` under another file name with some members replaced."""
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, replace.get(item.filename, src.read(item)))
    return out


def test_a_wheel_the_lock_allows_for_another_name_or_format_is_refused_before_any_change(tmp_path: Path) -> None:
    wh = tmp_path / "w"
    extra = build_wheel(wh, "extra", "1.0")
    beta = build_wheel(tmp_path / "src", "beta", "1.0")
    # The lock allows, for "alpha", the hash of a file that is really a wheel of beta.
    impostor = _rewrite(beta, wh, "alpha-1.0-py3-none-any.whl", {})
    future = _rewrite(
        build_wheel(tmp_path / "src", "gamma", "1.0"),
        wh,
        "gamma-1.0-py3-none-any.whl",
        {"gamma-1.0.dist-info/WHEEL": b"Wheel-Version: 2.0\nGenerator: x\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
    )
    env = cli_env(tmp_path)
    venv = make_venv(tmp_path / "venv")
    seed = write_project(tmp_path / "seed", {"default": {"extra": lock_entry([extra], "1.0")}})
    assert run_cli("--project", seed, "--venv", venv, "--offline", "--find-links", wh, env=env).returncode == 0
    before = snapshot(venv)
    for name, wheel, expected in (
        ("alpha", impostor, "is a wheel of 'beta', not of 'alpha'"),
        ("gamma", future, "unsupported Wheel-Version '2.0'"),
    ):
        project = write_project(tmp_path / f"p-{name}", {"default": {name: lock_entry([wheel], "1.0")}})
        proc = run_cli("--project", project, "--venv", venv, "--prune", "--offline", "--find-links", wh, env=env)
        assert proc.returncode == 1, proc.stderr
        assert (
            expected in proc.stderr
            and len([x for x in proc.stderr.strip().splitlines() if not x.startswith("hint:")]) == 1
        ), proc.stderr
        assert snapshot(venv) == before  # extra not pruned, nothing installed
    assert installed(venv) == {"extra": "1.0"}


def test_a_marker_that_cannot_be_evaluated_names_the_entry(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(
        tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0", markers="os_name ~= 'posix'")}}
    )
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--offline", env=cli_env(tmp_path))
    assert proc.returncode == 1
    text = error_text(proc.stderr)
    assert "[default] alpha: markers \"os_name ~= 'posix'\" cannot be evaluated" in text and "hint: " in text
    assert not (tmp_path / "v").exists()


def test_credentials_do_not_follow_a_redirect_to_another_host(tmp_path: Path, index: Index) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    index.add(wheel)
    port = index.url.split(":")[2].split("/")[0]
    index.redirect_files_to = f"localhost:{port}"  # same server, another host: a CDN, say
    url = index.url.replace("http://", "http://user:${INDEX_TOKEN}@")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=url)
    proc = run_cli(
        "--project", project, "--venv", tmp_path / "v", "--json", env=cli_env(tmp_path, INDEX_TOKEN="s3cr3t")
    )
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v") == {"alpha": "1.0"}
    pages = [auth for path, auth in index.auth_seen if path.startswith("/simple/")]
    files = [auth for path, auth in index.auth_seen if path.startswith("/files/")]
    # the listing and the status page (issue 17), both with the credentials
    assert pages and all(auth is not None and auth.startswith("Basic ") for auth in pages), index.auth_seen
    # the file at 127.0.0.1 with them (it answers 302), then at localhost without
    assert len(files) == 2 and files[0] is not None and files[1] is None, index.auth_seen
    assert "s3cr3t" not in proc.stdout + proc.stderr


def test_index_pages_cannot_point_at_local_files_and_bad_pages_are_errors() -> None:
    digest = "a" * 64
    html = f'<a href="file:///etc/passwd#sha256={digest}">x.whl</a><a href="/f/y.whl#sha256={digest}">y</a>'.encode()
    listed = _parse_listing(html, "text/html", "https://example.org/simple/x/")
    assert [f[1] for f in listed] == ["https://example.org/f/y.whl"]
    # a file:// index the user configured may list its own files
    local = _parse_listing(b'<a href="x.whl#sha256=' + digest.encode() + b'">x</a>', "text/html", "file:///wh/x/")
    assert [f[1] for f in local] == ["file:///wh/x/x.whl"]


def test_malformed_simple_api_page_is_a_one_line_error(tmp_path: Path, index: Index) -> None:
    wheel = build_wheel(tmp_path / "w", "alpha", "1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=index.url)
    for ctype, body in (("application/vnd.pypi.simple.v1+json", b"[1, 2]"), ("application/json", b"{not json")):
        index.raw_pages["alpha"] = (ctype, body)
        proc = run_cli("--project", project, "--venv", tmp_path / "v", env=cli_env(tmp_path))
        assert proc.returncode == 4, proc.stderr
        assert "[default] alpha==1.0: index unreachable:" in proc.stderr
        assert "not a valid simple-API page" in proc.stderr and "Traceback" not in proc.stderr
        assert "hint: " in error_text(proc.stderr)
        assert not (tmp_path / "v").exists()


def test_find_links_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"default": {}})
    proc = run_cli(
        "--project", project, "--venv", tmp_path / "v", "--find-links", tmp_path / "nope", env=cli_env(tmp_path)
    )
    assert proc.returncode == 1 and f"--find-links {tmp_path / 'nope'}: no such directory" in proc.stderr
    assert not (tmp_path / "v").exists()


def test_a_dot_venv_file_that_is_not_text_is_a_clean_error(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"default": {}})
    (project / ".venv").write_bytes(b"\xff\xfe\x00bad")
    proc = run_cli("--project", project, env=cli_env(tmp_path))
    assert proc.returncode == 1 and ".venv: cannot read the venv name it holds: not UTF-8 text" in proc.stderr


def test_pruning_the_venv_the_tool_runs_in_keeps_the_tool(tmp_path: Path) -> None:
    """Run the tool from inside the target venv: its own distribution and what it needs survive."""
    project = write_project(tmp_path / "p", {"default": {}})
    venv = make_venv(tmp_path / "venv")
    site = _site(venv)
    fake_dist(site, "pipenv_sync_ext", "0.1.0", {"pse_marker.py": ""}, requires=("helperlib>=1",))
    fake_dist(site, "helperlib", "1.0", {"helperlib.py": ""})
    fake_dist(site, "stray", "1.0", {"stray.py": ""})
    # The real code comes from this checkout and the dev environment, sys.prefix is the target venv.
    import packaging

    paths = [str(Path(__file__).parent.parent), str(Path(packaging.__file__).parent.parent)]
    env = cli_env(tmp_path, PYTHONPATH=os.pathsep.join(paths))
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pipenv_sync_ext", "--project", project, "--venv", venv, "--prune"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert installed(venv) == {"pipenv-sync-ext": "0.1.0", "helperlib": "1.0"}


def test_a_write_ahead_record_is_never_split_and_acts_only_with_the_journals_token(tmp_path: Path) -> None:
    from pipenv_sync_ext.install import writeahead

    venv = tmp_path / "venv"
    bin_dir, site = venv / "bin", venv / "lib" / "site-packages"
    bin_dir.mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    # An entry-point name that, split at U+2028, would read back as the old format's "N<TAB>/outside" row.
    forged = f"{bin_dir}/tool\u2028N\t{outside}"
    written = bin_dir / "written"
    staged = site / "x-1.0.dist-info.pipenv-sync-partial"
    staged.mkdir(parents=True)
    writeahead.append(staged, [(False, forged), (False, str(written)), (False, str(outside))])
    raw = (staged / writeahead.MANIFEST).read_bytes()
    assert "\u2028".encode() not in raw and len(raw.split(b"\n")) == 5  # header, 3 entries, final newline
    token, entries = writeahead.read(staged)
    assert token == writeahead.current_token() and [p for _e, p in entries] == [forged, str(written), str(outside)]
    written.write_text("")
    # Another token (a list shipped in a wheel, or a stale one): not acted on at all.
    assert not writeahead.undo_partial(staged, {bin_dir, site}, root=venv, token="f" * 32)
    assert written.exists() and staged.exists()
    # Its own: the venv's file goes, the path outside and the forged name are refused by confine.
    assert writeahead.undo_partial(staged, {bin_dir, site}, root=venv)
    assert not written.exists() and not staged.exists() and outside.read_text() == "keep"


def _mount(kind: str, where: Path, backing: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    if kind == "bind":
        command = ["mount", "--bind", str(backing), str(where)]
    else:  # "tmpfs" or "tmpfs-<size>"
        size = kind.partition("-")[2] or "64m"
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]
    return subprocess.run(command, capture_output=True).returncode == 0


@pytest.mark.parametrize("kind", ["bind", "tmpfs"])
def test_a_venv_that_is_a_mount_point_is_created_and_rebuilt_in_place(tmp_path: Path, kind: str) -> None:
    wheel = build_wheel(tmp_path / "w", "small", "1.0", files={"small/__init__.py": b"S = 1\n"})
    project = write_project(tmp_path / "p", {"default": {"small": lock_entry([wheel], "1.0")}})
    parent = tmp_path / "parent"
    venv = parent / "venv"
    venv.mkdir(parents=True)
    backing = tmp_path / "volume"
    backing.mkdir()
    if not _mount(kind, venv, backing):
        pytest.skip(f"cannot make a {kind} mount here (needs root)")
    try:
        env = cli_env(tmp_path)
        args = ("--project", project, "--venv", venv, "--offline", "--find-links", tmp_path / "w")
        for extra in ((), ("--rebuild",)):
            proc = run_cli(*args, *extra, env=env)
            assert proc.returncode == 0, proc.stderr
            assert installed(venv) == {"small": "1.0"}
            assert os.listdir(parent) == ["venv"]  # nothing beside it
            assert not [n for n in os.listdir(venv) if n.startswith((".pipenv-sync-new-", ".pipenv-sync-old-"))]
            assert subprocess.run([venv / "bin" / "python", "-c", "import small"]).returncode == 0
            assert run_cli(*args, "--verify", env=env).returncode == 0
        assert str(venv) in Path("/proc/self/mountinfo").read_text()  # still the mount point
        # A swap of contents cut short: the old entries half moved into our trash, no pyvenv.cfg.
        trash = venv / ".pipenv-sync-old-cut"
        trash.mkdir()
        for name in ("pyvenv.cfg", "lib"):
            (venv / name).rename(trash / name)
        resumed = run_cli(*args, env=env)
        assert resumed.returncode == 0, resumed.stderr
        assert "interrupted while its contents were swapped" in resumed.stderr
        assert installed(venv) == {"small": "1.0"} and not trash.exists()
        assert run_cli(*args, "--verify", env=env).returncode == 0
        if kind == "bind":
            assert (backing / "pyvenv.cfg").exists()  # built on the volume, not shadowed beside it
    finally:
        subprocess.run(["umount", str(venv)], check=True)


def test_a_full_disk_is_not_retried_and_says_what_to_free(tmp_path: Path, index: Index) -> None:
    payload = os.urandom(3 << 20)  # incompressible: the wheel stays 3 MiB
    wheel = build_wheel(tmp_path / "w", "heavy", "1.0", files={"heavy/__init__.py": b"", "heavy/blob.bin": payload})
    index.add(wheel)
    project = write_project(tmp_path / "p", {"default": {"heavy": lock_entry([wheel], "1.0")}}, index_url=index.url)
    cache = tmp_path / "cache"
    cache.mkdir()
    if not _mount("tmpfs-1m", cache, cache):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        venv = make_venv(tmp_path / "venv")
        before = snapshot(venv)
        proc = run_cli("--project", project, "--venv", venv, env=cli_env(tmp_path, PIPENV_SYNC_CACHE_DIR=str(cache)))
        assert proc.returncode != 0
        assert "No space left on device" in proc.stderr and "free space" in proc.stderr, proc.stderr
        assert "retrying" not in proc.stderr and "Traceback" not in proc.stderr
        assert sum(1 for r in index.requests if r.startswith("/files/")) == 1  # one attempt, not three
        assert snapshot(venv) == before
    finally:
        subprocess.run(["umount", str(cache)], check=True)


def test_a_full_venv_disk_is_a_clean_failure_that_leaves_no_journal(tmp_path: Path) -> None:
    small = build_wheel(tmp_path / "w", "small", "1.0")
    heavy = build_wheel(tmp_path / "w", "heavy", "1.0", files={"heavy/blob.bin": os.urandom(3 << 20)})
    entries = {"small": lock_entry([small], "1.0")}
    before_project = write_project(tmp_path / "p1", {"default": entries})
    project = write_project(tmp_path / "p2", {"default": {**entries, "heavy": lock_entry([heavy], "1.0")}})
    parent = tmp_path / "volume"
    parent.mkdir()
    if not _mount("tmpfs-1m", parent, parent):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        venv = make_venv(parent / "venv")
        env = cli_env(tmp_path)
        common = ("--venv", venv, "--offline", "--find-links", tmp_path / "w")
        assert run_cli("--project", before_project, *common, env=env).returncode == 0
        failed = run_cli("--project", project, *common, env=env)
        assert failed.returncode != 0
        assert "No space left on device" in failed.stderr and "Traceback" not in failed.stderr, failed.stderr
        assert len([x for x in failed.stderr.strip().splitlines() if not x.startswith("hint:")]) == 1, failed.stderr
        assert not (venv / ".pipenv-sync-journal.json").exists()
        assert not list(_site(venv).glob("*.pipenv-sync-partial")) and not (_site(venv) / "heavy").exists()
        check = run_cli("--project", project, *common, "--check", env=env)
        assert check.returncode == 5 and "interrupted" not in check.stdout + check.stderr
        assert installed(venv) == {"small": "1.0"}
    finally:
        subprocess.run(["umount", str(parent)], check=True)


def test_a_directory_rename_refused_with_ebusy_falls_back_to_moving_the_contents(tmp_path: Path) -> None:
    from pipenv_sync_ext.target.venv import swap_in

    parent = tmp_path / "parent"
    final = parent / "venv"
    final.mkdir(parents=True)
    backing = tmp_path / "volume"
    backing.mkdir()
    if not _mount("bind", final, backing):
        pytest.skip("cannot make a bind mount here (needs root)")
    try:
        (final / "pyvenv.cfg").write_text("old")
        (final / "old.txt").write_text("old")
        staging = parent / ".venv.pipenv-sync-new-test"  # beside, as if the mount had not been detected
        (staging / "lib").mkdir(parents=True)
        (staging / "lib" / "f.py").write_text("new")
        (staging / "pyvenv.cfg").write_text("new")
        swap_in(staging, final)  # renaming a mount point fails with EBUSY: its contents are moved instead
        assert (final / "pyvenv.cfg").read_text() == "new" and (final / "lib" / "f.py").read_text() == "new"
        assert sorted(os.listdir(final)) == ["lib", "pyvenv.cfg"] and os.listdir(parent) == ["venv"]
        assert (backing / "lib" / "f.py").exists()  # on the volume itself
    finally:
        subprocess.run(["umount", str(final)], check=True)
