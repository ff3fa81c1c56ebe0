"""Red team: transport settings as pip reads them (proxies), against the real CLI and loopback servers.

Reuses ``tests/test_transport.py``'s loopback proxy (CONNECT and forwarding) and helpers.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .support import Index, error_text, installed, sha256_file
from .test_transport import CA, Proxy, ca, env_for, https_index, project_for, proxy, sync

__all__ = ["ca", "https_index", "proxy"]  # fixtures, used by name


def test_a_proxy_setting_without_a_scheme_is_http_as_pip_reads_it(tmp_path: Path, index: Index, proxy: Proxy) -> None:
    # http_proxy=proxy.corp:3128 is a common setting; requests (so pip) and curl read it as http://
    bare = proxy.url.replace("http://", "proxyuser:pr0xy-s3cret@")
    proc = sync(tmp_path, project_for(tmp_path, index, ["alpha"]), env_for(tmp_path, http_proxy=bare), "-v")
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}
    assert f"{index.url}/alpha/" in [target for _, target, _ in proxy.seen]
    assert all(auth == proxy.auth for _, _, auth in proxy.seen)
    assert "pr0xy-s3cret" not in proc.stdout + proc.stderr


def test_no_proxy_networks_are_bypassed_as_pip_does(tmp_path: Path, https_index: Index, ca: CA, proxy: Proxy) -> None:
    project = project_for(tmp_path, https_index, ["alpha"])
    env = env_for(tmp_path, SSL_CERT_FILE=str(ca.cert), https_proxy=proxy.url, no_proxy="10.0.0.0/8, 127.0.0.0/8")
    proc = sync(tmp_path, project, env)
    assert proc.returncode == 0, proc.stderr
    assert proxy.seen == [] and len(https_index.downloads) == 1


def test_an_unusable_proxy_setting_is_one_error_naming_it_not_retried(tmp_path: Path, index: Index) -> None:
    project = project_for(tmp_path, index, ["alpha"])
    env = env_for(tmp_path, http_proxy="socks5://proxyuser:pr0xy-s3cret@127.0.0.1:1080")
    proc = sync(tmp_path, project, env)
    assert proc.returncode == 4, proc.stderr
    text = error_text(proc.stderr)
    assert "the proxy socks5://***@127.0.0.1:1080 (*_proxy variables) is not usable" in text, text
    assert "retrying" not in proc.stderr
    assert "pr0xy-s3cret" not in proc.stdout + proc.stderr
    assert index.requests == []


class _Boasting(BaseHTTPRequestHandler):
    """A mirror that lists the locked wheel and answers its download with a 6 GiB Content-Length, then drips."""

    wheel: Path

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.endswith("/alpha/"):
            body = f'<a href="/f/{self.wheel.name}#sha256={sha256_file(self.wheel)}">x</a>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(6 << 30))
        self.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(600):  # never 6 GiB: the client must not wait for it (nor write it)
                self.wfile.write(b"\0" * 4096)
                time.sleep(0.05)


def test_a_download_larger_than_anything_installable_is_refused_and_the_next_place_asked(
    tmp_path: Path, index: Index
) -> None:
    project = project_for(tmp_path, index, ["alpha"])
    _Boasting.wheel = next((tmp_path / "wheels").glob("alpha-*.whl"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Boasting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        mirror = f"http://127.0.0.1:{server.server_address[1]}/simple"
        proc = sync(tmp_path, project, env_for(tmp_path), "--index-url", mirror)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    assert "over the 5 GiB no installable artifact reaches" in proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}
    assert index.downloads == [f"/files/{_Boasting.wheel.name}"]  # the lock's own source gave it


def test_a_fifo_behind_a_file_url_is_not_waited_for(tmp_path: Path, index: Index) -> None:
    """``file://`` index mirrors on a share: one with a FIFO planted under the linked wheel's name, one whose
    project page is a FIFO. Neither is waited for: the lock's own source gives the wheel."""
    project = project_for(tmp_path, index, ["alpha"])
    wheel = next((tmp_path / "wheels").glob("alpha-*.whl"))
    planted, fifo_page = tmp_path / "share" / "simple" / "alpha", tmp_path / "share2" / "simple" / "alpha"
    planted.mkdir(parents=True)
    fifo_page.mkdir(parents=True)
    os.mkfifo(planted / wheel.name)
    (planted / "index.html").write_text(f'<a href="{wheel.name}#sha256={sha256_file(wheel)}">{wheel.name}</a>')
    os.mkfifo(fifo_page / "index.html")
    mirrors = ["--index-url", fifo_page.parent.as_uri() + "/", "--extra-index-url", planted.parent.as_uri() + "/"]
    proc = sync(tmp_path, project, env_for(tmp_path), *mirrors)
    assert proc.returncode == 0, proc.stderr
    assert "not a regular file" in proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}
    assert index.downloads == [f"/files/{wheel.name}"]  # the lock's own source gave it


class _Dripping(BaseHTTPRequestHandler):
    """A mirror whose answers trickle (a byte every 0.1 s, for ever): alpha's download, and beta's page."""

    protocol_version = "HTTP/1.1"
    wheels: dict[str, Path]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.rstrip("/").rsplit("/", 1)[-1]
        if name == "alpha":
            wheel = self.wheels["alpha"]
            body = f'<a href="/f/{wheel.name}#sha256={sha256_file(wheel)}">x</a>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(3000):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)


def test_answers_that_trickle_are_given_up_and_the_next_place_asked(tmp_path: Path, index: Index) -> None:
    project = project_for(tmp_path, index, ["alpha", "beta"])
    _Dripping.wheels = {w.name.split("-")[0]: w for w in (tmp_path / "wheels").glob("*.whl")}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Dripping)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        mirror = f"http://127.0.0.1:{server.server_address[1]}/simple"
        # the window shortened from 60 s, so that the test does not wait minutes for each attempt
        env = env_for(tmp_path, PIPENV_SYNC_TEST_LOW_SPEED_TIME="1")
        proc = sync(tmp_path, project, env, "--index-url", mirror)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    assert "slower than 1024 bytes/s; given up" in proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0", "beta": "1.0"}
    assert sorted(index.downloads) == sorted(f"/files/{w.name}" for w in _Dripping.wheels.values())
