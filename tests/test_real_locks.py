"""Locks written by the real ``pipenv lock``, synced by this tool and by the real ``pipenv sync``.

Three projects are locked once per module against the loopback index:

* ``main``: packages + dev-packages + two custom categories (``[tests]`` before
  ``[docs]`` in the Pipfile, the reverse of the lock's sorted order), markers, an
  extra with real ``Requires-Dist``, and ``six`` pinned differently in all four
  categories (``use_default_constraints = false`` lets pipenv lock that), plus a
  transitive pin (``beta``) that differs between two of them;
* ``pylock``: ``use_pylock = true``, so pipenv also writes ``pylock.toml`` with PEP
  751 ``dependency_groups`` markers; a copy with only ``pylock.toml`` is what pipenv
  syncs from pylock alone, and pipenv's own converter turns it into Pipfile.lock data;
* ``windows``: a Windows-only shorthand entry, which pipenv locks on Linux as
  ``{"version": "*"}``.

Each selection's venv must hold exactly what pipenv's venv for the same selection
holds (``name==version``, pipenv's seed tools aside).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .pipenvtools import PipenvRun, dists, pipenv_env, pipenv_lock, run_pipenv, wheel
from .support import Index, build_wheel, cli_env, run_cli

MAIN = """\
[[source]]
url = "{url}"
verify_ssl = false
name = "loop"

[packages]
six = "==1.15.0"
alpha = "*"
req = {{version = "*", extras = ["socks"]}}
newpy = {{version = "*", markers = "python_version >= '3.10'"}}

[tests]
six = "==1.14.0"
pytestish = "*"

[dev-packages]
six = "==1.16.0"
devtool = "*"

[docs]
six = "==1.17.0"
sphinxish = "*"

[pipenv]
use_default_constraints = false
"""

# Named "pypi": with use_pylock, pipenv's sync takes its sources from pylock.toml, which has none, so
# pipenv falls back to a source "pypi" at pypi.org (redirected to the index by PIPENV_PYPI_MIRROR);
# an entry locked with "index": "loop" would fail there with "Unable to find loop in sources".
PYLOCK = """\
[[source]]
url = "{url}"
verify_ssl = false
name = "pypi"

[packages]
alpha = "*"

[dev-packages]
devtool = "*"
newpy = {{version = "*", markers = "python_version >= '3.10'"}}

[pipenv]
use_pylock = true
"""

WINDOWS = """\
[[source]]
url = "{url}"
verify_ssl = false
name = "loop"

[packages]
alpha = "*"
pywin32 = {{version = "*", sys_platform = "== 'win32'"}}
"""

# selection id -> (command-line arguments, extra environment), the same for both tools
SELECTIONS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "default": ((), {}),
    "dev": (("--dev",), {}),
    "categories-as-typed": (("--categories", "docs packages"), {}),
    "all": (("--all",), {}),
    "default-categories-env": ((), {"PIPENV_DEFAULT_CATEGORIES": "docs,dev-packages"}),
}


@dataclass
class Locked:
    tmp: Path
    index: Index
    env: dict[str, str]
    main: Path
    orphan: Path  # main's lock, with [docs] gone from the Pipfile
    pylock: Path
    pylock_only: Path  # pylock's pylock.toml (and Pipfile) without Pipfile.lock
    windows: Path
    pipenv: dict[str, PipenvRun]  # what the real `pipenv sync` did, by selection id


def _wheels(dest: Path) -> list[Path]:
    return [
        *(build_wheel(dest, "six", v) for v in ("1.14.0", "1.15.0", "1.16.0", "1.17.0")),
        wheel(dest, "alpha", "1.0", requires=["beta>=1"]),
        build_wheel(dest, "beta", "1.0"),
        build_wheel(dest, "beta", "2.0"),
        wheel(dest, "req", "2.0", requires=["beta", 'pysocks>=1.5; extra == "socks"', 'chardetish; extra == "other"']),
        build_wheel(dest, "pysocks", "1.7.1"),
        build_wheel(dest, "chardetish", "1.0"),
        build_wheel(dest, "newpy", "1.0"),
        build_wheel(dest, "devtool", "0.3"),
        wheel(dest, "pytestish", "7.0", requires=["beta<2"]),
        build_wheel(dest, "sphinxish", "2.0"),
        build_wheel(dest, "pywin32", "306", tag="cp311-cp311-win_amd64"),
    ]


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Locked]:
    tmp = tmp_path_factory.mktemp("real-locks")
    index = Index()
    for w in _wheels(tmp / "wheels"):
        index.add(w)
    index.start()
    env = pipenv_env(tmp)
    projects = {"main": MAIN, "pylock": PYLOCK, "windows": WINDOWS}
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda kv: pipenv_lock(tmp / kv[0], kv[1].format(url=index.url), env=env), projects.items()))

    orphan = tmp / "orphan"
    orphan.mkdir()
    shutil.copy(tmp / "main" / "Pipfile.lock", orphan)
    pipfile = (tmp / "main" / "Pipfile").read_text()
    (orphan / "Pipfile").write_text(pipfile[: pipfile.index("[docs]")] + pipfile[pipfile.index("[pipenv]") :])
    pylock_only = tmp / "pylock-only"
    pylock_only.mkdir()
    for name in ("Pipfile", "pylock.toml"):
        shutil.copy(tmp / "pylock" / name, pylock_only)

    # pipenv reads pylock.toml's sources, and it has none: pypi.org, which the mirror turns into the index
    # (this tool reads the lock's own sources: the index)
    mirror = {**env, "PIPENV_PYPI_MIRROR": index.url}
    jobs: dict[str, tuple[Path, tuple[str, ...], dict[str, str]]] = {
        key: (tmp / "main", args, {**env, **extra}) for key, (args, extra) in SELECTIONS.items()
    }
    jobs["orphan-all"] = (orphan, ("--all",), env)
    jobs["pylock-dev"] = (tmp / "pylock", ("--dev",), mirror)
    jobs["pylock-only-dev"] = (pylock_only, ("--dev",), mirror)
    jobs["windows"] = (tmp / "windows", (), env)
    with ThreadPoolExecutor(2) as pool:
        runs = dict(
            zip(
                jobs,
                pool.map(lambda k: run_pipenv(jobs[k][0], "sync", *jobs[k][1], env=jobs[k][2], venv_name=k), jobs),
                strict=True,
            )
        )
    yield Locked(tmp, index, env, tmp / "main", orphan, tmp / "pylock", pylock_only, tmp / "windows", runs)
    index.stop()


def _ours(locked: Locked, project: Path, key: str, *args: str, **extra: str) -> tuple[set[str], str]:
    venv = locked.tmp / "ours" / key
    proc = run_cli("--project", project, "--venv", venv, *args, env=cli_env(locked.tmp, **extra))
    assert proc.returncode == 0, proc.stderr
    return dists(venv), proc.stderr


@pytest.mark.parametrize("key", list(SELECTIONS))
def test_each_selection_installs_what_pipenv_sync_installs(locked: Locked, key: str) -> None:
    pipenv = locked.pipenv[key]
    assert pipenv.returncode == 0, pipenv.output
    args, extra = SELECTIONS[key]
    ours, stderr = _ours(locked, locked.main, key, *args, **extra)
    assert ours == pipenv.dists()
    if key != "default":
        assert stderr.count("pinned differently in the selected categories, the later category wins") == 1


def test_pipenv_order_decides_the_pins(locked: Locked) -> None:
    """What pipenv installed (and so this tool too): the last category's pins, in pipenv's order."""
    six = {key: next(d for d in locked.pipenv[key].dists() if d.startswith("six==")) for key in SELECTIONS}
    assert six["default"] == "six==1.15.0" and six["dev"] == "six==1.16.0"
    assert six["categories-as-typed"] == "six==1.15.0"  # "docs packages": packages last
    assert six["default-categories-env"] == "six==1.16.0"
    # --all: packages, dev-packages, then [tests] and [docs] as the Pipfile orders them (the lock sorts them)
    assert six["all"] == "six==1.17.0"
    assert {"beta==1.0", "pysocks==1.7.1", "newpy==1.0", "sphinxish==2.0"} <= locked.pipenv["all"].dists()
    assert not any(d.startswith("chardetish") for d in locked.pipenv["all"].dists())
    _ours_all, stderr = _ours(locked, locked.main, "all-warning", "--all")
    assert stderr.count("pinned differently") == 1
    assert "\n  beta [default] 2.0, [tests] 1.0 -> 1.0\n" in stderr  # a line per name under the headline
    assert "\n  six [default] 1.15.0, [develop] 1.16.0, [tests] 1.14.0, [docs] 1.17.0 -> 1.17.0\n" in stderr


def test_all_skips_lock_sections_the_pipfile_no_longer_has(locked: Locked) -> None:
    pipenv = locked.pipenv["orphan-all"]
    assert pipenv.returncode == 0, pipenv.output
    ours, _stderr = _ours(locked, locked.orphan, "orphan-all", "--all")
    assert ours == pipenv.dists()
    assert "six==1.14.0" in ours and not any(d.startswith("sphinxish") for d in ours)


def test_use_pylock_project_syncs_from_pipfile_lock_like_pipenv(locked: Locked) -> None:
    assert "dependency_groups" in (locked.pylock / "pylock.toml").read_text()
    pipenv = locked.pipenv["pylock-dev"]
    assert pipenv.returncode == 0, pipenv.output
    ours, _stderr = _ours(locked, locked.pylock, "pylock-dev", "--dev")
    assert ours == pipenv.dists() == {"alpha==1.0", "beta==2.0", "devtool==0.3", "newpy==1.0"}


def test_lock_data_converted_from_pylock_with_dependency_groups_markers(locked: Locked) -> None:
    """pipenv's own converter (what pipenv syncs when only pylock.toml exists) writes markers like
    ``('dev' in dependency_groups) and (python_version >= '3.10')``: accepted, and evaluated as pipenv does."""
    from pipenv.utils.pylock import PylockFile

    data = PylockFile.from_path(locked.pylock_only / "pylock.toml").convert_to_pipenv_lockfile()
    assert data["develop"]["newpy"]["markers"] == "('dev' in dependency_groups) and (python_version >= '3.10')"
    assert data["develop"]["devtool"]["markers"] == "'dev' in dependency_groups"
    data["_meta"]["sources"] = [{"name": "pypi", "url": locked.index.url, "verify_ssl": False}]
    project = locked.tmp / "converted"
    project.mkdir()
    (project / "Pipfile.lock").write_text(json.dumps(data))
    pipenv = locked.pipenv["pylock-only-dev"]
    assert pipenv.returncode == 0, pipenv.output
    ours, _stderr = _ours(locked, project, "converted-dev", "--dev")
    assert ours == pipenv.dists() == {"alpha==1.0", "beta==2.0", "devtool==0.3", "newpy==1.0"}


def test_windows_only_shorthand_entry_is_skipped_where_pipenv_fails(locked: Locked) -> None:
    """pipenv locks ``{version = "*", sys_platform = "== 'win32'"}`` as ``{"version": "*"}`` on Linux and its
    sync then fails on it; this tool takes the marker back from the Pipfile and skips the entry, also under
    ``--deploy`` (no "incomplete for this platform": no re-lock on Linux could change that lock)."""
    lock = json.loads((locked.windows / "Pipfile.lock").read_text())
    assert lock["default"]["pywin32"] == {"version": "*"}
    pipenv = locked.pipenv["windows"]
    assert pipenv.returncode != 0 and "No matching distribution found for pywin32" in pipenv.output
    venv = locked.tmp / "ours" / "windows"
    proc = run_cli("--project", locked.windows, "--venv", venv, "--deploy", "--json", env=cli_env(locked.tmp))
    assert proc.returncode == 0, proc.stderr
    assert "incomplete" not in proc.stderr
    skipped = json.loads(proc.stdout)["skipped"]
    assert [(s["name"], s["reason"]) for s in skipped] == [
        ("pywin32", "markers false for this interpreter: sys_platform == 'win32'")
    ]
    assert dists(venv) == pipenv.dists() == {"alpha==1.0", "beta==2.0"}
