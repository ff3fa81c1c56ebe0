#!/usr/bin/env python3
"""What the index status check (issue 17) adds to an online prune, on this machine's route and on a PyPI-like one.

Stdlib only, plus nginx (``apt-get install nginx-light``). Uses ``bench/run.py``'s work
dir: run ``python3 bench/run.py --project medium --scenarios c --repeat 1`` once first
(it installs the tool and the peers and warms the store).

Three ways to run the same prune of project-medium (in sync, plus 5 extra packages and
one locked package at an older version), alternated ``--repeat`` times:

offline    ``--offline``: no status check; the floor
route      online through this machine's route to PyPI, which strips ``ETag``,
           ``Last-Modified``, ``Cache-Control`` and gzip: every check fetches 18.6 MB
pypi-like  online against nginx on loopback, over TLS, serving the same JSON pages
           (captured once from the route) with ``ETag`` and gzip, as pypi.org does, but
           without its ``Cache-Control: max-age=600`` (within which no request is made at
           all, as offline): every check is one conditional request per project, a
           body-less ``304``
max-age    the same with pypi.org's ``Cache-Control: max-age=600, public`` too: within
           those 10 minutes the cached answer is used and no request is made

It prints the median of each, what the check adds (median minus offline), and how
many of nginx's answers were 304s. Loopback has no round-trip time; a real index adds
about 8 round trips (TLS set-up, then 46 requests over 8 connections).

    python3 bench/status_route.py [--repeat N] [--work DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  (bench/run.py: the work dir layout, the environment, the timer)

EXTRAS = ["toml", "tabulate", "termcolor", "appdirs", "colorama"]
JSON = "application/vnd.pypi.simple.v1+json"

NGINX_CONF = """\
worker_processes 1;
daemon on;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
    {servers}
}}
"""


SERVER = """\
server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        root {root}/www;
        index index.json;
        default_type {json};
        etag on;
        gzip on;
        gzip_min_length 1;
        gzip_types {json};
        keepalive_requests 1000;
        {extra}
    }}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def capture(names: list[str], www: Path) -> None:
    """Each project's PEP 691 page from the lock's index (pypi.org), as the route serves it."""
    for name in names:
        target = www / "simple" / name / "index.json"
        if target.exists():
            continue
        request = urllib.request.Request(f"https://pypi.org/simple/{name}/", headers={"Accept": JSON})
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)


def start_nginx(root: Path) -> tuple[int, int]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        sys.exit("status_route: nginx not found (apt-get install nginx-light)")
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    if not (root / "cert.pem").exists():
        bench.check(
            [
                *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
                *("-days", "30", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
                *("-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")),
            ]
        )
    port, port2 = free_port(), free_port()
    conf = root / "nginx.conf"
    plain = SERVER.format(root=root, port=port, json=JSON, extra="")
    max_age = SERVER.format(root=root, port=port2, json=JSON, extra='add_header Cache-Control "max-age=600, public";')
    conf.write_text(NGINX_CONF.format(root=root, servers=f"{plain}\n    {max_age}"))
    bench.check([nginx, "-c", str(conf), "-e", str(root / "error.log")])
    return port, port2


def stop_nginx(root: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int((root / "nginx.pid").read_text()), 15)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=8)
    p.add_argument("--work", default=str(HERE / ".work"))
    args = p.parse_args()
    work = bench.Work(Path(args.work).resolve(), sys.executable)
    project = work.root / "projects" / "medium" / "ours"
    tool = work.bin(work.tool, "pipenv-sync")
    if not (project.is_dir() and tool.exists()):
        sys.exit("status_route: run `python3 bench/run.py --project medium --scenarios c --repeat 1` first")
    lock = json.loads((project / "Pipfile.lock").read_text())
    locked = lock["default"]
    drift_pkg = next(n for n in bench.DRIFT_CANDIDATES if n in locked)
    drift = f"{drift_pkg}<{locked[drift_pkg]['version'].lstrip('=')}"
    root = work.root / "status-route"
    capture(sorted(locked), root / "www")
    env = bench.clean_env(work)
    venv = root / "venv"
    cache = work.cache / "pipenv-sync"
    uv = work.bin(work.peers, "uv")
    setup_env = {**env, "UV_CACHE_DIR": str(work.cache / "uv-setup")}
    base = [str(tool), "--project", str(project), "--venv", str(venv), "--cache-dir", str(cache), "--prune", "-q"]
    port, port2 = start_nginx(root)
    try:
        trusted = {**env, "PIP_CERT": str(root / "cert.pem")}
        modes = {
            "offline": ([*base, "--offline"], env),
            "route": (base, env),
            "pypi-like": ([*base, f"--index-url=https://127.0.0.1:{port}/simple", "--no-lock-sources"], trusted),
            "max-age": ([*base, f"--index-url=https://127.0.0.1:{port2}/simple", "--no-lock-sources"], trusted),
        }
        if venv.exists():
            shutil.rmtree(venv)
        bench.make_venv(work, venv)
        drifted = [uv, "pip", "install", "-q", "--no-deps", "--python", venv / "bin/python", *EXTRAS, drift]
        for cmd, e in modes.values():  # each a real prune once: every status cache warm (the ETags recorded)
            bench.check(drifted, env=setup_env)
            bench.check(cmd, env=e)
        (root / "access.log").write_text("")
        times: dict[str, list[float]] = {m: [] for m in modes}
        load = os.getloadavg()[0]
        for i in range(args.repeat):
            order = list(modes)[i % len(modes) :] + list(modes)[: i % len(modes)]
            for mode in order:
                bench.check(drifted, env=setup_env)
                cmd, e = modes[mode]
                sample = bench.run_measured(cmd, e, cwd=project)
                if sample.rc != 0:
                    sys.exit(f"status_route: {mode}: {sample.error}")
                times[mode].append(sample.seconds)
        statuses = [
            line.split('"')[2].split()[0] for line in (root / "access.log").read_text().splitlines() if '"' in line
        ]
    finally:
        stop_nginx(root)
    floor = statistics.median(times["offline"])
    print(f"project-medium prune, {args.repeat} rounds alternated, load {load:.1f} -> {os.getloadavg()[0]:.1f}")
    for mode, samples in times.items():
        median = statistics.median(samples)
        added = "" if mode == "offline" else f"  check adds {1000 * (median - floor):+.0f} ms"
        spread = f"min {1000 * min(samples):.0f}, max {1000 * max(samples):.0f}"
        print(f"  {mode:10} median {1000 * median:5.0f} ms  ({spread}){added}")
    print(f"  nginx answered {len(statuses)} requests: {statuses.count('304')} x 304, {statuses.count('200')} x 200")
    return 0


if __name__ == "__main__":
    sys.exit(main())
