"""Red team: hostile mirrors and pages (``--find-links URL``), against the real CLI on loopback servers."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipenv_sync_ext.store.wheeltags import tags_problem

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, sha256_file, write_project


def test_a_page_that_names_another_platforms_wheel_as_pure_python_is_refused(tmp_path: Path) -> None:
    # A lock made on every platform allows the Windows wheel; a page lists its bytes as py3-none-any.
    windows = build_wheel(
        tmp_path / "wheels", "alpha", "1.0", tag="cp311-cp311-win_amd64", files={"alpha/_native.pyd": b"MZ"}
    )
    project = write_project(tmp_path / "proj", {"default": {"alpha": lock_entry([windows], "1.0")}})
    disguised = tmp_path / "served" / "alpha-1.0-py3-none-any.whl"
    disguised.parent.mkdir()
    shutil.copyfile(windows, disguised)
    mirror = Index().start()
    try:
        mirror.add(disguised)
        link = f'<a href="../../files/{disguised.name}#sha256={sha256_file(disguised)}">x</a>'
        mirror.raw_pages["links"] = ("text/html", link.encode())
        venv = tmp_path / "venv"
        page = mirror.url + "/links/"
        proc = run_cli("--project", project, "--venv", venv, "--find-links", page, env=cli_env(tmp_path))
    finally:
        mirror.stop()
    assert proc.returncode == 4, proc.stderr
    assert "its WHEEL file says it is for cp311-cp311-win_amd64" in proc.stderr
    assert not venv.exists()
    # nothing was stored under the page's name, so no later sync picks it by that name
    assert not list((tmp_path / "cache").glob("v1/artifacts/*/*/*.whl"))


def test_wheels_whose_names_agree_with_their_wheel_file_are_not_refused(tmp_path: Path) -> None:
    pure = build_wheel(tmp_path / "a", "alpha", "1.0", tag="py2.py3-none-any")
    assert tags_problem(pure, pure.name) is None
    # renamed by hand from linux_x86_64 to manylinux (WHEEL left as it was): real, and installs fine
    linux = build_wheel(tmp_path / "b", "beta", "1.0", tag="cp311-cp311-linux_x86_64")
    assert tags_problem(linux, "beta-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl") is None
    # but not another platform, or another ABI
    assert tags_problem(linux, "beta-1.0-cp311-cp311-win_amd64.whl") is not None
    assert tags_problem(linux, "beta-1.0-py3-none-any.whl") is not None
    assert tags_problem(linux, "beta-1.0-cp311-cp311-manylinux_2_17_aarch64.whl") is not None


def test_a_local_find_links_file_named_for_another_platform_is_refused(tmp_path: Path) -> None:
    """A shared wheelhouse directory holding the lock-allowed Windows wheel's bytes as ``py3-none-any``."""
    windows = build_wheel(
        tmp_path / "built", "alpha", "1.0", tag="cp311-cp311-win_amd64", files={"alpha/_native.pyd": b"MZ"}
    )
    project = write_project(tmp_path / "proj", {"default": {"alpha": lock_entry([windows], "1.0")}})
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copyfile(windows, shared / "alpha-1.0-py3-none-any.whl")
    venv = tmp_path / "venv"
    proc = run_cli("--project", project, "--venv", venv, "--offline", "--find-links", shared, env=cli_env(tmp_path))
    assert proc.returncode != 0, proc.stderr
    assert "its WHEEL file says it is for cp311-cp311-win_amd64" in " ".join(proc.stderr.split())
    assert not list((tmp_path / "cache").glob("v1/artifacts/*/*/*.whl"))
    assert not venv.exists() or installed(venv) == {}
