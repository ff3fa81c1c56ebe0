"""pip's HTTP cache (and pipenv's, which is pip's cache under PIPENV_CACHE_DIR) as a source.

The caches are filled by a real pip against the loopback index: the pip of the
environment running the tests (``http-v2/`` from pip 23.3 on, ``http/``
before) and the pip that pipenv vendors (``http-v2/``), run the way pipenv runs it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipenv_sync_ext.lock.model import LockedPackage
from pipenv_sync_ext.store.cas import Store
from pipenv_sync_ext.store.pipcache import PipCache, _name_from_wheel
from pipenv_sync_ext.store.pipconfig import config_files, find_links_dirs, http_cache_dirs, pip_cache_dir

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, sha256_file, write_project

PYPI_CACHE_HEADERS = {"Cache-Control": "max-age=365000000, immutable, public"}  # as files.pythonhosted.org sends


def _pipenv_pip() -> list[str]:
    from pipenv.patched.pip._internal.utils.misc import get_runnable_pip

    return [sys.executable, get_runnable_pip()]


PIPS = {"pip": [sys.executable, "-m", "pip"], "pipenv's pip": _pipenv_pip()}


def pip_download(pip: list[str], index: Index, cache: Path, dest: Path, requirement: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PIPENV"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    # pip caches plain-http responses only from a trusted host (https ones always)
    host = index.url.split("/")[2]
    proc = subprocess.run(
        [*pip, "download", "--no-deps", "--index-url", index.url, "--trusted-host", host,
         "--cache-dir", str(cache), "-d", str(dest), requirement],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    isolated = {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_CACHE_DIR": str(tmp / "no-pip-cache"),
        "PIPENV_CACHE_DIR": str(tmp / "no-pipenv-cache"),
    }
    return cli_env(tmp, **{**isolated, **extra})


@pytest.mark.parametrize("which", sorted(PIPS))
def test_offline_sync_right_after_a_real_pip_download(tmp_path: Path, index: Index, which: str) -> None:
    """No store, no --find-links, no earlier online run: the wheel comes from pip's cache."""
    alpha = build_wheel(tmp_path / "w", "alpha", "1.0")
    index.add(alpha)
    index.file_headers = dict(PYPI_CACHE_HEADERS)
    cache = tmp_path / "pipcache"
    pip_download(PIPS[which], index, cache, tmp_path / "dl", "alpha==1.0")
    bodies = list(cache.glob("http-v2/**/*.body")) + list(cache.glob("http/?/?/?/?/?/*"))
    assert bodies, "pip cached nothing"
    if which == "pipenv's pip":
        assert list(cache.glob("http-v2/**/*.body"))

    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([alpha], "1.0")}}, index_url=index.url)
    index.requests.clear()
    # pipenv runs pip with PIPENV_CACHE_DIR as pip's cache: a `pipenv install` fills that one
    var = "PIPENV_CACHE_DIR" if which == "pipenv's pip" else "PIP_CACHE_DIR"
    env = _env(tmp_path, **{var: str(cache)})
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--offline", "--prune", env=env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "v") == {"alpha": "1.0"}
    assert index.requests == []
    # copied into the store, under the wheel's own name: the next run needs no pip cache
    stored = list((tmp_path / "cache" / "v1" / "artifacts").rglob("*.whl"))
    assert [p.name for p in stored] == [alpha.name]
    assert sha256_file(stored[0]) == sha256_file(alpha)

    # --no-pip-cache: a fresh store, and the same offline sync has nothing to install from
    other = _env(tmp_path / "other", **{var: str(cache)})
    proc = run_cli("--project", project, "--venv", tmp_path / "v2", "--offline", "--no-pip-cache", env=other)
    assert proc.returncode == 4, proc.stderr


def test_the_cache_is_read_once_then_only_stat_ed(tmp_path: Path, index: Index) -> None:
    alpha = build_wheel(tmp_path / "w", "alpha", "1.0")
    beta = build_wheel(tmp_path / "w", "beta", "2.0")
    for wheel in (alpha, beta):
        index.add(wheel)
    index.file_headers = dict(PYPI_CACHE_HEADERS)
    cache = tmp_path / "pipcache"
    pip_download(PIPS["pipenv's pip"], index, cache, tmp_path / "dl", "alpha==1.0")
    pip_download(PIPS["pipenv's pip"], index, cache, tmp_path / "dl", "beta==2.0")
    package = LockedPackage("alpha", "1.0", frozenset({sha256_file(alpha)}), "default")
    index_file = tmp_path / "store" / "v1" / "pip-cache-index.json"

    first = PipCache([cache], index_file, pytest.fail)
    store = Store(tmp_path / "store", pytest.fail)
    assert first.import_into(store, package) == 1
    assert first.read == 3  # two bodies opened (which wheel is each?), one hashed (the version the lock pins)
    assert store.get(sha256_file(alpha)) is not None

    store.evict(sha256_file(alpha))
    second = PipCache([cache], index_file, pytest.fail)
    assert second.import_into(store, package) == 1
    assert second.read == 0  # the index answered: nothing was opened or hashed again
    # a hash the lock does not allow is never copied
    wrong = LockedPackage("beta", "2.0", frozenset({"0" * 64}), "default")
    assert second.import_into(store, wrong) == 0 and second.read == 1


def test_fetch_reports_the_pip_cache_as_the_origin(tmp_path: Path, index: Index) -> None:
    alpha = build_wheel(tmp_path / "w", "alpha", "1.0")
    index.add(alpha)
    index.file_headers = dict(PYPI_CACHE_HEADERS)
    cache = tmp_path / "pipcache"
    pip_download(PIPS["pipenv's pip"], index, cache, tmp_path / "dl", "alpha==1.0")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([alpha], "1.0")}}, index_url=index.url)
    index.requests.clear()
    proc = run_cli("fetch", "--project", project, "--python-version", "3.12", "--platform", "manylinux_2_17_x86_64",
                   env=_env(tmp_path, PIP_CACHE_DIR=str(cache)))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1 from pip's cache" in proc.stdout
    assert index.requests == []  # online, yet nothing asked: pip's cache had it


def _rezip(entries: dict[str, bytes]) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for member, data in entries.items():
            zf.writestr(member, data)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))


def test_file_name_is_rebuilt_from_the_wheels_own_dist_info(tmp_path: Path) -> None:
    multi = build_wheel(tmp_path, "Native.Pkg", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    with zipfile.ZipFile(multi) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    wheel_file = next(n for n in entries if n.endswith("/WHEEL"))
    entries[wheel_file] += b"Tag: cp312-cp312-manylinux2014_x86_64\nBuild: 7\n"
    expected = "native_pkg-1.0-7-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert _name_from_wheel(_rezip(entries)) == expected
    # tags that are not "every combination" cannot be one file name: not used
    entries[wheel_file] = b"Wheel-Version: 1.0\nTag: cp312-cp312-linux_x86_64\nTag: py3-none-any\n"
    assert _name_from_wheel(_rezip(entries)) is None


def test_pip_configuration_files_and_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    user = home / ".config" / "pip" / "pip.conf"
    user.parent.mkdir(parents=True)
    user.write_text(
        "[global]\nfind-links = /from/global/section\ncache-dir = ~/pc\n[install]\nfind-links = a file:///b\n"
    )
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "xdg")}
    assert config_files(env)[-1] == user
    assert find_links_dirs(env) == [Path("a"), Path("/b")]  # [install] wins over [global]
    assert pip_cache_dir(env) == home / "pc"
    assert find_links_dirs({**env, "PIP_FIND_LINKS": "/x https://host/links /y"}) == [Path("/x"), Path("/y")]
    assert config_files({**env, "PIP_CONFIG_FILE": os.devnull}) == []
    assert find_links_dirs({**env, "PIP_CONFIG_FILE": os.devnull}) == []
    # an existing PIP_CONFIG_FILE replaces the user's files (pip's rule) and comes last
    own = tmp_path / "own.conf"
    own.write_text("[global]\nfind-links = /own\n")
    assert config_files({**env, "PIP_CONFIG_FILE": str(own)})[-1] == own
    assert user not in config_files({**env, "PIP_CONFIG_FILE": str(own)})
    # pipenv's cache is searched after pip's
    roots = http_cache_dirs({**env, "PIP_CACHE_DIR": "/p", "PIPENV_CACHE_DIR": "/q"})
    assert roots == [Path("/p"), Path("/q")]
    assert http_cache_dirs({"HOME": str(home), "PIP_CONFIG_FILE": os.devnull}) == [
        home / ".cache" / "pip",
        home / ".cache" / "pipenv",
    ]
