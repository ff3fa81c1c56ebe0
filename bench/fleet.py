#!/usr/bin/env python3
"""Fleet benchmark (issue 13 part 4): N hosts sync project-medium from one wheelhouse served by a real nginx.

Stdlib only. One run:

1. installs nginx when missing (``apt-get install -y nginx-light``, then ``nginx``);
   only when neither installs does it fall back to Python's ``http.server`` (and says
   so in its output and table);
2. builds the wheelhouse once with ``pipenv-sync fetch --wheelhouse`` from the
   lock's own index (PyPI), cached under ``bench/.work/fleet/`` (rebuilt when the
   lock changes);
3. serves it on loopback, one address per host (``127.0.0.N:PORT``, all listened to
   by one nginx), so the access log tells the hosts apart by ``$server_addr``; the
   nginx config negotiates PEP 691: ``Accept: application/vnd.pypi.simple.v1+json``
   gets ``simple/<project>/index.json`` as that type, anything else the HTML page;
4. for each N (``--hosts 1,10,50``) starts N hosts at once, each a separate
   ``pipenv-sync --prune`` process with its own fresh venv and its own store and
   caches: cold (empty store), then again (in sync: answered by the stamp), then
   into a fresh venv with the warm store (only the index status check asks);
5. a kill-and-restart run: N fresh hosts, nginx killed (SIGKILL, every worker)
   after ``--kill-after`` requests (default: half-way through a cold run, among the downloads),
   restarted ``--down`` seconds later; every host
   must end synced (installed set == the lock's, ``--check`` exit 0) or unchanged
   (the venv's files as before, exit non-zero with a ``pipenv-sync: error:`` line),
   never half-installed; the unchanged ones are then synced again.

How hosts reach the server (``--mode``): ``find-links`` (default) passes
``--find-links http://127.0.0.N:PORT/`` (the flat page) and ``index-url`` passes
``--index-url .../simple/``, each with ``--no-lock-sources`` where the tool has it
(else ``--pypi-mirror`` pointed at a closed loopback port), so the lock's own source
is never reached; ``mirror`` passes ``--pypi-mirror http://127.0.0.N:PORT/simple``
(the lock names only PyPI, so the mirror replaces it: no other network), for a tool
without remote find-links and mirrors.

    python3 bench/fleet.py [--hosts 1,10,50] [--mode find-links|index-url|mirror]
                           [--kill-hosts N] [--kill-after K] [--tool PATH] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROTECTED = {"pip", "setuptools", "wheel", "distribute", "pkg-resources"}
CLOSED = "http://127.0.0.1:9/simple"  # the discard port: nothing listens, a connection is refused at once
TIMEOUT = 1800.0


def log(msg: str) -> None:
    print(f"[fleet {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check(cmd: Sequence[str | os.PathLike[str]], env: Mapping[str, str] | None = None) -> str:
    res = subprocess.run([str(c) for c in cmd], env=None if env is None else dict(env), capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def remove(path: Path) -> None:
    """``rm -rf``: a host's venv and store are ~23,000 files (project-medium): rm is faster than shutil.rmtree."""
    if path.exists():
        subprocess.run(["rm", "-rf", "--", str(path)], check=True)


def clean_env(home: Path) -> dict[str, str]:
    """No user configuration (pip.conf, PIP_*, proxies), every cache under ``home``."""
    drop = ("PIP_", "PIPENV_", "VIRTUAL_ENV", "UV_", "CONDA", "PYTHONPATH", "PYTHONHOME")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k.lower() not in proxies}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_CACHE_DIR=str(home / "pip"),
        PIPENV_CACHE_DIR=str(home / "pipenv"),
        PIPENV_SYNC_CACHE_DIR=str(home / "store"),
        XDG_CACHE_HOME=str(home / "xdg"),
        WORKON_HOME=str(home / "workon"),
        NO_COLOR="1",
    )
    return env


# --------------------------------------------------------------------------- the server


NGINX_CONF = """
worker_processes 2;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format fleet '$server_addr $status $body_bytes_sent "$request_uri" "$sent_http_content_type"';
    access_log {work}/access.log fleet;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    types {{ text/html html; application/octet-stream whl gz zip; application/json json; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    keepalive_requests 10000;
    # PEP 691 by content negotiation: a static tree has both pages, the Accept header picks one
    map $http_accept $simple_page {{
        default index.html;
        "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;
    }}
    server {{
{listen}
        root {root};
        location / {{ index index.html; }}
        location /simple/ {{
            index $simple_page index.html;
            add_header Vary Accept;
            types {{ text/html html; application/vnd.pypi.simple.v1+json json; }}
        }}
    }}
}}
"""

# The fallback: Python's http.server handler, one listener per host address, logging as nginx does.
FALLBACK_SERVER = r"""
import functools, http.server, sys, threading
root, port, log, addrs = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "a", buffering=1), sys.argv[4:]
lock = threading.Lock()
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def log_request(self, code="-", size="-"):  # http.server does not know the body size here: "-"
        with lock:
            log.write(f'{self.server.server_address[0]} {code} {size} "{self.path}" "-"\n')
servers = [http.server.ThreadingHTTPServer((a, port), functools.partial(H, directory=root)) for a in addrs]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""


def host_addr(i: int) -> str:
    return f"127.0.0.{i + 1}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_nginx() -> str | None:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for package in ("nginx-light", "nginx"):
        log(f"nginx is missing: apt-get install -y {package}")
        if subprocess.run(["apt-get", "install", "-y", "-q", package], env=env, capture_output=True).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", package], env=env, capture_output=True)
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
        if found:
            return found
    return None


@dataclass
class Server:
    """nginx (or the fallback) serving ``root`` on ``127.0.0.1..N:port``; started, killed and restarted by us."""

    work: Path
    root: Path
    port: int
    hosts: int
    nginx: str | None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def kind(self) -> str:
        return "nginx" if self.nginx else "python http.server (nginx could not be installed)"

    @property
    def access_log(self) -> Path:
        return self.work / "access.log"

    def start(self) -> None:
        addrs = [host_addr(i) for i in range(self.hosts)]
        if self.nginx:
            for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (self.work / "tmp" / d).mkdir(parents=True, exist_ok=True)
            listen = "\n".join(f"        listen {a}:{self.port};" for a in addrs)
            conf = self.work / "nginx.conf"
            conf.write_text(NGINX_CONF.format(work=self.work, root=self.root, listen=listen))
            cmd = [self.nginx, "-c", str(conf), "-p", str(self.work)]
        else:
            cmd = [sys.executable, "-c", FALLBACK_SERVER, str(self.root), str(self.port), str(self.access_log), *addrs]
        self.proc = subprocess.Popen(cmd, start_new_session=True, stderr=open(self.work / "server.stderr", "ab"))  # noqa: SIM115
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((addrs[-1], self.port), timeout=1):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the server did not start: see {self.work / 'server.stderr'} and nginx-error.log")

    def kill(self) -> None:
        """SIGKILL to the whole process group (master and workers): connections die mid-transfer."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def lines(self) -> int:
        try:
            with self.access_log.open("rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def records(self, start: int) -> list[tuple[str, int, int, str, str]]:
        """(server address, status, body bytes, request uri, content type) of every request after line ``start``."""
        rows = []
        with self.access_log.open(encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f):
                m = re.match(r'(\S+) (\d+) (\d+|-) "([^"]*)" "([^"]*)"', line)
                if n >= start and m:
                    size = int(m[3]) if m[3].isdigit() else 0
                    rows.append((m[1], int(m[2]), size, m[4], m[5]))
        return rows


# --------------------------------------------------------------------------- hosts


@dataclass
class Host:
    i: int
    root: Path
    rc: int = -1
    seconds: float = 0.0
    stderr: str = ""

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def addr(self) -> str:
        return host_addr(self.i)


def site_packages(venv: Path) -> Path | None:
    found = sorted((venv / "lib").glob("python*/site-packages"))
    return found[0] if found else None


def installed(venv: Path) -> set[tuple[str, str]]:
    sp = site_packages(venv)
    names = set()
    for entry in os.listdir(sp) if sp else ():
        if entry.endswith(".dist-info"):
            name, _, version = entry[: -len(".dist-info")].partition("-")
            if canon(name) not in PROTECTED:
                names.add((canon(name), version))
    return names


def tree(path: Path) -> dict[str, int]:
    """Every path under ``path`` with its size: to tell an unchanged venv from a touched one."""
    found = {}
    for dirpath, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            p = Path(dirpath, name)
            found[str(p.relative_to(path))] = p.lstat().st_size if not p.is_dir() else -1
    return found


@dataclass
class Fleet:
    args: argparse.Namespace
    tool: str
    python: str
    project: Path
    server: Server
    wanted: set[tuple[str, str]] = field(default_factory=set)

    def source_args(self, host: Host) -> list[str]:
        base = f"http://{host.addr}:{self.server.port}"
        if self.args.mode == "mirror":
            return ["--pypi-mirror", f"{base}/simple"]
        # the lock's own source must not be reached: left out where the tool can, else a closed port
        alone = ["--no-lock-sources"] if self.no_lock_sources else ["--pypi-mirror", CLOSED]
        if self.args.mode == "find-links":
            return ["--find-links", f"{base}/", *alone]
        return ["--index-url", f"{base}/simple/", *alone]

    @functools.cached_property
    def no_lock_sources(self) -> bool:
        return "--no-lock-sources" in subprocess.run([self.tool, "--help"], capture_output=True, text=True).stdout

    def command(self, host: Host, *extra: str) -> list[str]:
        return [self.tool, "--project", str(self.project), "--venv", str(host.venv),
                "--cache-dir", str(host.root / "store"), "--prune", *self.source_args(host), *extra]  # fmt: skip

    def hosts(self, n: int, label: str) -> list[Host]:
        base = self.args.work / "hosts" / label
        remove(base)
        hosts = [Host(i, base / f"h{i:02d}") for i in range(n)]
        for h in hosts:
            h.root.mkdir(parents=True)
            check([self.python, "-m", "venv", "--without-pip", str(h.venv)])
        return hosts

    def run(self, hosts: list[Host], *extra: str) -> None:
        """All hosts at once, each its own process; per-host wall time from spawn to exit."""

        def one(h: Host) -> None:
            t0 = time.perf_counter()
            res = subprocess.run(self.command(h, *extra), env=clean_env(h.root), capture_output=True, text=True,
                                 timeout=TIMEOUT)  # fmt: skip
            h.seconds, h.rc, h.stderr = time.perf_counter() - t0, res.returncode, res.stderr
            (h.root / "stderr.log").write_text(res.stderr)  # kept for a look after the run (-v details)

        threads = [threading.Thread(target=one, args=(h,)) for h in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(q * len(ordered))) - 1)]  # nearest rank


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


@dataclass
class Row:
    hosts: int
    run: str
    ok: int
    median: float
    p95: float
    requests: float  # per host, median
    pages: float
    files: float
    bytes: float
    duplicates: int  # file requests beyond one per distinct file, all hosts
    json_pages: int
    not_modified: int  # 304 answers (a conditional status check of an unchanged page)
    total: int
    note: str = ""


def measure(fleet: Fleet, hosts: list[Host], label: str, run: str, *extra: str) -> Row:
    start = fleet.server.lines()
    t0 = time.perf_counter()
    fleet.run(hosts, *extra)
    log(f"  {label} {run}: {len(hosts)} host(s) in {time.perf_counter() - t0:.1f} s")
    time.sleep(0.2)  # nginx writes its log line after the response
    records = fleet.server.records(start)
    by_host: dict[str, list[tuple[str, int, int, str, str]]] = {}
    for r in records:
        by_host.setdefault(r[0], []).append(r)
    reqs, pages, files, sizes = [], [], [], []
    duplicates = 0
    for h in hosts:
        mine = by_host.get(h.addr, [])
        got = [r[3] for r in mine if not r[3].endswith("/") and "/simple/" not in r[3]]
        reqs.append(len(mine))
        files.append(len(got))
        pages.append(len(mine) - len(got))
        sizes.append(sum(r[2] for r in mine))
        duplicates += len(got) - len(set(got))
    bad = [h for h in hosts if h.rc != 0 or installed(h.venv) != fleet.wanted]
    note = ""
    if bad:
        note = f"{len(bad)} failed: " + (bad[0].stderr.strip().splitlines() or ["?"])[-1][:120]
    return Row(
        hosts=len(hosts),
        run=run,
        ok=len(hosts) - len(bad),
        median=statistics.median(h.seconds for h in hosts),
        p95=percentile([h.seconds for h in hosts], 0.95),
        requests=statistics.median(reqs),
        pages=statistics.median(pages),
        files=statistics.median(files),
        bytes=statistics.median(sizes),
        duplicates=duplicates,
        json_pages=sum(1 for r in records if "json" in r[4]),
        not_modified=sum(1 for r in records if r[1] == 304),
        total=len(records),
        note=note,
    )


@dataclass
class KillResult:
    hosts: int
    killed_after: int | None  # requests served when nginx was killed; None: the run ended first
    down: float
    synced: int
    unchanged: int
    half: int
    check_agrees: int
    resynced: int
    errors: list[str]


def kill_and_restart(fleet: Fleet, n: int) -> KillResult:
    """N fresh hosts; the server killed after ``--kill-after`` requests and restarted ``--down`` s later."""
    hosts = fleet.hosts(n, "kill")
    before = {h.i: tree(h.venv) for h in hosts}
    start = fleet.server.lines()
    runner = threading.Thread(target=fleet.run, args=(hosts,))
    runner.start()
    killed_after = None
    while runner.is_alive():
        served = fleet.server.lines() - start
        if served >= fleet.args.kill_after:
            fleet.server.kill()
            killed_after = served
            log(f"  killed the server after {served} request(s); restarting in {fleet.args.down} s")
            time.sleep(fleet.args.down)
            fleet.server.start()
            break
        time.sleep(0.01)
    runner.join()
    synced, unchanged, half, errors = [], [], [], []
    for h in hosts:
        now = installed(h.venv)
        error = next((line for line in h.stderr.splitlines() if line.startswith("pipenv-sync: error:")), "")
        if h.rc == 0 and now == fleet.wanted:
            synced.append(h)
        elif h.rc != 0 and tree(h.venv) == before[h.i] and error:
            unchanged.append(h)
            # one line per kind of error: the host's address, the port, the project path and counts made alike
            text = error.removeprefix("pipenv-sync: error: ").replace(f"{fleet.project}/", "")
            text = re.sub(r"127\.0\.0\.\d+:\d+", "127.0.0.N:PORT", text)
            errors.append(re.sub(r"\b\d+ (locked )?package", r"K \1package", text)[:140])
        else:
            half.append(h)
            errors.append(f"HALF-INSTALLED host {h.i}: rc {h.rc}, {len(now)} of {len(fleet.wanted)} packages")
    # the tool's own verdict agrees: --check is 0 for a synced venv, 5 (not in sync) for an unchanged one
    agrees = 0
    for h in hosts:
        res = subprocess.run(fleet.command(h, "--check"), env=clean_env(h.root), capture_output=True, text=True)
        agrees += res.returncode == (0 if h in synced else 5)
    fleet.run(unchanged)  # the server is back: the hosts that stopped cleanly now sync
    resynced = sum(1 for h in unchanged if h.rc == 0 and installed(h.venv) == fleet.wanted)
    counted = [f"{errors.count(e)}x {e}" for e in sorted(set(errors))]
    return KillResult(n, killed_after, fleet.args.down, len(synced), len(unchanged), len(half), agrees, resynced,
                      counted)  # fmt: skip


# --------------------------------------------------------------------------- setup


def setup_tool(args: argparse.Namespace) -> str:
    if args.tool:
        return str(Path(args.tool).resolve())
    venv = args.work / "tool"
    if not (venv / "bin" / "python").exists():
        check([sys.executable, "-m", "venv", str(venv)])
    log(f"installing {REPO} into {venv}")
    check([venv / "bin" / "pip", "install", "-q", str(REPO)])
    check([venv / "bin" / "pip", "install", "-q", "--force-reinstall", "--no-deps", str(REPO)])  # this checkout's code
    return str(venv / "bin" / "pipenv-sync")


def setup_project(args: argparse.Namespace) -> Path:
    src = Path(args.fixtures) / f"project-{args.project}"
    dest = Path(args.work) / "project"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)
    return dest


def setup_wheelhouse(args: argparse.Namespace, tool: str, project: Path) -> Path:
    """``fetch --wheelhouse`` from the lock's index, once per lock (and again when the tool's pages change)."""
    wh = Path(args.work) / "wheelhouse"
    stamp = args.work / "wheelhouse.stamp"
    key = hashlib.sha256((project / "Pipfile.lock").read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == key and (wh / "index.html").is_file():
        check([tool, "fetch", "--project", project, "--wheelhouse", wh, "--offline", "-q",
               "--cache-dir", args.work / "build" / "store"], clean_env(args.work / "build"))  # fmt: skip
        return wh
    log(f"building the wheelhouse {wh} with `pipenv-sync fetch --wheelhouse` (from the lock's index)")
    check([tool, "fetch", "--project", project, "--wheelhouse", wh, "-q",
           "--cache-dir", args.work / "build" / "store"], clean_env(args.work / "build"))  # fmt: skip
    stamp.write_text(key)
    return wh


def reference(fleet: Fleet, wh: Path) -> set[tuple[str, str]]:
    """What a synced host has: one offline sync from the wheelhouse directory (no server involved)."""
    [h] = fleet.hosts(1, "reference")
    cmd = [fleet.tool, "--project", str(fleet.project), "--venv", str(h.venv), "--cache-dir", str(h.root / "store"),
           "--prune", "--offline", "--find-links", str(wh)]  # fmt: skip
    check(cmd, clean_env(h.root))
    wanted = installed(h.venv)
    lock = json.loads((fleet.project / "Pipfile.lock").read_text())
    pins = {(canon(n), e.get("version", "").lstrip("=")) for n, e in lock["default"].items()}
    if not wanted or not wanted <= pins:
        raise RuntimeError(f"the reference sync installed {sorted(wanted - pins)} that the lock does not pin")
    return wanted


# --------------------------------------------------------------------------- report


def rst_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    return "\n".join([rule, line(header), rule, *(line(r) for r in rows), rule])


def render(rows: list[Row], kills: list[KillResult], meta: Mapping[str, str]) -> str:
    out = [f"{k}: {v}" for k, v in meta.items()]
    header = ["hosts", "run", "ok", "median", "p95", "req/host", "pages/host", "files/host", "bytes/host",
              "dup files", "JSON pages", "304", "server total", "note"]  # fmt: skip
    out += [] if not rows else ["", rst_table(header, [
        [str(r.hosts), r.run, f"{r.ok}/{r.hosts}", f"{r.median:.2f} s", f"{r.p95:.2f} s", f"{r.requests:g}",
         f"{r.pages:g}", f"{r.files:g}", human(r.bytes), str(r.duplicates), str(r.json_pages),
         str(r.not_modified), str(r.total), r.note or "-"]
        for r in rows])]  # fmt: skip
    if kills:
        header = ["hosts", "killed after", "down", "synced", "unchanged + error", "half-installed",
                  "--check agrees", "resynced", "errors seen"]  # fmt: skip
        out += ["", rst_table(header, [
            [str(k.hosts), "-" if k.killed_after is None else f"{k.killed_after} req", f"{k.down:g} s",
             str(k.synced), str(k.unchanged), str(k.half), f"{k.check_agrees}/{k.hosts}", f"{k.resynced}/{k.unchanged}",
             "; ".join(k.errors[:2]) or "-"]
            for k in kills])]  # fmt: skip
    return "\n".join(out) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--hosts", default="1,10", help="comma-separated fleet sizes (default 1,10; the README's: 1,10,50)")
    p.add_argument("--mode", choices=["find-links", "index-url", "mirror"], default="find-links",
                   help="how hosts are pointed at the server (default: --find-links URL/)")  # fmt: skip
    p.add_argument("--kill-hosts", type=int, default=None, help="hosts killed and restarted (default: largest N)")
    p.add_argument("--kill-after", type=int, default=None, help="kill after K requests (default: half a cold run)")
    p.add_argument("--down", type=float, default=5.0, help="seconds the server stays down (default 5)")
    p.add_argument("--no-kill", action="store_true", help="skip the kill-and-restart run")
    p.add_argument("--project", default="medium", help="fixture project-NAME (default medium)")
    p.add_argument("--fixtures", default=str(REPO.parent / "shared" / "fixtures"),
                   help="directory holding project-medium/ (default ../shared/fixtures)")  # fmt: skip
    p.add_argument("--fixtures-fallback", default="/work/shared/fixtures", help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, default=HERE / ".work" / "fleet", help="work dir (default bench/.work/fleet)")
    p.add_argument("--tool", help="an installed pipenv-sync to use (default: install this checkout under --work)")
    p.add_argument("--python", help="the hosts' interpreter (default: the lock's python_version, else this one)")
    p.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    p.add_argument("--http-server", action="store_true", help="use the http.server fallback even if nginx exists")
    p.add_argument("--out", help="also write the table to FILE")
    args = p.parse_args(argv)
    if not Path(args.fixtures, f"project-{args.project}").is_dir():
        args.fixtures = args.fixtures_fallback
    args.work = args.work.resolve()
    return args


def hosts_python(args: argparse.Namespace, project: Path) -> str:
    if args.python:
        return str(args.python)
    version = json.loads((project / "Pipfile.lock").read_text())["_meta"].get("requires", {}).get("python_version")
    if version and f"{sys.version_info[0]}.{sys.version_info[1]}" != version:
        return shutil.which(f"python{version}") or sys.executable
    return sys.executable


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [int(n) for n in args.hosts.split(",") if n.strip()]
    args.work.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    tool = setup_tool(args)
    project = setup_project(args)
    wh = setup_wheelhouse(args, tool, project)
    if args.mode == "find-links" and not (wh / "index.html").is_file():
        raise SystemExit(f"fleet: {wh} has no flat index.html (a tool without site pages): use --mode mirror")
    nginx = None if args.http_server else find_nginx()
    if nginx is None:
        log("nginx is not available (and could not be installed): falling back to Python's http.server")
    server_dir = args.work / "server"
    shutil.rmtree(server_dir, ignore_errors=True)
    server_dir.mkdir(parents=True)
    server = Server(server_dir, wh, args.port or free_port(), max([*sizes, args.kill_hosts or 1]), nginx)
    server.start()
    fleet = Fleet(args, tool, hosts_python(args, project), project, server)
    rows: list[Row] = []
    kills: list[KillResult] = []
    try:
        fleet.wanted = reference(fleet, wh)
        where = f"127.0.0.1..{server.hosts}:{server.port}"
        log(f"reference: {len(fleet.wanted)} packages; server: {server.kind} on {where}")
        for n in sizes:
            hosts = fleet.hosts(n, f"n{n}")
            rows.append(measure(fleet, hosts, f"N={n}", "cold"))
            rows.append(measure(fleet, hosts, f"N={n}", "again (in sync)"))
            for h in hosts:  # a rebuilt host: fresh venv, the store it already has
                remove(h.venv)
                check([fleet.python, "-m", "venv", "--without-pip", str(h.venv)])
            rows.append(measure(fleet, hosts, f"N={n}", "fresh venv, warm store"))
            remove(hosts[0].root.parent)  # 50 stores and venvs are ~10 GB
        if not args.no_kill:
            n = args.kill_hosts or max(sizes or [1])
            # default: half-way through a cold run of n hosts (pages first, then files: among the downloads)
            # (requests per cold host as measured at the largest N, else mirror mode's 138)
            per_host = next((r.total / r.hosts for r in reversed(rows) if r.run == "cold"), 138.0)
            args.kill_after = args.kill_after or max(1, int(per_host * n / 2))
            kills.append(kill_and_restart(fleet, n))
    finally:
        server.stop()
    version = ""
    if nginx:
        version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "server": f"{server.kind} {version}".strip(),
        "mode": f"{args.mode} ({' '.join(fleet.source_args(Host(0, args.work)))})",
        "project": f"project-{args.project}: {len(fleet.wanted)} packages, wheelhouse "
        f"{human(sum(p.stat().st_size for p in wh.iterdir() if p.is_file()))}",
        "tool": check([tool, "--version"]).strip(),
        "cpus": str(os.cpu_count()),
        "load average (start, end)": f"{load_start[0]:.2f}, {os.getloadavg()[0]:.2f}",
    }
    if not nginx:
        meta["note"] = "http.server logs no body sizes: bytes/host reads 0; requests are counted"
    text = render(rows, kills, meta)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    bad = any(r.ok != r.hosts for r in rows) or any(k.half for k in kills)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
