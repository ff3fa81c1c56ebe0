"""Real parts for tests: wheels built on the fly, a loopback simple index that
counts its requests, real venvs, and the real CLI run as a subprocess."""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from pipenv_sync_ext.lock.freshness import pipfile_hash


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    files: Mapping[str, bytes] | None = None,
    requires: Iterable[str] = (),
    tag: str = "py3-none-any",
    console_scripts: Mapping[str, str] | None = None,
) -> Path:
    """A small, valid wheel (RECORD with real hashes)."""
    dist = canonicalize_name(name).replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    contents: dict[str, bytes] = dict(
        files if files is not None else {f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode()}
    )
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    contents[f"{dist_info}/METADATA"] = metadata.encode()
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()
    )
    if console_scripts:
        body = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in console_scripts.items())
        contents[f"{dist_info}/entry_points.txt"] = body.encode()
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items())
    record += f"{dist_info}/RECORD,,\n"
    contents[f"{dist_info}/RECORD"] = record.encode()
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in contents.items():
            zf.writestr(arcname, data)
    return path


@dataclass
class Index:
    """A PEP 503/691 simple index on 127.0.0.1 that counts every request."""

    files: dict[str, list[Path]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    json_api: bool = False
    url: str = ""
    # (path, Authorization header or None) for every request: to prove where credentials went
    auth_seen: list[tuple[str, str | None]] = field(default_factory=list)
    # when set, /files/ requests answer 302 to this netloc (same server, another host name)
    redirect_files_to: str | None = None
    # project -> (content type, body) served instead of the generated listing
    raw_pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    # file name -> faults, one used up per request of that file: "500" answers HTTP 500,
    # "drop" sends the headers (full Content-Length) and half the body, then closes the connection
    faults: dict[str, list[str]] = field(default_factory=dict)
    # extra headers on file responses (e.g. PyPI's Cache-Control, which makes pip cache them)
    file_headers: dict[str, str] = field(default_factory=dict)
    # absolute URLs of requests received as an HTTP proxy (the server answers them as the index)
    proxied: list[str] = field(default_factory=list)
    # file name -> yanked reason ("" for none): PEP 592 data-yanked / PEP 691 "yanked"
    yanked: dict[str, str] = field(default_factory=dict)
    # project -> (PEP 792 status, reason or None), as "project-status" / pypi:project-status meta tags
    project_status: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # listing pages carry an ETag and answer a matching If-None-Match with 304 (off: pip's HTTP
    # cache would keep the pages too, which tests of that cache do not expect)
    etags: bool = False
    # extra headers on listing responses (e.g. PyPI's Cache-Control: max-age=600)
    page_headers: dict[str, str] = field(default_factory=dict)
    # listing bodies sent (bytes) and 304 answers given: a conditional request costs no body
    page_bytes: int = 0
    not_modified: int = 0
    # listing pages gzipped for a client that asks (Accept-Encoding: gzip), as PyPI does
    gzip_pages: bool = False
    gzipped: int = 0  # pages sent gzipped
    # HTTP/1.1 with persistent connections (off: HTTP/1.0, one connection per request)
    keepalive: bool = False
    # client (host, port) of each connection -> the paths asked on it
    connections: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    # seconds a listing page waits before it answers (an index too slow for the status check's budget)
    page_delay: float = 0.0
    _server: ThreadingHTTPServer | None = None

    @property
    def downloads(self) -> list[str]:
        """Requests for files (not pages)."""
        return [r for r in self.requests if r.startswith("/files/")]

    def add(self, wheel: Path) -> None:
        project = canonicalize_name(wheel.name.split("-")[0])
        self.files.setdefault(project, []).append(wheel)

    def start(self) -> Index:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # per connection: a test may turn keep-alive on after the server started
                self.protocol_version = "HTTP/1.1" if index.keepalive else "HTTP/1.0"

            def do_GET(self) -> None:
                if self.path.startswith("http://"):  # absolute form: we are being used as a proxy
                    index.proxied.append(self.path)
                    self.path = "/" + self.path.split("/", 3)[3]
                index.requests.append(self.path)
                index.connections.setdefault(self.client_address[:2], []).append(self.path)
                index.auth_seen.append((self.path, self.headers.get("Authorization")))
                parts = [p for p in self.path.split("/") if p]
                if (
                    index.redirect_files_to
                    and parts[:1] == ["files"]
                    and self.headers.get("Host") != (index.redirect_files_to)
                ):
                    self.send_response(302)
                    self.send_header("Location", f"http://{index.redirect_files_to}{self.path}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if len(parts) == 2 and parts[0] == "simple":
                    time.sleep(index.page_delay)
                    self._listing(parts[1])
                elif len(parts) == 2 and parts[0] == "files":
                    self._file(parts[1])
                else:
                    self.send_error(404)

            def do_HEAD(self) -> None:
                # uv asks HEAD before a range request; without Accept-Ranges it downloads the whole file
                parts = [p for p in self.path.split("/") if p]
                found = [w for ws in index.files.values() for w in ws if parts[:1] == ["files"] and w.name == parts[-1]]
                if not found:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(found[0].stat().st_size))
                self.end_headers()

            def _listing(self, project: str) -> None:
                if project in index.raw_pages:
                    ctype, raw = index.raw_pages[project]
                    self.send_response(200)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                wheels = index.files.get(project)
                if wheels is None:
                    self.send_error(404)
                    return
                status = index.project_status.get(project)
                if index.json_api and "json" in self.headers.get("Accept", ""):
                    page: dict[str, Any] = {
                        "meta": {"api-version": "1.4" if status else "1.0"},
                        "name": project,
                        "files": [
                            {
                                "filename": w.name,
                                "url": f"../../files/{w.name}",
                                "hashes": {"sha256": sha256_file(w)},
                                **({"yanked": index.yanked[w.name] or True} if w.name in index.yanked else {}),
                            }
                            for w in wheels
                        ],
                    }
                    if status:
                        page["project-status"] = {"status": status[0], **({"reason": status[1]} if status[1] else {})}
                    body = json.dumps(page).encode()
                    ctype = "application/vnd.pypi.simple.v1+json"
                else:
                    links = "".join(
                        f'<a href="../../files/{w.name}#sha256={sha256_file(w)}"{_yank_attr(index.yanked, w.name)}>'
                        f"{w.name}</a>\n"
                        for w in wheels
                    )
                    meta = ""
                    if status:
                        meta = f'<meta name="pypi:project-status" content="{status[0]}">'
                        if status[1]:
                            meta += f'<meta name="pypi:project-status-reason" content="{html.escape(status[1])}">'
                    body = f"<html><head>{meta}</head><body>{links}</body></html>".encode()
                    ctype = "text/html"
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if index.etags and self.headers.get("If-None-Match") == etag:
                    index.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                zipped = index.gzip_pages and "gzip" in self.headers.get("Accept-Encoding", "")
                if zipped:
                    index.gzipped += 1
                    body = gzip.compress(body)
                index.page_bytes += len(body)
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                if zipped:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                if index.etags:
                    self.send_header("ETag", etag)
                for name, value in index.page_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _file(self, filename: str) -> None:
                pending = index.faults.get(filename)
                fault = pending.pop(0) if pending else None
                if fault == "500":
                    self.send_error(500)
                    return
                for wheels in index.files.values():
                    for w in wheels:
                        if w.name == filename:
                            data = w.read_bytes()
                            self.send_response(200)
                            self.send_header("Content-Length", str(len(data)))
                            for name, value in index.file_headers.items():
                                self.send_header(name, value)
                            self.end_headers()
                            if fault == "drop":
                                self.wfile.write(data[: len(data) // 2])
                                self.close_connection = True
                                return
                            self.wfile.write(data)
                            return
                self.send_error(404)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/simple"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


def _yank_attr(yanked: Mapping[str, str], filename: str) -> str:
    if filename not in yanked:
        return ""
    return f' data-yanked="{html.escape(yanked[filename])}"' if yanked[filename] else " data-yanked"


def lock_entry(wheels: Iterable[Path], version: str, **extra: Any) -> dict[str, Any]:
    return {"hashes": sorted(f"sha256:{sha256_file(w)}" for w in wheels), "version": f"=={version}", **extra}


def write_project(
    directory: Path,
    sections: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    index_url: str = "http://127.0.0.1:9/simple",
    requires: Mapping[str, str] | None = None,
) -> Path:
    """A Pipfile and a Pipfile.lock whose _meta.hash matches it (as pipenv computes it)."""
    directory.mkdir(parents=True, exist_ok=True)
    pipfile_sections = {"default": "packages", "develop": "dev-packages"}
    lines = [f'[[source]]\nurl = "{index_url}"\nverify_ssl = false\nname = "test"\n']
    for section, entries in sections.items():
        lines.append(f"[{pipfile_sections.get(section, section)}]")
        lines += [f'{name} = "{spec.get("version", "*")}"' for name, spec in entries.items()]
        lines.append("")
    if requires:
        lines.append("[requires]")
        lines += [f'{k} = "{v}"' for k, v in requires.items()]
    pipfile = directory / "Pipfile"
    pipfile.write_text("\n".join(lines) + "\n")
    lock: dict[str, Any] = {
        "_meta": {
            "hash": {"sha256": pipfile_hash(pipfile)},
            "pipfile-spec": 6,
            "requires": dict(requires or {}),
            "sources": [{"name": "test", "url": index_url, "verify_ssl": False}],
        },
        "default": {},
        "develop": {},
    }
    for section, entries in sections.items():
        lock[section] = {name: dict(spec) for name, spec in entries.items()}
    (directory / "Pipfile.lock").write_text(json.dumps(lock, indent=4, sort_keys=True) + "\n")
    return directory


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPENV", "VIRTUAL_ENV", "PIP_"))}
    env.update(
        PIPENV_SYNC_CACHE_DIR=str(tmp / "cache"),
        WORKON_HOME=str(tmp / "workon"),
        PYTHONDONTWRITEBYTECODE="1",
        # the machine's pip configuration and pip/pipenv caches are not the test's
        PIP_CONFIG_FILE=os.devnull,
        PIP_CACHE_DIR=str(tmp / "pip-cache"),
        PIPENV_CACHE_DIR=str(tmp / "pipenv-cache"),
    )
    env.update(extra)
    return env


MAX_LINE = 200  # issue 12: no line a person reads on stderr is longer, unless -v asked for the full detail


def run_cli(
    *args: str | Path, env: Mapping[str, str], cwd: Path | None = None, long_lines: bool = False
) -> subprocess.CompletedProcess[str]:
    """The real CLI as a subprocess; its stderr is held to :data:`MAX_LINE` unless ``-v``/``--verbose``
    (or ``long_lines=True``, for the few tests that check a relayed tool's raw output)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipenv_sync_ext", *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=300,
    )
    if not long_lines and not any(str(a) in ("-v", "--verbose") for a in args):
        assert_short_lines(proc.stderr)
    assert_hinted(proc)
    return proc


def sync_offline_pruned(
    project: Path, venv: Path, *args: str | Path, wheels: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """The sync most safety tests run: ``--offline --prune`` from one wheel directory."""
    return run_cli("--project", project, "--venv", venv, "--offline", "--prune", "--find-links", wheels, *args, env=env)


def start_cli(*args: str | Path, env: Mapping[str, str], stderr: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    """The real CLI started in the background (to interrupt it, or to run another beside it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipenv_sync_ext", *map(str, args)],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def assert_hinted(proc: subprocess.CompletedProcess[str]) -> None:
    """Every error the CLI reports (exit 1-4) comes with a ``hint:`` line saying how to fix it (issue 12)."""
    lines = proc.stderr.splitlines()
    if proc.returncode in (1, 2, 3, 4) and any(line.startswith("pipenv-sync: error:") for line in lines):
        assert any(line.startswith("hint:") for line in lines), f"an error without a hint:\n{proc.stderr}"


def error_text(stderr: str, *, hint: bool = True) -> str:
    """The error a command printed, checked for its shape: ``pipenv-sync: error:`` then a headline (folded
    between words when long), details indented, ``hint:`` last; no traceback. Returned as one line
    (whitespace collapsed) for substring checks. ``hint=False`` for the errors that have no fix to
    name (a crafted wheel)."""
    lines = [line for line in stderr.strip().splitlines() if line.startswith(("pipenv-sync: error: ", "  ", "hint: "))]
    start = next(i for i, line in enumerate(lines) if line.startswith("pipenv-sync: error: "))
    error = lines[start:]
    assert "Traceback" not in stderr, stderr
    assert not hint or error[-1].startswith("hint: "), f"no hint: line after the error:\n{stderr}"
    return " ".join(" ".join(error).split())


def assert_short_lines(stderr: str) -> None:
    long = [line for line in stderr.splitlines() if len(line) > MAX_LINE]
    assert not long, f"stderr lines over {MAX_LINE} characters (say less, or detail it under -v):\n" + "\n".join(
        f"{len(line)}: {line[:300]}" for line in long
    )


def installed(venv: Path) -> dict[str, str]:
    """What the venv's own interpreter sees installed (independent of the tool's inventory)."""
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name'].lower().replace('_','-'): d.version for d in m.distributions()}))"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and mtime: to prove nothing changed."""
    result = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath, f)
            st = p.lstat()
            result[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return result


def snapshot_tree(path: Path) -> dict[str, str]:
    """Every path under ``path`` (itself included, as "."), with what it is: a file's sha256 and mode,
    a symlink's target, "dir". Links are never followed: to prove nothing at all changed."""
    found: dict[str, str] = {}
    if not os.path.lexists(path):
        return found
    for dirpath, dirs, files in os.walk(path):
        for name in [".", *dirs, *files] if dirpath == str(path) else [*dirs, *files]:
            full = Path(dirpath) if name == "." else Path(dirpath, name)
            st = full.lstat()
            if full.is_symlink():
                what = "link:" + os.readlink(full)
            elif full.is_dir():
                what = "dir"
            else:
                what = f"{sha256_file(full)}:{oct(st.st_mode & 0o7777)}"
            found["." if name == "." else str(full.relative_to(path))] = what
    return found


# A complete PEP 517/660 build backend in a few lines, shipped inside each test
# package (backend-path = ["."]): pip builds them with no build dependency at all,
# so tests of path, editable, VCS and sdist entries need no index and no network.
_BACKEND = """
import base64, hashlib, io, os, tarfile, zipfile

NAME, VERSION, MODULE, SCRIPTS = {name!r}, {version!r}, {module!r}, {scripts!r}
HERE = os.path.dirname(os.path.abspath(__file__))
DIST = NAME.replace("-", "_")


def _hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel(directory, files):
    info = f"{{DIST}}-{{VERSION}}.dist-info"
    files[f"{{info}}/METADATA"] = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n".encode()
    files[f"{{info}}/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    if SCRIPTS:
        lines = "".join(f"{{k}} = {{v}}\\n" for k, v in SCRIPTS.items())
        files[f"{{info}}/entry_points.txt"] = ("[console_scripts]\\n" + lines).encode()
    record = "".join(f"{{p}},{{_hash(d)}},{{len(d)}}\\n" for p, d in files.items()) + f"{{info}}/RECORD,,\\n"
    files[f"{{info}}/RECORD"] = record.encode()
    name = f"{{DIST}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_sdist = get_requires_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {{}}
    for dirpath, _dirs, names in os.walk(os.path.join(HERE, MODULE)):
        for n in names:
            if n.endswith(".py"):
                full = os.path.join(dirpath, n)
                with open(full, "rb") as f:
                    files[os.path.relpath(full, HERE).replace(os.sep, "/")] = f.read()
    return _wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {{f"_{{DIST}}_editable.pth": (HERE + "\\n").encode()}})


def build_sdist(sdist_directory, config_settings=None):
    name = f"{{DIST}}-{{VERSION}}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tf:
        for dirpath, _dirs, names in os.walk(HERE):
            for n in names:
                full = os.path.join(dirpath, n)
                tf.add(full, arcname=f"{{DIST}}-{{VERSION}}/" + os.path.relpath(full, HERE))
    return name
"""


def write_local_package(
    directory: Path,
    name: str,
    version: str,
    *,
    body: str = "",
    scripts: Mapping[str, str] | None = None,
) -> Path:
    """A source tree pip can build offline (in-tree PEP 517 backend, no build requirements)."""
    module = canonicalize_name(name).replace("-", "_")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "_backend"\nbackend-path = ["."]\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    (directory / "_backend.py").write_text(
        _BACKEND.format(name=name, version=version, module=module, scripts=dict(scripts or {}))
    )
    (directory / module).mkdir(exist_ok=True)
    (directory / module / "__init__.py").write_text(body or f"VERSION = {version!r}\n")
    return directory


def make_sdist(dest: Path, name: str, version: str, *, body: str = "") -> Path:
    """An sdist (``.tar.gz``) of a package :func:`write_local_package` makes."""
    import tarfile
    import tempfile

    dist = canonicalize_name(name).replace("-", "_")
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{dist}-{version}.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_local_package(Path(tmp) / f"{dist}-{version}", name, version, body=body)
        pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        (tree / "PKG-INFO").write_text(pkg_info)
        with tarfile.open(out, "w:gz") as tf:
            tf.add(tree, arcname=tree.name)
    return out


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo.parent),
    }
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return proc.stdout.strip()


def git_commit_all(repo: Path, message: str = "commit") -> str:
    """Commit everything in ``repo`` (initialising it first) and return the commit id."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def fake_dist(site: Path, name: str, version: str, files: dict[str, str], requires: tuple[str, ...] = ()) -> None:
    """A dist-info written by hand, as another installer might have left it (RECORD without hashes)."""
    di = site / f"{name}-{version}.dist-info"
    di.mkdir()
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    (di / "METADATA").write_text(meta)
    rows = [f"{di.name}/METADATA,,", f"{di.name}/RECORD,,"]
    for rel, content in files.items():
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_text(content)
        rows.append(f"{rel},,")
    (di / "RECORD").write_text("\n".join(rows) + "\n")
