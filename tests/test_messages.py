"""What a person reads (issue 12 parts 2-4): each user error is a headline naming the file or package,
a few lines of detail, and a ``hint:`` with the fix (every stderr line at most 200 characters without -v,
which :func:`tests.support.run_cli` checks on every call); dry-runs say everything a sync would do."""

from __future__ import annotations

import json
from pathlib import Path

from pipenv_sync_ext.errors import SyncError

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
    sha256_file,
    write_project,
)

NAMES = ("alpha", "beta", "gamma", "delta", "eps", "zeta", "eta")


def _project(tmp_path: Path, index_url: str = "http://127.0.0.1:9/simple") -> tuple[Path, dict[str, Path]]:
    wheels = {n: build_wheel(tmp_path / "w", n, "1.0") for n in NAMES}
    project = write_project(
        tmp_path / "p", {"default": {n: lock_entry([w], "1.0") for n, w in wheels.items()}}, index_url=index_url
    )
    return project, wheels


def test_sync_error_keeps_its_one_argument_form() -> None:
    plain = SyncError("a\nb")
    assert (str(plain), plain.hint, plain.details) == ("a\\nb", None, ())
    rich = SyncError("head", hint="do\nthis", details=["x\ny"])
    assert (rich.hint, rich.details) == ("do\\nthis", ("x\\ny",))


def test_offline_with_an_empty_store_is_a_headline_five_packages_and_a_hint(tmp_path: Path) -> None:
    project, _ = _project(tmp_path)
    env = cli_env(tmp_path)
    proc = run_cli("--project", project, "--venv", tmp_path / "v", "--offline", env=env)
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.strip().splitlines()
    headline = f"{project / 'Pipfile.lock'}: 7 locked package(s) have no usable artifact; nothing was changed"
    assert lines[0] == f"pipenv-sync: error: {headline}"
    assert [line.split("==")[0] for line in lines[1:6]] == [f"  [default] {n}" for n in sorted(NAMES)[:5]]
    assert lines[6] == "  and 2 more (-v lists them all)"
    assert lines[7].startswith("hint: run `pipenv-sync fetch`") and "without --offline" in lines[7]
    assert len(lines) == 8 and not (tmp_path / "v").exists()
    # -v: every package; --json: every package, the hint, the exit code
    verbose = run_cli("--project", project, "--venv", tmp_path / "v", "--offline", "-v", env=env)
    assert sum(line.startswith("  [default] ") for line in verbose.stderr.splitlines()) == 7
    data = json.loads(run_cli("--project", project, "--venv", tmp_path / "v", "--offline", "--json", env=env).stdout)
    assert data["exit_code"] == 4 and len(data["details"]) == 7 and data["hint"].startswith("run `pipenv-sync fetch`")


def test_a_hash_the_index_does_not_serve_is_a_hash_mismatch(tmp_path: Path, index: Index) -> None:
    locked = build_wheel(tmp_path / "locked", "alpha", "1.0")
    served = build_wheel(tmp_path / "served", "alpha", "1.0", files={"alpha/__init__.py": b"another build\n"})
    index.add(served)
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([locked], "1.0")}}, index_url=index.url)
    proc = run_cli("--project", project, "--venv", tmp_path / "v", env=cli_env(tmp_path))
    assert proc.returncode == 4, proc.stderr
    text = error_text(proc.stderr)
    expected, listed = sha256_file(locked), sha256_file(served)
    assert (
        f"[default] hash mismatch for alpha 1.0 ({served.name}): expected sha256 one of {expected[:16]}..., "
        f"{index.url} lists {listed}" in text
    ), text
    assert "hint: the lock's hashes are not the index's files: relock (`pipenv lock`)" in text
    assert not (tmp_path / "v").exists()


def test_retries_are_one_line_per_host(tmp_path: Path, index: Index) -> None:
    project, wheels = _project(tmp_path)
    for wheel in wheels.values():
        index.add(wheel)
    index.faults = {w.name: ["500"] for w in wheels.values()}  # every file fails once
    project = write_project(
        tmp_path / "p", {"default": {n: lock_entry([w], "1.0") for n, w in wheels.items()}}, index_url=index.url
    )
    proc = run_cli("--project", project, "--venv", tmp_path / "v", env=cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sum(index.requests.count(f"/files/{w.name}") for w in wheels.values()) == 14  # 7 retried
    retries = [line for line in proc.stderr.splitlines() if "retrying" in line]
    assert retries == [f"{index.url.split('/')[2]}: HTTP 500; retrying (up to 3 attempts a request; not said again)"]
    assert installed(tmp_path / "v") == dict.fromkeys(NAMES, "1.0")


def test_an_unreachable_index_is_one_headline_and_a_hint(tmp_path: Path) -> None:
    project, _ = _project(tmp_path)  # the lock's index is 127.0.0.1:9: nothing listens
    proc = run_cli("--project", project, "--venv", tmp_path / "v", env=cli_env(tmp_path))
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].endswith("cannot reach 127.0.0.1:9; 7 locked package(s) not fetched, nothing was changed")
    assert lines[1].startswith("  127.0.0.1:9: ") and "--offline" in lines[-1] and "retrying" not in proc.stderr


def test_each_user_error_has_an_exit_code_a_headline_and_a_hint(tmp_path: Path) -> None:
    project, wheels = _project(tmp_path)
    env = cli_env(tmp_path)
    (tmp_path / "empty").mkdir()
    not_a_venv = tmp_path / "plain"
    (not_a_venv / "data").mkdir(parents=True)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    stale = write_project(tmp_path / "stale", {"default": {"alpha": lock_entry([wheels["alpha"]], "1.0")}})
    (stale / "Pipfile").write_text((stale / "Pipfile").read_text() + 'newpkg = "*"\n')
    bad = write_project(tmp_path / "bad", {})
    (bad / "Pipfile.lock").write_text("{not json")
    cases = [
        # (arguments, exit code, in the headline, in the hint)
        (("--project", tmp_path / "empty"), 1, "Pipfile.lock", "pipenv lock"),
        (("--project", bad), 1, "not valid JSON", "pipenv lock"),
        (("--project", stale, "--deploy"), 3, "out of date with Pipfile", "run `pipenv lock`"),
        (("--project", project, "--python", "/nonexistent/python9"), 1, "--python /nonexistent/python9", "--python"),
        (("--project", project, "--venv", not_a_venv), 1, "not a virtualenv (no pyvenv.cfg)", "--venv"),
        (("--project", project, "--venv", a_file), 1, "is not a directory", "--venv"),
        (("--project", project, "--venv", tmp_path / "v", "--offline"), 4, "have no usable artifact", "fetch"),
        (("--project", project, "--lock-timeout", "x"), 2, "--lock-timeout", "--help"),  # argparse's own
    ]
    for args, code, headline, hint in cases:
        proc = run_cli(*args, "--venv", tmp_path / "v", env=env) if "--venv" not in args else run_cli(*args, env=env)
        assert proc.returncode == code, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        if code == 2:  # argparse's own usage line first, then its error, with our hint
            assert lines[0].startswith("usage: "), (args, proc.stderr)
            lines = lines[1:]
            lines = lines[next(i for i, line in enumerate(lines) if line.startswith("pipenv-sync: error:")) :]
        assert lines[0].startswith("pipenv-sync: error: "), (args, proc.stderr)
        assert headline in error_text(proc.stderr), (args, proc.stderr)
        assert lines[-1].startswith("hint: ") and hint in lines[-1], (args, proc.stderr)
    assert not (tmp_path / "v").exists()


def test_a_dry_run_on_a_missing_venv_says_it_would_create_it_and_download(tmp_path: Path, index: Index) -> None:
    project, wheels = _project(tmp_path)
    project = write_project(
        tmp_path / "p", {"default": {n: lock_entry([w], "1.0") for n, w in wheels.items()}}, index_url=index.url
    )
    env = cli_env(tmp_path)
    venv = tmp_path / "v"
    text = run_cli("--project", project, "--venv", venv, "--dry-run", "--find-links", wheels["alpha"].parent, env=env)
    assert text.returncode == 0, text.stderr
    assert "would create the virtualenv with " in text.stdout and "(Python 3." in text.stdout
    assert "would download" not in text.stdout  # --find-links has them all
    proc = run_cli("--project", project, "--venv", venv, "--dry-run", "--json", env=env)
    data = json.loads(proc.stdout)
    assert data["in_sync"] is False and data["would_create_venv"] is True and data["created_venv"] is False
    assert data["python"].endswith(")") and "(Python 3." in data["python"]
    assert sorted(data["download"]) == sorted(NAMES) and len(data["install"]) == 7
    plain = run_cli("--project", project, "--venv", venv, "--dry-run", env=env).stdout
    assert "  would download 7 package(s) not in the store: alpha, beta, delta, eps, eta and 2 more" in plain
    offline = run_cli("--project", project, "--venv", venv, "--dry-run", "--offline", env=env).stdout
    assert "7 package(s) not in the store, so --offline would fail (exit 4)" in offline
    check = run_cli("--project", project, "--venv", venv, "--check", "--json", env=env)
    assert check.returncode == 5
    assert json.loads(check.stdout)["in_sync"] is False and json.loads(check.stdout)["would_create_venv"] is True
    assert index.requests == [] and not venv.exists()  # none of it fetched or created anything
    # once synced, the dry-run is in sync and says nothing would be created or downloaded
    for wheel in wheels.values():
        index.add(wheel)
    assert run_cli("--project", project, "--venv", venv, env=env).returncode == 0
    data = json.loads(run_cli("--project", project, "--venv", venv, "--dry-run", "--json", env=env).stdout)
    assert (data["in_sync"], data["would_create_venv"], data["download"]) == (True, False, [])


def test_packages_not_in_the_lock_are_counted_with_the_flag_that_removes_them(tmp_path: Path) -> None:
    project, wheels = _project(tmp_path)
    env = cli_env(tmp_path)
    venv = make_venv(tmp_path / "v")
    site = next((venv / "lib").glob("python*/site-packages"))
    fake_dist(site, "stray", "1.0", {"stray.py": "x = 1\n"})
    fake_dist(site, "otherstray", "2.0", {"otherstray.py": "x = 2\n"})
    args = ("--project", project, "--venv", venv, "--offline", "--find-links", wheels["alpha"].parent)
    line = "2 installed package(s) are not in the lock; --prune removes them"
    synced = run_cli(*args, env=env)
    assert synced.returncode == 0, synced.stderr
    assert line in synced.stdout.splitlines()
    check = run_cli(*args, "--check", "--verify", env=env)  # planned: the line in the report
    assert check.returncode == 0 and line in check.stdout.splitlines(), check.stdout
    hit = run_cli(*args, "--check", env=env)  # the stamp answers: said as the warning it keeps
    assert hit.returncode == 0 and f"warning: {line}" in hit.stderr.splitlines(), hit.stderr
    data = json.loads(run_cli(*args, "--check", "--verify", "--json", env=env).stdout)
    assert data["not_in_lock"] == ["otherstray", "stray"] and data["in_sync"] is True
    pruned = run_cli(*args, "--prune", env=env)
    assert pruned.returncode == 0 and "not in the lock" not in pruned.stdout
    assert installed(venv) == dict.fromkeys(NAMES, "1.0")
