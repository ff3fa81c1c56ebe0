#!/usr/bin/env python3
"""Benchmark ``pipenv-sync`` against its peers on the same locks (issue 7).

Stdlib only. One run installs the peers (pipenv, pip-tools, uv) into a throwaway
venv and this project into another, both under the work dir (default
``bench/.work/``), copies the fixture projects there, warms every cache with one
untimed run per tool, then alternates the tools ``--repeat`` times per scenario:

a  fresh, empty venv (``python -m venv --without-pip``), warm cache
b  no-op: the venv is already in sync
c  prune: in sync, plus 5 extra packages and one locked package at another version
d  b and c again through ``pipenv sync --prune`` (pipenv's CLI with this project's hook)
compile  a, with bytecode: ``pipenv-sync --compile`` against ``uv pip sync --compile-bytecode``
cold     a with every cache empty (our store and status cache, uv's cache), online, from PyPI
rebuild  ``pipenv-sync --rebuild`` of an in-sync venv, against ``uv venv`` + ``uv pip sync --offline``
scale    a synthetic lock of ~300 small wheels and a few with 2,000 files, via --find-links
startup  ``pipenv --version``, ``python -c pass`` in a venv, ``uv --version``, ``pipenv-sync --version``

It prints an RST simple table of median wall time, peak RSS and the ratio of
this tool to each peer (``--out FILE`` writes it there too).

    python3 bench/run.py [--project small|medium|all] [--repeat N]
                         [--scenarios a,b,c,d,compile,cold,rebuild,scale,startup] [--out FILE]
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

PEERS_SPEC = ["pipenv>=2026.10,<2026.11", "pip-tools", "uv"]
ALL_SCENARIOS = ["a", "b", "c", "d", "compile", "cold", "rebuild", "scale", "startup"]
SCENARIO_TITLES = {
    "a": "a fresh",
    "b": "b no-op",
    "c": "c prune",
    "d-b": "d no-op",
    "d-c": "d prune",
    "compile": "a+bytecode",
    "cold": "cold",
    "rebuild": "rebuild",
    "scale-a": "scale fresh",
    "scale-b": "scale no-op",
    "startup": "startup",
}
# Extra packages for scenario (c): small, pure Python, no dependencies; the first
# five that the lock does not name are used.
EXTRA_CANDIDATES = ["toml", "tabulate", "termcolor", "appdirs", "colorama", "pyparsing", "six", "docopt-ng"]
# The locked package installed at another version for scenario (c).
DRIFT_CANDIDATES = ["idna", "certifi", "urllib3", "six"]
PROTECTED = {"pip", "setuptools", "wheel", "distribute", "pkg-resources"}
TIMEOUT = 900.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- processes


@dataclass
class Sample:
    seconds: float
    maxrss_kib: int
    rc: int
    error: str = ""


# Runs in a fresh ``python -I -S`` between the harness and the measured command, so that
# the command's ``ru_maxrss`` is not floored by the harness's own size (a forked or vforked
# child inherits its parent's high-water mark until exec) and the wall time excludes the
# launcher's start-up. Its floor is measured and reported (the ``/bin/true`` row).
LAUNCHER = r"""
import json, os, sys, time
cmd, log = json.loads(sys.argv[1])
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
null = os.open(os.devnull, os.O_RDONLY)
acts = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)]
t0 = time.perf_counter()
try:
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=acts)
except OSError as exc:
    print(json.dumps({"seconds": 0, "maxrss": 0, "rc": 127, "spawn_error": str(exc)}))
    sys.exit(0)
_pid, status, ru = os.wait4(pid, 0)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "maxrss": ru.ru_maxrss, "rc": os.waitstatus_to_exitcode(status)}))
"""


def run_measured(
    cmd: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str],
    cwd: Path | None = None,
    log_path: Path | None = None,
    timeout: float = TIMEOUT,
) -> Sample:
    """Run ``cmd`` once: its wall time, and the peak RSS of the largest process of its tree
    (``wait4``'s ``ru_maxrss`` covers the child and every descendant it reaped)."""
    out_path = log_path or Path(os.devnull)
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, json.dumps([[str(c) for c in cmd], str(out_path)])],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        start_new_session=True,  # the launcher and the command share a process group: killable together
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Sample(timeout, 0, -9, f"timed out after {timeout:.0f} s")
    try:
        data = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Sample(0.0, 0, -1, f"launcher failed (exit {proc.returncode})")
    rc = int(data["rc"])
    error = ""
    if "spawn_error" in data:
        error = f"cannot run {cmd[0]}: {data['spawn_error']}"
    elif rc != 0:
        error = f"exit {rc}: {last_line(out_path)}"
    return Sample(float(data["seconds"]), int(data["maxrss"]), rc, error)


def last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    # Prefer a line that reads like an error over the last one (pip prints hints after it).
    for ln in reversed(lines):
        if re.search(r"error", ln, re.IGNORECASE):
            return ln[:200]
    return lines[-1][:200] if lines else ""


def check(cmd: Sequence[str | os.PathLike[str]], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a setup step; raise with its output when it fails."""
    res = subprocess.run(
        [str(c) for c in cmd], env=None if env is None else dict(env), cwd=cwd, capture_output=True, text=True
    )
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


# --------------------------------------------------------------------------- environment


@dataclass
class Work:
    root: Path
    python: str

    @property
    def peers(self) -> Path:
        return self.root / "peers"

    @property
    def tool(self) -> Path:
        return self.root / "tool"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def bin(self, venv: Path, name: str) -> Path:
        return venv / "bin" / name


def clean_env(work: Work) -> dict[str, str]:
    """The environment every timed command gets: no user configuration, caches in the work dir."""
    # PYTHONDONTWRITEBYTECODE too: with an editable install it made every run of this tool compile its
    # ~120 modules from source (230 ms of a prune), which no installed tool pays
    drop = (
        "PIP_",
        "PIPENV_",
        "VIRTUAL_ENV",
        "UV_",
        "CONDA",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONDONTWRITEBYTECODE",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) or k == "PIP_CERT"}
    c = work.cache
    env.update(
        PIP_CONFIG_FILE=os.devnull,  # no pip.conf find-links/extra indexes of this machine
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_CACHE_DIR=str(c / "pip"),
        PIPENV_CACHE_DIR=str(c / "pipenv"),
        PIPENV_VERBOSITY="-1",
        PIPENV_NOSPIN="1",
        PIPENV_YES="1",
        PIPENV_HIDE_EMOJIS="1",
        UV_CACHE_DIR=str(c / "uv"),
        UV_NO_PROGRESS="1",
        PIPENV_SYNC_CACHE_DIR=str(c / "pipenv-sync"),
        XDG_CACHE_HOME=str(c / "xdg"),
        WORKON_HOME=str(work.root / "workon"),
    )
    return env


def make_venv(work: Work, path: Path, *, with_pip: bool = False) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    check([work.python, "-m", "venv", *([] if with_pip else ["--without-pip"]), str(path)])


def setup_peers(work: Work) -> dict[str, str]:
    stamp = work.peers / "bench-spec.json"
    if not (stamp.exists() and json.loads(stamp.read_text()).get("spec") == PEERS_SPEC):
        log(f"installing peers into {work.peers}: {' '.join(PEERS_SPEC)}")
        make_venv(work, work.peers, with_pip=True)
        pip = work.bin(work.peers, "pip")
        check([pip, "install", "-q", "--upgrade", "pip"])
        check([pip, "install", "-q", *PEERS_SPEC])
        stamp.write_text(json.dumps({"spec": PEERS_SPEC}))
    versions = {}
    freeze = check([work.bin(work.peers, "python"), "-m", "pip", "list", "--format=json"])
    for item in json.loads(freeze):
        versions[canon(item["name"])] = item["version"]
    return versions


def setup_tool(work: Work, editable: bool) -> str:
    """Install this project (the checkout the script lives in) into work/tool, every run."""
    if not work.bin(work.tool, "python").exists():
        make_venv(work, work.tool, with_pip=True)
        check([work.bin(work.tool, "pip"), "install", "-q", "--upgrade", "pip"])
    log(f"installing {REPO} into {work.tool} ({'editable' if editable else 'regular install'})")
    pip = work.bin(work.tool, "pip")
    target = ["-e", str(REPO)] if editable else [str(REPO)]
    check([pip, "install", "-q", *target])  # dependencies
    if not editable:
        check([pip, "install", "-q", "--force-reinstall", "--no-deps", *target])  # this checkout's code
    return check([work.bin(work.tool, "pipenv-sync"), "--version"]).strip()


def help_text(cmd: Sequence[str | os.PathLike[str]], env: Mapping[str, str], cwd: Path | None = None) -> str:
    res = subprocess.run([str(c) for c in cmd], env=dict(env), cwd=cwd, capture_output=True, text=True)
    return res.stdout + res.stderr


def site_packages(venv: Path) -> Path:
    found = glob.glob(str(venv / "lib" / "python*" / "site-packages"))
    return Path(found[0]) if found else venv / "lib" / "site-packages"


def installed(venv: Path) -> set[tuple[str, str]]:
    """(name, version) of every distribution in the venv, from dist-info directory names."""
    result = set()
    sp = site_packages(venv)
    if not sp.is_dir():
        return result
    for entry in os.listdir(sp):
        if entry.endswith(".dist-info"):
            name, _, version = entry[: -len(".dist-info")].partition("-")
            if canon(name) not in PROTECTED:
                result.add((canon(name), version))
    return result


def count_pyc(venv: Path) -> int:
    n = 0
    for _dirpath, _dirs, files in os.walk(site_packages(venv)):
        n += sum(1 for f in files if f.endswith(".pyc"))
    return n


def describe_diff(got: set[tuple[str, str]], want: set[tuple[str, str]]) -> str:
    extra = sorted(f"{n}=={v}" for n, v in got - want)
    missing = sorted(f"{n}=={v}" for n, v in want - got)
    parts = []
    if extra:
        parts.append("left: " + ", ".join(extra[:4]) + (" ..." if len(extra) > 4 else ""))
    if missing:
        parts.append("missing: " + ", ".join(missing[:4]) + (" ..." if len(missing) > 4 else ""))
    return "; ".join(parts)


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    group: str  # project name, "scale" or "-"
    scenario: str  # key of SCENARIO_TITLES
    tool: str  # label
    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ours: bool = False
    na: str = ""  # "n/a (...)": not run
    compare: bool = True  # show ratios against pipenv-sync

    def ok(self) -> list[Sample]:
        return [s for s in self.samples if not s.error]

    def median(self) -> float | None:
        ok = self.ok()
        return statistics.median(s.seconds for s in ok) if ok else None

    def peak_mib(self) -> float | None:
        ok = self.ok()
        return max(s.maxrss_kib for s in ok) / 1024 if ok else None

    def note(self) -> str:
        notes = list(dict.fromkeys(self.notes))
        errors = [s.error for s in self.samples if s.error]
        if errors:
            head = "error" if len(errors) == len(self.samples) else f"{len(errors)}/{len(self.samples)} failed"
            notes.insert(0, f"{head}: {errors[-1]}")
        if self.na:
            notes.insert(0, self.na)
        return "; ".join(notes)


class Results:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Row] = {}
        self.footnotes: list[str] = []

    def row(self, group: str, scenario: str, tool: str, ours: bool = False) -> Row:
        key = (group, scenario, tool)
        if key not in self.rows:
            self.rows[key] = Row(group, scenario, tool, ours=ours)
        return self.rows[key]

    def ours_for(self, row: Row) -> Row | None:
        for r in self.rows.values():
            if r.group == row.group and r.scenario == row.scenario and r.ours:
                return r
        return None

    def find(self, group: str, scenario: str, tool: str) -> Row | None:
        return self.rows.get((group, scenario, tool))


def fmt_time(sec: float | None) -> str:
    if sec is None:
        return "n/a"
    if sec < 1:
        return f"{sec * 1000:.0f} ms" if sec >= 0.01 else f"{sec * 1000:.1f} ms"
    return f"{sec:.2f} s"


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def rst_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An RST simple table; the last column is unbounded (notes)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    widths[-1] = max(len(header[-1]), 5)
    rule = "  ".join("=" * w for w in widths)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [rule, line(header), rule]
    out += [line(r) for r in rows]
    out.append(rule)
    return "\n".join(out)


def render(results: Results, meta: Mapping[str, str]) -> str:
    header = ["project", "scenario", "tool", "median", "peak RSS", "ours / it", "RSS ours / it", "note"]
    body = []
    groups = list(dict.fromkeys(r.group for r in results.rows.values()))
    tools = list(dict.fromkeys(r.tool for r in results.rows.values()))
    scen_order = list(SCENARIO_TITLES)
    ordered = sorted(
        results.rows.values(),
        key=lambda r: (
            groups.index(r.group),
            scen_order.index(r.scenario) if r.scenario in scen_order else 99,
            tools.index(r.tool),
        ),
    )
    for row in ordered:
        ours = results.ours_for(row)
        med, rss = row.median(), row.peak_mib()
        if row.ours or ours is None or not row.compare:
            tr, mr = "-", "-"
        else:
            tr, mr = fmt_ratio(ours.median(), med), fmt_ratio(ours.peak_mib(), rss)
        body.append(
            [
                row.group,
                SCENARIO_TITLES.get(row.scenario, row.scenario),
                row.tool,
                fmt_time(med) if not row.na else "n/a",
                f"{rss:.0f} MiB" if rss is not None else "-",
                tr,
                mr,
                row.note(),
            ]
        )
    parts = [
        ".. Generated by bench/run.py on " + meta.get("date", "") + "; " + meta.get("summary", ""),
        "",
        rst_table(header, body),
        "",
    ]
    if results.footnotes:
        parts += [f"* {n}" for n in results.footnotes]
        parts.append("")
    return "\n".join(parts)


# --------------------------------------------------------------------------- tools


@dataclass
class Tool:
    key: str
    label: str
    # Commands to time, in order (pipenv's prune is ``sync`` then ``clean``), given (venv, project dir).
    commands: Callable[[Path, Path, str], list[list[str]]]
    env: Callable[[Path], dict[str, str]] = lambda venv: {}
    seed_pip: bool = False
    ours: bool = False
    # scenarios it takes part in
    scenarios: tuple[str, ...] = ("a", "b", "c")


def fixture_names(choice: str) -> list[str]:
    return ["small", "medium"] if choice == "all" else [choice]


def lock_names(lock: Mapping[str, object]) -> set[str]:
    names: set[str] = set()
    for key, section in lock.items():
        if key != "_meta" and isinstance(section, dict):
            names |= {canon(n) for n in section}
    return names


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Work(Path(args.work).resolve(), args.python)
        self.results = Results()
        self.scenarios = set(args.scenarios)
        self.env = clean_env(self.work)
        self.repeat = args.repeat
        self.hook_ok = False
        self.hook_offline = False
        self.hook_cache_dir = False
        self.compile_flag: str | None = None
        self.seq = 0

    # -- helpers
    def logfile(self, what: str) -> Path:
        self.seq += 1
        self.work.logs.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", what)
        return self.work.logs / f"{self.seq:04d}-{safe}.log"

    def run_tool(
        self, tool: Tool, venv: Path, project: Path, scenario: str, env_extra: Mapping[str, str] = {}
    ) -> Sample:
        env = {**self.env, **tool.env(venv), **env_extra}
        total, peak, error, rc = 0.0, 0, "", 0
        for cmd in tool.commands(venv, project, scenario):
            s = run_measured(cmd, env, cwd=project, log_path=self.logfile(f"{tool.key}-{scenario}"))
            total += s.seconds
            peak = max(peak, s.maxrss_kib)
            if s.error:
                error, rc = s.error, s.rc
                break
        return Sample(total, peak, rc, error)

    def uv(self) -> Path:
        return self.work.bin(self.work.peers, "uv")

    def setup_env(self) -> dict[str, str]:
        # Setup steps (drift installs, seeding pip) use their own uv cache, never a timed tool's.
        return {**self.env, "UV_CACHE_DIR": str(self.work.cache / "uv-setup")}

    def fresh_venv(self, venv: Path, tool: Tool) -> None:
        make_venv(self.work, venv)
        if tool.seed_pip:
            check(
                [self.uv(), "pip", "install", "-q", "--python", venv / "bin" / "python", f"pip=={self.pip_version}"],
                env=self.setup_env(),
            )

    def sync_reference(self, venv: Path, project: Path) -> None:
        """Bring a venv in sync without the tool under test (used when that tool failed)."""
        check(
            [self.uv(), "pip", "sync", "-q", "--python", venv / "bin" / "python", project / "requirements.txt"],
            env=self.setup_env(),
        )

    def drift(self, venv: Path) -> None:
        check(
            [self.uv(), "pip", "install", "-q", "--no-deps", "--python", venv / "bin" / "python", *self.drift_specs],
            env=self.setup_env(),
        )

    # -- main
    def run(self) -> str:
        t0 = time.perf_counter()
        self.work.root.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.work.root / "run.lock", "w")  # noqa: SIM115 (held for the whole run)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"bench: another run is using {self.work.root} (use --work DIR)") from None
        os.chdir(self.work.root)  # never the checkout: a target's sys.path[0] would see its *.egg-info
        shutil.rmtree(self.work.logs, ignore_errors=True)
        load0 = os.getloadavg()[0]
        versions = setup_peers(self.work)
        self.pip_version = versions.get("pip", "")
        tool_version = setup_tool(self.work, self.args.editable)
        tool_help = help_text([self.work.bin(self.work.tool, "pipenv-sync"), "--help"], self.env)
        self.compile_flag = "--compile" if re.search(r"--compile\b", tool_help) else None
        hook_help = help_text([self.work.bin(self.work.tool, "pipenv"), "sync", "--help"], self.env, cwd=self.work.root)
        self.hook_ok = bool(re.search(r"--prune\b", hook_help))
        self.hook_offline = self.hook_ok and bool(re.search(r"--offline\b", hook_help))
        self.hook_cache_dir = self.hook_ok and bool(re.search(r"--cache-dir\b", hook_help))
        pyver = check([self.work.python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]).strip()
        log(
            f"{tool_version}; pipenv {versions.get('pipenv')}, pip-tools {versions.get('pip-tools')}, "
            f"uv {versions.get('uv')}, pip {self.pip_version}; target Python {pyver}; "
            f"hook {'found' if self.hook_ok else 'not installed'}{' (with --offline)' if self.hook_offline else ''}; "
            f"--compile {'found' if self.compile_flag else 'absent'}"
        )

        if "startup" in self.scenarios:
            self.bench_startup()
        for name in fixture_names(self.args.project):
            if self.scenarios & {"a", "b", "c", "d", "compile"}:
                self.bench_project(name)
            if self.scenarios & {"cold", "rebuild"}:
                self.bench_cold_rebuild(name)
        if "scale" in self.scenarios:
            self.bench_scale()
        self.add_goal_notes()

        elapsed = time.perf_counter() - t0
        meta = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "summary": (
                f"{tool_version}, pipenv {versions.get('pipenv')}, pip-tools {versions.get('pip-tools')}, "
                f"uv {versions.get('uv')}, pip {self.pip_version}, Python {pyver}, {os.cpu_count()} CPUs; "
                f"medians of {self.repeat}; run took {elapsed / 60:.1f} min; "
                f"load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end"
            ),
        }
        self.results.footnotes[:0] = self.static_footnotes()
        return render(self.results, meta)

    def static_footnotes(self) -> list[str]:
        return [
            "Wall time: median of the repeats; peak RSS: the largest ``ru_maxrss`` (``wait4``) of the command's "
            "process tree over the repeats (the biggest single process, not a sum), taken by a small launcher whose "
            "own size is the floor (the ``/bin/true`` row). "
            "``ours / it`` > 1 means pipenv-sync is slower or bigger.",
            "Every tool syncs its own fresh ``python -m venv --without-pip`` venv from the same lock (``default`` "
            "only); peers use the lock's exported hashed ``requirements.txt``, pipenv uses ``Pipfile.lock`` with "
            "``VIRTUAL_ENV`` set to the target. Caches are warmed by one untimed run of each tool.",
            "pipenv-sync runs with ``--offline --prune -q`` and its own ``--cache-dir``.",
            "No bytecode anywhere: uv's default; pip-sync with ``--pip-args --no-compile``; pipenv sync with "
            "``PIP_COMPILE=0`` (pipenv passes it to its pip). pipenv-sync writes none by default.",
            f"pip-sync needs pip in the target: its venvs are seeded with pip {self.pip_version} (untimed); "
            "every other venv has no pip.",
            "pipenv's prune is ``pipenv sync`` then ``pipenv clean``, timed together.",
            "pip keeps no HTTP cache here: this machine's registry proxy sends no Cache-Control/ETag headers, so "
            "pip-sync and pipenv download every wheel on every run (uv's cache works; pipenv-sync's is its store).",
            *(
                [
                    "cold: every cache emptied before each run (our store and status cache, uv's, pip's, "
                    "``XDG_CACHE_HOME``); pipenv-sync online (``--prune -q``, no ``--offline``), ``uv pip sync`` "
                    "with its empty cache, both from PyPI."
                ]
                if "cold" in self.scenarios
                else []
            ),
            *(
                [
                    "rebuild: ``pipenv-sync --rebuild --offline --prune -q`` of an in-sync venv (a new venv made "
                    "beside it and swapped in) against ``uv venv`` + ``uv pip sync --offline`` into a new "
                    "directory, timed together: the same result, a new venv holding the lock, from warm caches."
                ]
                if "rebuild" in self.scenarios
                else []
            ),
        ]

    # -- startup
    def bench_startup(self) -> None:
        log("startup")
        venv = self.work.root / "venvs" / "startup"
        make_venv(self.work, venv)
        cases = [
            ("pipenv-sync --version", [self.work.bin(self.work.tool, "pipenv-sync"), "--version"], True),
            ("pipenv --version", [self.work.bin(self.work.peers, "pipenv"), "--version"], False),
            ("pipenv --version (tool venv)", [self.work.bin(self.work.tool, "pipenv"), "--version"], False),
            ("python -c pass (venv)", [venv / "bin" / "python", "-c", "pass"], False),
            ("uv --version", [self.uv(), "--version"], False),
            ("/bin/true (measurement floor)", ["true"], False),
        ]
        for _label, cmd, _ours in cases:  # warm the page cache
            run_measured(cmd, self.env, cwd=self.work.root)
        n = max(self.repeat, 10)
        for i in range(n):
            for label, cmd, ours in rotate(cases, i):
                s = run_measured(cmd, self.env, cwd=self.work.root, log_path=self.logfile("startup"))
                self.results.row("-", "startup", label, ours=ours).samples.append(s)
        self.results.row("-", "startup", "/bin/true (measurement floor)").compare = False
        self.results.row("-", "startup", "pipenv --version (tool venv)").notes.append(
            "pipenv beside pipenv-sync" + (" (with the hook)" if self.hook_ok else "")
        )

    # -- projects
    def tools(self) -> list[Tool]:
        w = self.work
        ours_bin = str(w.bin(w.tool, "pipenv-sync"))
        cache = str(w.cache / "pipenv-sync")

        def ours_cmd(venv: Path, project: Path, scenario: str) -> list[list[str]]:
            cmd = [
                ours_bin,
                "--project",
                str(project),
                "--venv",
                str(venv),
                "--cache-dir",
                cache,
                "--offline",
                "--prune",
                "-q",
            ]
            if scenario == "compile" and self.compile_flag:
                cmd.append(self.compile_flag)
            if scenario == "warm":
                cmd.remove("--offline")  # the first run fills the store from the index
            return [cmd]

        def ours_online_cmd(venv: Path, project: Path, scenario: str) -> list[list[str]]:
            # online, the store warm: what it adds to the offline row is the index status check (issue 17)
            return [[c for c in cmd if c != "--offline"] for cmd in ours_cmd(venv, project, scenario)]

        def pipenv_cmd(venv: Path, project: Path, scenario: str) -> list[list[str]]:
            pipenv = str(w.bin(w.peers, "pipenv"))
            return [[pipenv, "sync"], [pipenv, "clean"]] if scenario == "c" else [[pipenv, "sync"]]

        def pipsync_cmd(venv: Path, project: Path, scenario: str) -> list[list[str]]:
            return [
                [
                    str(w.bin(w.peers, "pip-sync")),
                    "-q",
                    "--python-executable",
                    str(venv / "bin" / "python"),
                    "--pip-args",
                    "--no-compile",
                    str(project / "requirements.txt"),
                ]
            ]

        def uv_cmd(offline: bool) -> Callable[[Path, Path, str], list[list[str]]]:
            def cmd(venv: Path, project: Path, scenario: str) -> list[list[str]]:
                c = [str(self.uv()), "pip", "sync", "-q", "--python", str(venv / "bin" / "python")]
                if offline and scenario != "warm":
                    c.append("--offline")
                if scenario == "compile":
                    c.append("--compile-bytecode")
                return [[*c, str(project / "requirements.txt")]]

            return cmd

        def hook_cmd(venv: Path, project: Path, scenario: str) -> list[list[str]]:
            c = [str(w.bin(w.tool, "pipenv")), "sync", "--prune"]
            if self.hook_offline:
                c.append("--offline")
            if self.hook_cache_dir:
                c += ["--cache-dir", cache]
            return [c]

        def pipenv_env(venv: Path) -> dict[str, str]:
            return {"VIRTUAL_ENV": str(venv), "PIP_COMPILE": "0"}

        return [
            Tool("ours", "pipenv-sync", ours_cmd, ours=True, scenarios=("a", "b", "c", "compile")),
            Tool("ours-online", "pipenv-sync (online: status check)", ours_online_cmd, scenarios=("a", "c")),
            Tool("uv-offline", "uv pip sync --offline", uv_cmd(True), scenarios=("a", "b", "c", "compile")),
            Tool("uv", "uv pip sync", uv_cmd(False)),
            Tool("pip-sync", "pip-sync", pipsync_cmd, seed_pip=True),
            Tool("pipenv", "pipenv sync", pipenv_cmd, env=pipenv_env),
            Tool(
                "hook",
                "pipenv sync --prune (hook)",
                hook_cmd,
                env=lambda v: {"VIRTUAL_ENV": str(v)},
                scenarios=("d",),
            ),
        ]

    def bench_project(self, name: str) -> None:
        fixtures = Path(self.args.fixtures).resolve()
        src = fixtures / f"project-{name}"
        if not (src / "Pipfile.lock").is_file() or not (src / "requirements.txt").is_file():
            raise SystemExit(f"bench: {src} has no Pipfile.lock and requirements.txt")
        lock = json.loads((src / "Pipfile.lock").read_text())
        names = lock_names(lock)
        extras = [e for e in EXTRA_CANDIDATES if canon(e) not in names][:5]
        drift_pkg = next(d for d in DRIFT_CANDIDATES if d in lock.get("default", {}))
        locked = lock["default"][drift_pkg]["version"].lstrip("=")
        self.drift_specs = [*extras, f"{drift_pkg}<{locked}"]

        tools = self.tools()
        wanted_scen = self.scenarios
        if "compile" in wanted_scen and not self.compile_flag:
            for t in tools:
                if "compile" in t.scenarios:
                    self.results.row(name, "compile", t.label, ours=t.ours).na = (
                        "n/a (pipenv-sync has no --compile)"
                        if t.ours
                        else "n/a (not run: pipenv-sync has no --compile)"
                    )
        if "d" in wanted_scen and not self.hook_ok:
            for scen in ("d-b", "d-c"):
                self.results.row(name, scen, "pipenv sync --prune (hook)").na = "n/a (hook not installed)"

        def runnable(t: Tool) -> set[str]:
            return {
                s
                for s in t.scenarios
                if s in wanted_scen and (s != "compile" or self.compile_flag) and (s != "d" or self.hook_ok)
            }

        active = [t for t in tools if runnable(t)]
        if not active:
            return

        # per-tool copy of the project (never touch the fixtures)
        projects: dict[str, Path] = {}
        for t in active:
            dest = self.work.root / "projects" / name / t.key
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(src, dest)
            for p in [dest, *dest.rglob("*")]:
                p.chmod(p.stat().st_mode | 0o200)
            projects[t.key] = dest
        venvs = {t.key: self.work.root / "venvs" / name / t.key for t in active}

        # warm-up: one untimed run of each tool on a fresh venv; the reference state comes from uv
        log(f"{name}: warming caches ({', '.join(t.key for t in active)})")
        ref_venv = self.work.root / "venvs" / name / "reference"
        make_venv(self.work, ref_venv)
        self.sync_reference(ref_venv, projects[active[0].key])
        self.reference = installed(ref_venv)
        self.drift(ref_venv)  # warms the setup cache for the drift packages too
        broken: dict[str, str] = {}
        for t in active:
            v = venvs[t.key]
            self.fresh_venv(v, t)
            if t.key == "hook":
                self.sync_ours(v, projects[t.key])
                s = self.run_tool(t, v, projects[t.key], "d-b")
            else:
                s = self.run_tool(t, v, projects[t.key], "warm")
            if s.error:
                broken[t.key] = s.error
                log(f"  warm-up of {t.label} failed: {s.error}")
        if "ours" in {t.key for t in active} and "ours" not in broken:
            log(f"  store: {du(self.work.cache / 'pipenv-sync')}")

        for rep in range(self.repeat):
            log(f"{name}: repeat {rep + 1}/{self.repeat}")
            for t in rotate(active, rep):
                if runnable(t) & {"a", "b", "c", "d"}:
                    self.one_round(name, t, venvs[t.key], projects[t.key])
            if self.compile_flag and "compile" in wanted_scen:
                for t in rotate([t for t in active if "compile" in t.scenarios], rep):
                    v = venvs[t.key].with_name(venvs[t.key].name + "-compile")
                    self.fresh_venv(v, t)
                    s = self.run_tool(t, v, projects[t.key], "compile")
                    row = self.results.row(name, "compile", t.label, ours=t.ours)
                    row.samples.append(s)
                    if not s.error and count_pyc(v) == 0:
                        row.notes.append("no .pyc written")

    # -- cold and rebuild
    def bench_cold_rebuild(self, name: str) -> None:
        """cold: every cache empty, online; rebuild: a synced venv rebuilt from warm caches (see the module doc)."""
        w = self.work
        src = Path(self.args.fixtures).resolve() / f"project-{name}"
        project = w.root / "projects" / name / "cold-rebuild"
        if project.exists():
            shutil.rmtree(project)
        shutil.copytree(src, project)
        for p in [project, *project.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
        lock = json.loads((project / "Pipfile.lock").read_text())
        want = {(canon(n), str(e.get("version", "")).lstrip("=")) for n, e in lock.get("default", {}).items()}
        ours_bin = str(w.bin(w.tool, "pipenv-sync"))
        uv = str(self.uv())
        base = w.root / "venvs" / name
        cold_caches = w.cache / "cold"

        def cold_env() -> dict[str, str]:
            # every cache a tool could read, empty: ours (store, status), uv, pip's (ours may read it), XDG
            shutil.rmtree(cold_caches, ignore_errors=True)
            return {
                **self.env,
                "UV_CACHE_DIR": str(cold_caches / "uv"),
                "PIP_CACHE_DIR": str(cold_caches / "pip"),
                "XDG_CACHE_HOME": str(cold_caches / "xdg"),
                "PIPENV_SYNC_CACHE_DIR": str(cold_caches / "pipenv-sync"),
            }

        def ours(venv: Path, *extra: str, cache: Path | None = None) -> list[str]:
            c = [ours_bin, "--project", str(project), "--venv", str(venv), "--prune", "-q", *extra]
            return [*c, "--cache-dir", str(cache)] if cache else c

        def uv_sync(venv: Path, *extra: str) -> list[str]:
            return [
                uv,
                "pip",
                "sync",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                *extra,
                str(project / "requirements.txt"),
            ]

        cold = [
            ("pipenv-sync", True, lambda v: [ours(v, cache=cold_caches / "pipenv-sync")]),
            ("uv pip sync (empty cache)", False, lambda v: [uv_sync(v)]),
        ]
        warm_cache = w.cache / "pipenv-sync"
        rebuild = [
            ("pipenv-sync", True, lambda v: [ours(v, "--rebuild", "--offline", cache=warm_cache)]),
            (
                "uv venv + uv pip sync --offline",
                False,
                lambda v: [[uv, "venv", "-q", "--python", w.python, str(v)], uv_sync(v, "--offline")],
            ),
        ]
        if "rebuild" in self.scenarios:  # warm both tools' caches once (untimed)
            v = base / "rebuild-warm"
            make_venv(w, v)
            check(ours(v, cache=warm_cache), env=self.env)
            make_venv(w, v)
            check(uv_sync(v), env=self.env)
        for rep in range(self.repeat):
            log(f"{name}: cold/rebuild repeat {rep + 1}/{self.repeat}")
            if "cold" in self.scenarios:
                for label, is_ours, cmds in rotate(cold, rep):
                    v = base / ("cold-" + re.sub(r"\W+", "-", label))
                    make_venv(w, v)
                    self._timed(name, "cold", label, is_ours, cmds(v), v, want, cold_env())
            if "rebuild" in self.scenarios:
                for label, is_ours, cmds in rotate(rebuild, rep):
                    v = base / ("rebuild-" + re.sub(r"\W+", "-", label))
                    if is_ours:  # an in-sync venv, rebuilt
                        make_venv(w, v)
                        check(ours(v, "--offline", cache=warm_cache), env=self.env)
                    elif v.exists():
                        shutil.rmtree(v)  # uv makes the venv itself, timed with the sync
                    self._timed(name, "rebuild", label, is_ours, cmds(v), v, want, self.env)
        shutil.rmtree(cold_caches, ignore_errors=True)

    def _timed(
        self,
        group: str,
        scenario: str,
        label: str,
        ours: bool,
        cmds: list[list[str]],
        venv: Path,
        want: set[tuple[str, str]],
        env: Mapping[str, str],
    ) -> None:
        total, peak, error, rc = 0.0, 0, "", 0
        for cmd in cmds:
            s = run_measured(cmd, env, cwd=self.work.root, log_path=self.logfile(f"{scenario}-{label}"))
            total, peak = total + s.seconds, max(peak, s.maxrss_kib)
            if s.error:
                error, rc = s.error, s.rc
                break
        row = self.results.row(group, scenario, label, ours=ours)
        row.samples.append(Sample(total, peak, rc, error))
        if not error:
            got = installed(venv)
            if {n for n, _v in got} != {n for n, _v in want}:
                row.notes.append("venv not in sync after it: " + describe_diff(got, want))

    def sync_ours(self, venv: Path, project: Path) -> None:
        w = self.work
        res = subprocess.run(
            [
                str(w.bin(w.tool, "pipenv-sync")),
                "--project",
                str(project),
                "--venv",
                str(venv),
                "--cache-dir",
                str(w.cache / "pipenv-sync"),
                "--prune",
                "-q",
            ],
            env=self.env,
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            self.sync_reference(venv, project)

    def one_round(self, name: str, t: Tool, venv: Path, project: Path) -> None:
        R = self.results
        sc = self.scenarios
        if t.key == "hook":
            self.fresh_venv(venv, t)
            self.sync_ours(venv, project)
            if installed(venv) != self.reference:
                self.sync_reference(venv, project)
            s = self.run_tool(t, venv, project, "d-b")
            R.row(name, "d-b", t.label).samples.append(s)
            self.drift(venv)
            s = self.run_tool(t, venv, project, "d-c")
            row = R.row(name, "d-c", t.label)
            row.samples.append(s)
            self.check_state(row, venv, s)
            return

        self.fresh_venv(venv, t)
        s = self.run_tool(t, venv, project, "a")
        if "a" in sc:
            row = R.row(name, "a", t.label, ours=t.ours)
            row.samples.append(s)
            self.check_state(row, venv, s)
            if not s.error and count_pyc(venv):
                row.notes.append(f"{count_pyc(venv)} .pyc written")
        if s.error or installed(venv) != self.reference:
            self.sync_reference(venv, project)  # so b and c still start from an in-sync venv
        if "b" in sc:
            s = self.run_tool(t, venv, project, "b")
            row = R.row(name, "b", t.label, ours=t.ours)
            row.samples.append(s)
            self.check_state(row, venv, s)
        if "c" in sc:
            if installed(venv) != self.reference:
                self.sync_reference(venv, project)
            self.drift(venv)
            s = self.run_tool(t, venv, project, "c")
            row = R.row(name, "c", t.label, ours=t.ours)
            row.samples.append(s)
            self.check_state(row, venv, s)

    def check_state(self, row: Row, venv: Path, s: Sample) -> None:
        if s.error:
            return
        got = installed(venv)
        if got != self.reference:
            row.notes.append("venv not in sync after it: " + describe_diff(got, self.reference))

    # -- scale
    def bench_scale(self) -> None:
        n_small, n_big, big_files = self.args.scale_packages, 3, 2000
        scale = self.work.root / "scale"
        wheels = scale / "wheels"
        log(f"scale: building {n_small} small wheels and {n_big} with {big_files} files")
        spec = build_scale(wheels, n_small, n_big, big_files)
        project = scale / "project"
        write_scale_project(self.work, project, wheels, spec)
        total_files = sum(n for _w, _h, n in spec.values())
        group = "scale"
        shape = f"{len(spec)} packages, {total_files} files"
        w = self.work
        ours_base = [
            str(w.bin(w.tool, "pipenv-sync")),
            "--project",
            str(project),
            "--cache-dir",
            str(w.cache / "pipenv-sync"),
            "--offline",
            "--prune",
            "-q",
            "--find-links",
            str(wheels),
        ]
        uv_base = [str(self.uv()), "pip", "sync", "-q", "--offline", "--no-index", "--find-links", str(wheels)]
        cases = [
            ("pipenv-sync", True, lambda v: [*ours_base, "--venv", str(v)]),
            (
                "uv pip sync --offline --no-index",
                False,
                lambda v: [*uv_base, "--python", str(v / "bin" / "python"), str(project / "requirements.txt")],
            ),
        ]
        venvs = {label: w.root / "venvs" / "scale" / re.sub(r"\W+", "-", label) for label, _o, _c in cases}
        for label, _ours, cmd in cases:  # warm-up
            make_venv(w, venvs[label])
            s = run_measured(cmd(venvs[label]), self.env, log_path=self.logfile("scale-warm"))
            if s.error:
                log(f"  warm-up of {label} failed: {s.error}")
        want = {(canon(n), "1.0") for n in spec}
        for rep in range(self.repeat):
            log(f"scale: repeat {rep + 1}/{self.repeat}")
            for label, ours, cmd in rotate(cases, rep):
                v = venvs[label]
                make_venv(w, v)
                for scen in ("scale-a", "scale-b"):
                    s = run_measured(cmd(v), self.env, log_path=self.logfile(f"scale-{label}"))
                    row = self.results.row(group, scen, label, ours=ours)
                    row.samples.append(s)
                    if not s.error and installed(v) != want:
                        row.notes.append("venv not in sync after it: " + describe_diff(installed(v), want))
        for label, _ours, _cmd in cases:
            row = self.results.find(group, "scale-a", label)
            med = row.median() if row else None
            if row is not None and med is not None:
                row.notes.append(
                    f"{shape}: {med / len(spec) * 1000:.2f} ms/package, {med / total_files * 1e6:.0f} us/file"
                )

    # -- goals (issue 16; the pipenv and hook lines are issue 7's)
    def add_goal_notes(self) -> None:
        R = self.results
        goals: list[str] = []

        def verdict(text: str, ratio: float, limit: float) -> None:
            goals.append(f"{text}: {ratio:.2f}x -> {'met' if ratio <= limit else 'NOT met'}")

        ours = "pipenv-sync"
        uvo = "uv pip sync --offline"
        for name in fixture_names(self.args.project):

            def med(scen: str, tool: str, name: str = name) -> float | None:
                row = R.find(name, scen, tool)
                return row.median() if row else None

            def rss(scen: str, tool: str, name: str = name) -> float | None:
                row = R.find(name, scen, tool)
                return row.peak_mib() if row else None

            checks = [
                ("a", uvo, 1.5 if name == "medium" else 2.0, "fresh"),
                ("b", uvo, 1.0, "no-op"),
                ("c", uvo, 1.5, "prune"),
                ("cold", "uv pip sync (empty cache)", 1.5, "cold"),
                ("compile", uvo, 1.5, "--compile"),
            ]
            for scen, peer, limit, text in checks:
                a, b = med(scen, ours), med(scen, peer)
                if a is not None and b is not None:
                    verdict(f"{name} {text} <= {limit:g}x {peer}", a / b, limit)
            a, b = med("a", "pipenv-sync (online: status check)"), med("a", ours)
            c, d = med("c", "pipenv-sync (online: status check)"), med("c", ours)
            if a is not None and b is not None and c is not None and d is not None:
                goals.append(
                    f"{name} status check (issue 17, online - offline): fresh {fmt_time(a - b)}, "
                    f"prune {fmt_time(c - d)}"
                )
            a, b = med("a", ours), med("a", "pipenv sync")
            if a is not None and b is not None:
                goals.append(
                    f"{name} (a) >= 10x faster than pipenv sync: {b / a:.1f}x -> {'met' if b / a >= 10 else 'NOT met'}"
                )
            start = R.find("-", "startup", "pipenv --version")
            st = start.median() if start else None
            for d_scen, base in (("d-b", "b"), ("d-c", "c")):
                got, ob = med(d_scen, "pipenv sync --prune (hook)"), med(base, ours)
                if got is not None and st is not None and ob is not None:
                    budget = st + ob
                    goals.append(
                        f"{name} ({d_scen[0]}) via pipenv {'no-op' if base == 'b' else 'prune'} "
                        f"<= pipenv --version + ({base}) "
                        f"= {fmt_time(budget)}: {fmt_time(got)} -> {'met' if got <= budget else 'NOT met'}"
                    )
            pairs = [(s_, uvo) for s_ in ("a", "b", "c", "compile")] + [("cold", "uv pip sync (empty cache)")]
            pairs.append(("rebuild", "uv venv + uv pip sync --offline"))
            seen = [(s_, rss(s_, ours), rss(s_, peer)) for s_, peer in pairs]
            seen = [(s_, a, b) for s_, a, b in seen if a is not None and b is not None]
            if seen:
                over = any(a > b for _s, a, b in seen)  # type: ignore[operator]
                shown = ", ".join(f"{s_} {a:.0f}/{b:.0f} MiB" for s_, a, b in seen)
                goals.append(f"{name} peak RSS below uv's (ours/uv: {shown}) -> {'NOT met' if over else 'met'}")
        ours_s = R.find("scale", "scale-a", "pipenv-sync")
        uv_s = R.find("scale", "scale-a", "uv pip sync --offline --no-index")
        a = ours_s.median() if ours_s else None
        b = uv_s.median() if uv_s else None
        if a is not None and b is not None:
            verdict("scale per-file cost <= 2x uv's", a / b, 2.0)  # the same files for both: the ratio of times
        if goals:
            R.footnotes.append("Goals (issue 16): " + "; ".join(goals) + ".")


def rotate(items: Sequence, k: int) -> list:  # type: ignore[type-arg]
    items = list(items)
    if not items:
        return items
    k %= len(items)
    return items[k:] + items[:k]


def du(path: Path) -> str:
    total = 0
    n = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
                n += 1
            except OSError:
                pass
    return f"{total / 2**20:.1f} MiB in {n} files"


# --------------------------------------------------------------------------- synthetic wheels (scale)
# After tests/support.py (build_wheel), copied so the harness stays stdlib-only.

ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(dest: Path, name: str, version: str, files: Mapping[str, bytes]) -> Path:
    """A small valid wheel with a real RECORD; byte-for-byte reproducible (fixed zip dates)."""
    dist = canon(name).replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    contents[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in contents.items()) + f"{dist_info}/RECORD,,\n"
    contents[f"{dist_info}/RECORD"] = record.encode()
    path = dest / f"{dist}-{version}-py3-none-any.whl"
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in contents.items():
            info = zipfile.ZipInfo(arcname, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    tmp.replace(path)
    return path


def build_scale(dest: Path, n_small: int, n_big: int, big_files: int) -> dict[str, tuple[Path, str, int]]:
    """name -> (wheel, sha256, files installed). Reused when already built with the same shape."""
    manifest = dest / "manifest.json"
    shape = [n_small, n_big, big_files, 1]
    if manifest.exists():
        data = json.loads(manifest.read_text())
        if data.get("shape") == shape and all((dest / w).exists() for w, _h, _n in data["wheels"].values()):
            return {k: (dest / w, h, n) for k, (w, h, n) in data["wheels"].items()}
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    spec: dict[str, tuple[Path, str, int]] = {}
    for i in range(n_small + n_big):
        big = i >= n_small
        name = f"bench-big-{i - n_small:02d}" if big else f"bench-small-{i:03d}"
        mod = canon(name).replace("-", "_")
        if big:
            files = {f"{mod}/sub{j // 100:02d}/m{j:04d}.py": f"X = {j}\n".encode() for j in range(big_files)}
        else:
            files = {
                f"{mod}/__init__.py": f"from .core import VALUE  # {i}\n".encode(),
                f"{mod}/core.py": (f"VALUE = {i}\n" + "def f(x):\n    return x * VALUE\n" * 20).encode(),
                f"{mod}/data.txt": (f"{name}\n" * 64).encode(),
            }
        wheel = build_wheel(dest, name, "1.0", files)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        spec[name] = (wheel, digest, len(files) + 3)
    manifest.write_text(json.dumps({"shape": shape, "wheels": {k: (w.name, h, n) for k, (w, h, n) in spec.items()}}))
    return spec


def write_scale_project(work: Work, project: Path, wheels: Path, spec: Mapping[str, tuple[Path, str, int]]) -> None:
    project.mkdir(parents=True, exist_ok=True)
    url = "https://pypi.org/simple"
    pipfile = project / "Pipfile"
    pipfile.write_text(
        f'[[source]]\nurl = "{url}"\nverify_ssl = true\nname = "pypi"\n\n[packages]\n'
        + "".join(f'{name} = "*"\n' for name in spec)
        + "\n[dev-packages]\n"
    )
    # pipenv's own Pipfile hash, computed by the installed project (not by importing tests)
    res = subprocess.run(
        [
            str(work.bin(work.tool, "python")),
            "-c",
            "import sys; from pathlib import Path; from pipenv_sync_ext.lock.freshness import pipfile_hash; "
            "print(pipfile_hash(Path(sys.argv[1])))",
            str(pipfile),
        ],
        capture_output=True,
        text=True,
    )
    pf_hash = res.stdout.strip() if res.returncode == 0 else "0" * 64
    lock = {
        "_meta": {
            "hash": {"sha256": pf_hash},
            "pipfile-spec": 6,
            "requires": {},
            "sources": [{"name": "pypi", "url": url, "verify_ssl": True}],
        },
        "default": {name: {"hashes": [f"sha256:{h}"], "version": "==1.0"} for name, (_w, h, _n) in spec.items()},
        "develop": {},
    }
    (project / "Pipfile.lock").write_text(json.dumps(lock, indent=4, sort_keys=True) + "\n")
    (project / "requirements.txt").write_text(
        "".join(f"{name}==1.0 --hash=sha256:{h}\n" for name, (_w, h, _n) in spec.items())
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--project", choices=["small", "medium", "all"], default="all", help="fixture project(s) (default: all)"
    )
    p.add_argument("--repeat", type=int, default=5, help="timed runs per tool and scenario (default: 5)")
    p.add_argument(
        "--scenarios",
        default=",".join(ALL_SCENARIOS),
        help=f"comma separated, from {','.join(ALL_SCENARIOS)} (default: all)",
    )
    p.add_argument("--out", type=Path, help="also write the table to this file")
    p.add_argument(
        "--fixtures",
        default=str(REPO.parent / "shared" / "fixtures"),
        help="directory holding project-small/ and project-medium/ (default: ../shared/fixtures)",
    )
    p.add_argument("--work", default=str(HERE / ".work"), help="work dir for venvs and caches (default: bench/.work)")
    p.add_argument(
        "--python",
        default=os.path.realpath(sys.executable),
        help="interpreter for every venv (default: the one running this script)",
    )
    p.add_argument("--editable", action="store_true", help="install this project with pip install -e")
    p.add_argument("--scale-packages", type=int, default=300, help="small wheels in the scale lock (default: 300)")
    args = p.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(ALL_SCENARIOS)
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.out:
        args.out = args.out.resolve()
    args.fixtures = str(Path(args.fixtures).resolve())
    bench = Bench(args)
    table = bench.run()
    print(table)
    if args.out:
        args.out.write_text(table)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
