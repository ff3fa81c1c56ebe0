"""pylock.toml as a lock: which file is chosen, groups, drift, refusals, and ``export --pylock``.

Hand-written locks over real wheels served by the loopback index; the real
CLI in a subprocess; outcomes asserted on the venv, the exit code and the
message. (Locks written by the real producers: tests/test_pylock_producers.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .pipenvtools import dists
from .realtools import must, tool_env, uv_bin
from .support import (
    Index,
    build_wheel,
    cli_env,
    error_text,
    lock_entry,
    make_venv,
    run_cli,
    sha256_file,
    write_project,
)


@dataclass(frozen=True)
class World:
    tmp: Path
    index: Index
    wheels: dict[str, Path]  # "name==version" -> wheel


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("pylock")
    index = Index()
    wheels = {}
    for name, version in (("alpha", "1.0"), ("beta", "1.0"), ("beta", "2.0"), ("gamma", "1.0"), ("docs-tool", "3.0")):
        built = build_wheel(tmp / "wheels", name, version)
        index.add(built)
        wheels[f"{name}=={version}"] = built
    index.start()
    yield World(tmp, index, wheels)
    index.stop()


def package(world: World, pin: str, *, marker: str | None = None, index: bool = True) -> str:
    name, version = pin.split("==")
    w = world.wheels[pin]
    lines = ["[[packages]]", f'name = "{name}"', f'version = "{version}"']
    if marker:
        lines.append(f'marker = "{marker}"')
    if index:
        lines.append(f'index = "{world.index.url}"')
    # a path where no file is: only the index (or the store) can answer
    lines.append(f'wheels = [{{ path = "gone/{w.name}", hashes = {{ sha256 = "{sha256_file(w)}" }} }}]')
    return "\n".join(lines) + "\n"


def pylock(world: World, *packages: str, header: str = "") -> str:
    return f'lock-version = "1.0"\ncreated-by = "test"\n{header}\n' + "\n".join(packages)


def sync(project: Path, venv: Path, tmp: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("--project", project, "--venv", venv, "--prune", *args, env=cli_env(tmp))


def test_groups_map_to_dev_and_categories_and_default_groups(world: World, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pylock.toml").write_text(
        pylock(
            world,
            package(world, "alpha==1.0"),
            package(world, "gamma==1.0", marker="'dev' in dependency_groups"),
            package(world, "docs-tool==3.0", marker="'docs' in dependency_groups and python_version >= '3'"),
            package(world, "beta==1.0", marker="'dev' not in dependency_groups and 'x' not in extras"),
            header='dependency-groups = ["dev", "docs"]\ndefault-groups = []',
        )
    )
    venv = tmp_path / "venv"
    assert sync(project, venv, tmp_path).returncode == 0
    assert dists(venv) == {"alpha==1.0", "beta==1.0"}
    assert sync(project, venv, tmp_path, "--dev").returncode == 0
    # default (alpha, beta) plus the dev group (alpha, gamma): a union of the two selections
    assert dists(venv) == {"alpha==1.0", "beta==1.0", "gamma==1.0"}
    assert sync(project, venv, tmp_path, "--categories", "docs").returncode == 0
    assert dists(venv) == {"alpha==1.0", "beta==1.0", "docs-tool==3.0"}
    bad = sync(project, venv, tmp_path, "--categories", "nope")
    assert bad.returncode == 1 and "no category 'nope'" in bad.stderr
    assert dists(venv) == {"alpha==1.0", "beta==1.0", "docs-tool==3.0"}  # a typo changes nothing


def test_both_formats_disagreeing_install_and_prune_against_one_file(world: World, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "project",
        {"default": {"alpha": lock_entry([world.wheels["alpha==1.0"]], "1.0", index="test")}},
        index_url=world.index.url,
    )
    (project / "pylock.toml").write_text(pylock(world, package(world, "beta==2.0")))
    venv = tmp_path / "venv"
    first = sync(project, venv, tmp_path)
    assert first.returncode == 0, first.stderr
    assert dists(venv) == {"alpha==1.0"}  # Pipfile.lock first, as pipenv installs
    assert "Pipfile.lock and pylock.toml describe different packages" in first.stderr
    assert f"against {project / 'Pipfile.lock'} only" in " ".join(first.stderr.split())  # folded when long
    # switching files but unable to get pylock.toml's artifacts: nothing changes, Pipfile.lock's set stays
    stuck = sync(project, venv, tmp_path, "--lockfile", project / "pylock.toml", "--offline", "--no-pip-cache")
    assert stuck.returncode == 4, stuck.stderr
    assert dists(venv) == {"alpha==1.0"}
    second = sync(project, venv, tmp_path, "--lockfile", project / "pylock.toml")
    assert second.returncode == 0, second.stderr
    assert dists(venv) == {"beta==2.0"}  # installed and pruned against pylock.toml: one set, never neither
    assert "describe different packages" in second.stderr
    # a repeat is the stamp's no-op only for the same file: Pipfile.lock again is a real sync
    third = sync(project, venv, tmp_path)
    assert third.returncode == 0 and dists(venv) == {"alpha==1.0"}


def test_several_named_locks_are_an_error_listing_them(world: World, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pylock.b.toml", "pylock.a.toml"):
        (project / name).write_text(pylock(world, package(world, "alpha==1.0")))
    venv = tmp_path / "venv"
    failed = sync(project, venv, tmp_path)
    assert failed.returncode == 1
    assert "several PEP 751 locks (pylock.a.toml, pylock.b.toml)" in failed.stderr
    assert not venv.exists()
    (project / "pylock.b.toml").unlink()
    assert sync(project, venv, tmp_path).returncode == 0  # the only named lock is chosen
    assert dists(venv) == {"alpha==1.0"}


def test_a_lock_s_own_url_and_path_are_places_to_look(world: World, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "files").mkdir(parents=True)
    local = world.wheels["gamma==1.0"]
    (project / "files" / local.name).write_bytes(local.read_bytes())
    remote = world.wheels["alpha==1.0"]
    (project / "pylock.toml").write_text(
        pylock(world)
        + f'[[packages]]\nname = "alpha"\nversion = "1.0"\nwheels = [{{ url = "{world.index.url[:-7]}/files/'
        f'{remote.name}", hashes = {{ sha256 = "{sha256_file(remote)}" }} }}]\n\n'
        f'[[packages]]\nname = "gamma"\nwheels = [{{ path = "files/{local.name}", '
        f'hashes = {{ sha256 = "{sha256_file(local)}" }} }}]\n'
    )
    venv = tmp_path / "venv"
    done = sync(project, venv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert dists(venv) == {"alpha==1.0", "gamma==1.0"}  # gamma's version from its file name


def test_requires_python_and_environments_are_drift(world: World, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    venv = make_venv(tmp_path / "venv")
    lock = project / "pylock.toml"
    lock.write_text(pylock(world, package(world, "alpha==1.0"), header='requires-python = "<3"'))
    fresh = sync(project, tmp_path / "new-venv", tmp_path)  # a new venv: its base interpreter is checked
    assert fresh.returncode == 1 and "wants requires-python <3, but the interpreter" in fresh.stderr
    assert "_meta.requires" not in fresh.stderr and not (tmp_path / "new-venv").exists()
    failed = sync(project, venv, tmp_path)
    assert failed.returncode == 1
    assert "requires-python <3" in failed.stderr and "--allow-python-drift" in failed.stderr
    lock.write_text(pylock(world, package(world, "alpha==1.0"), header="environments = [\"sys_platform == 'nope'\"]"))
    failed = sync(project, venv, tmp_path)
    assert failed.returncode == 1 and "environments (sys_platform == 'nope')" in failed.stderr
    assert dists(venv) == set()
    assert sync(project, venv, tmp_path, "--allow-python-drift").returncode == 0
    assert dists(venv) == {"alpha==1.0"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('lock-version = "2.0"\n', "lock-version '2.0' is not 1.x"),
        ('lock-version = "1.0"\npackages = "x"\n', "packages must be an array, not a string"),
        ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "x y"\n', "(a): version: 'x y' is not a valid"),
        ('lock-version = "1.0"\n[[packages]]\nname = "a"\nmarker = "os_name =="\n', "(a): marker: invalid marker"),
        ('lock-version = "1.0"\n[[packages]]\nname = "a"\nwheels = [{ url = "x" }]\n', "hashes is missing"),
        ('lock-version = "1.0"\nx = ' + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nmarker = "extras == \'x\'"\n'
            'wheels = [{ path = "a.whl", hashes = { sha256 = "' + "0" * 64 + '" } }]\n',
            "write 'x' in extras",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1.0"\n'
            'wheels = [{ path = "a-1.0-py3-none-any.whl", size = 9223372036854775807, hashes = { sha256 = "'
            + "0" * 64
            + '" } }]\n',
            "size 9223372036854775807 is more than 64 GiB",
        ),
        (
            'lock-version = "1.0"\n'
            + "".join(
                f'[[packages]]\nname = "A"\nversion = "{v}"\n'
                f'wheels = [{{ path = "a-{v}-py3-none-any.whl", hashes = {{ sha256 = "{d * 64}" }} }}]\n'
                for v, d in (("1.0", "1"), ("2.0", "2"))
            ),
            "packages[1] (A): a second entry for 'a' with no marker (first: ",
        ),
        (
            'lock-version = "1.0"\n'
            + "".join(
                f'[[packages]]\nname = "a"\nversion = "{v}"\nmarker = "{m}"\n'
                f'wheels = [{{ path = "a-{v}-py3-none-any.whl", hashes = {{ sha256 = "{d * 64}" }} }}]\n'
                for v, d, m in (("1.0", "1", "os_name == 'posix'"), ("2.0", "2", "os_name ==  'posix'"))
            ),
            "a second entry for 'a' with the same marker",
        ),
    ],
)
def test_a_malformed_pylock_is_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pylock.toml").write_text(text)
    failed = sync(project, tmp_path / "venv", tmp_path)
    assert failed.returncode == 1
    text = error_text(failed.stderr)  # the headline (folded when long) names the file; then the hint
    assert text.startswith(f"pipenv-sync: error: {project / 'pylock.toml'}") and message in text, failed.stderr
    assert not (tmp_path / "venv").exists()


def test_export_pylock_installs_with_pip_and_uv_with_the_network_cut(world: World, tmp_path: Path) -> None:
    wheels = world.wheels
    project = write_project(
        tmp_path / "project",
        {
            "default": {
                "alpha": lock_entry([wheels["alpha==1.0"]], "1.0", index="test"),
                "beta": lock_entry([wheels["beta==2.0"]], "2.0", index="test", markers="python_version >= '3'"),
            },
            "develop": {"gamma": lock_entry([wheels["gamma==1.0"]], "1.0", index="test")},
        },
        index_url=world.index.url,
    )
    env = cli_env(tmp_path)
    must([sys.executable, "-m", "pipenv_sync_ext", "fetch", "--project", project, "--dev", "--wheelhouse",
          tmp_path / "wheelhouse"], env)  # fmt: skip
    out = tmp_path / "out" / "pylock.toml"
    export: list[str | Path] = [
        "export",
        "--project",
        project,
        "--dev",
        "--wheelhouse",
        tmp_path / "wheelhouse",
        "--pylock",
        out,
    ]
    assert run_cli(*export, env=env).returncode == 0
    first = out.read_bytes()
    assert run_cli(*export, env=env).returncode == 0
    assert out.read_bytes() == first  # byte-reproducible
    assert out.stat().st_mode & 0o777 == 0o644  # meant to be shared, not private like the store's files
    # an existing directory (or a device such as /dev/stdout) is never replaced by the rename
    (tmp_path / "a-dir").mkdir()
    onto_dir = run_cli(*export[:-1], tmp_path / "a-dir", env=env)
    assert onto_dir.returncode == 2 and "exists and is not a regular file" in onto_dir.stderr, onto_dir.stderr
    assert list((tmp_path / "a-dir").iterdir()) == []
    assert b"../wheelhouse/alpha-1.0-py3-none-any.whl" in first and b"dependency_groups" not in first
    want = {"alpha==1.0", "beta==2.0", "gamma==1.0"}

    # the tests' pip (>=25.1 reads pylock.toml) installs into a fresh venv without pip of its own
    pip_venv = make_venv(tmp_path / "pip-venv")
    pip: list[str | Path] = ["unshare", "-n", sys.executable, "-m", "pip", "--python", pip_venv / "bin" / "python"]
    must([*pip, "install", "--no-index", "-r", out], env)
    assert dists(pip_venv) == want

    uv_venv = tmp_path / "uv-venv"
    uv_env = tool_env(tmp_path)
    must([uv_bin(), "venv", "--quiet", "--python", sys.executable, uv_venv], uv_env)
    must(["unshare", "-n", uv_bin(), "pip", "sync", "--offline", "--python", uv_venv / "bin" / "python", out], uv_env)
    assert dists(uv_venv) == want

    refused = run_cli("export", "--project", project, "--wheelhouse", tmp_path / "out", "--pylock", out, env=env)
    assert refused.returncode == 4 and "alpha==1.0" in refused.stderr and "fetch" in refused.stderr


def test_fetch_and_wheelhouse_from_a_pylock_then_an_offline_sync(world: World, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pylock.toml").write_text(
        pylock(world, package(world, "alpha==1.0"), package(world, "beta==2.0", marker="python_version < '3'"))
    )
    env = cli_env(tmp_path)
    fetched = run_cli("fetch", "--project", project, "--wheelhouse", tmp_path / "wheelhouse", env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert sorted(p.name for p in (tmp_path / "wheelhouse").glob("*.whl")) == [world.wheels["alpha==1.0"].name]
    before = len(world.index.requests)
    venv = tmp_path / "venv"
    done = run_cli("--project", project, "--venv", venv, "--offline", env=env)
    assert done.returncode == 0, done.stderr
    assert dists(venv) == {"alpha==1.0"} and len(world.index.requests) == before
    # the store keeps what the project's lock (chosen in its directory: pylock.toml) allows
    kept = run_cli("cache", "prune", "--keep-lock", project, "--min-age", "0", "--json", env=env)
    assert kept.returncode == 0, kept.stderr
    data = json.loads(kept.stdout)
    assert data["removed"] == [] and data["kept"] == 1


def test_the_fast_path_keys_its_stamp_on_the_chosen_lock(world: World, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    lock = project / "pylock.toml"
    lock.write_text(pylock(world, package(world, "alpha==1.0")))
    venv = tmp_path / "venv"
    console: list[str | Path] = [
        Path(sys.executable).with_name("pipenv-sync"),
        "--project",
        project,
        "--venv",
        venv,
        "--prune",
    ]
    env = cli_env(tmp_path)
    must(console, env)
    assert "Already in sync" in must(console, env).stdout  # the stamp, for pylock.toml
    lock.write_text(pylock(world, package(world, "alpha==1.0"), package(world, "gamma==1.0")))
    assert "Already in sync" not in must(console, env).stdout
    assert dists(venv) == {"alpha==1.0", "gamma==1.0"}
    # a Pipfile.lock appearing beside it is what is read now: no stamp answer for the other file
    write_project(project, {"default": {"beta": lock_entry([world.wheels["beta==1.0"]], "1.0", index="test")}},
                  index_url=world.index.url)  # fmt: skip
    synced = must(console, env)
    assert "Already in sync" not in synced.stdout and dists(venv) == {"beta==1.0"}
