"""The HTTP transport (store/http.py, store/tls.py) through the real CLI, against loopback servers only.

An HTTPS index whose certificate is signed by a CA made here (openssl CLI), trusted
through each setting pip users have (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, pip.conf
``cert``, PIP_CERT) and refused without one; a small CONNECT/forwarding proxy in
the test, used through https_proxy/http_proxy and bypassed through no_proxy;
netrc and ``${VAR}`` userinfo reaching the server as Basic auth and never printed;
keep-alive with a bounded number of connections per host and downloads that
overlap.
"""

from __future__ import annotations

import base64
import json
import select
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipenv_sync_ext.lock.freshness import pipfile_hash
from pipenv_sync_ext.store.http import MAX_PER_HOST

from .support import Index, build_wheel, cli_env, error_text, installed, lock_entry, run_cli, write_project

# Variables of the machine that would decide the test's outcome instead of the test.
_AMBIENT = (
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "NETRC",
    "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
)  # fmt: skip


@dataclass(frozen=True)
class CA:
    cert: Path  # the CA certificate (PEM): what a client is told to trust
    server_cert: Path  # 127.0.0.1 and localhost, signed by the CA
    server_key: Path


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> CA:
    directory.mkdir(parents=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)  # fmt: skip
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=directory)
    (directory / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid,issuer\nsubjectKeyIdentifier=hash\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=directory)  # fmt: skip
    return CA(directory / "ca.pem", directory / "server.pem", directory / "server.key")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CA:
    return _make_ca(tmp_path_factory.mktemp("tls") / "ca", "pipenv-sync test CA")


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> CA:
    """A CA that did not sign the index's certificate."""
    return _make_ca(tmp_path_factory.mktemp("tls-other") / "ca", "some other CA")


@pytest.fixture
def https_index(ca: CA) -> Iterator[Index]:
    """tests/support.Index, its listening socket wrapped in TLS (the handshake runs in each handler thread)."""
    server = Index().start()
    assert server._server is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca.server_cert, ca.server_key)
    server._server.socket = context.wrap_socket(server._server.socket, server_side=True, do_handshake_on_connect=False)
    server.url = server.url.replace("http://", "https://")
    yield server
    server.stop()


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in cli_env(tmp).items() if k not in _AMBIENT}
    env.update(no_proxy="", NO_PROXY="", NETRC=str(tmp / "no-netrc"))
    env.update(extra)
    return env


def project_for(tmp: Path, index: Index, names: list[str], *, url: str | None = None) -> Path:
    """A project locking one wheel per name from ``index``, its source with ``verify_ssl = true``."""
    packages = {}
    for name in names:
        wheel = build_wheel(tmp / "wheels", name, "1.0")
        index.add(wheel)
        packages[name] = lock_entry([wheel], "1.0")
    project = write_project(tmp / "proj", {"default": packages}, index_url=url or index.url)
    pipfile = project / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace("verify_ssl = false", "verify_ssl = true"))
    lock = json.loads((project / "Pipfile.lock").read_text())
    lock["_meta"]["sources"][0]["verify_ssl"] = True
    lock["_meta"]["hash"]["sha256"] = pipfile_hash(pipfile)
    (project / "Pipfile.lock").write_text(json.dumps(lock, indent=4, sort_keys=True) + "\n")
    return project


def sync(tmp: Path, project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--project", project, "--venv", tmp / "venv", *args, env=env)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- custom CA -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "pip.conf cert", "PIP_CERT"])
def test_an_https_index_is_trusted_through_each_ca_setting(
    tmp_path: Path, https_index: Index, ca: CA, other_ca: CA, setting: str
) -> None:
    project = project_for(tmp_path, https_index, ["alpha", "beta"])
    extra: dict[str, str] = {}
    if setting == "pip.conf cert":
        conf = tmp_path / "pip.conf"
        conf.write_text(f"[global]\ncert = {ca.cert}\n")
        extra = {"PIP_CONFIG_FILE": str(conf), "REQUESTS_CA_BUNDLE": str(other_ca.cert)}  # pip's setting wins
    elif setting == "PIP_CERT":
        extra = {"PIP_CERT": str(ca.cert), "REQUESTS_CA_BUNDLE": str(other_ca.cert)}
    else:
        extra = {setting: str(ca.cert)}
    proc = sync(tmp_path, project, env_for(tmp_path, **extra))
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0", "beta": "1.0"}
    assert sorted(https_index.downloads) == ["/files/alpha-1.0-py3-none-any.whl", "/files/beta-1.0-py3-none-any.whl"]


@pytest.mark.parametrize("setting", ["none", "REQUESTS_CA_BUNDLE"])
def test_an_https_index_whose_ca_is_not_trusted_is_refused(
    tmp_path: Path, https_index: Index, other_ca: CA, setting: str
) -> None:
    """Without the CA (or with another CA, which replaces the system store) no request is answered; one
    line per host says what to trust, and nothing is changed."""
    project = project_for(tmp_path, https_index, ["alpha", "beta", "gamma"])
    extra = {"REQUESTS_CA_BUNDLE": str(other_ca.cert)} if setting != "none" else {}
    proc = sync(tmp_path, project, env_for(tmp_path, **extra))
    assert proc.returncode == 4, proc.stderr
    text = error_text(proc.stderr)
    host = https_index.url.split("/")[2]
    assert f"cannot reach {host}" in text and "TLS certificate is not trusted" in text, text
    assert "PIP_CERT" in text and "SSL_CERT_FILE" in text
    assert https_index.requests == []  # the handshake failed: nothing was asked, nothing answered
    assert not (tmp_path / "venv").exists()
    assert "retrying" not in proc.stderr  # another attempt would meet the same certificate


def test_verify_ssl_false_accepts_an_untrusted_certificate(tmp_path: Path, https_index: Index) -> None:
    project = project_for(tmp_path, https_index, ["alpha"])
    lock = json.loads((project / "Pipfile.lock").read_text())
    lock["_meta"]["sources"][0]["verify_ssl"] = False
    (project / "Pipfile.lock").write_text(json.dumps(lock))
    proc = sync(tmp_path, project, env_for(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}
    assert "Warning" not in proc.stderr  # the lock's own choice: not warned about per request


def test_an_unreadable_ca_bundle_is_named(tmp_path: Path, https_index: Index) -> None:
    project = project_for(tmp_path, https_index, ["alpha"])
    proc = sync(tmp_path, project, env_for(tmp_path, PIP_CERT=str(tmp_path / "missing.pem")))
    assert proc.returncode != 0
    assert f"the CA bundle {tmp_path / 'missing.pem'} (PIP_CERT) cannot be read" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr and not (tmp_path / "venv").exists()


# --- proxies ---------------------------------------------------------------------------------------------------


@dataclass
class Proxy:
    """A loopback HTTP proxy: CONNECT tunnels (https) and absolute-form GETs forwarded (http)."""

    auth: str | None = None  # the Proxy-Authorization it requires, when set
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, target, Proxy-Authorization)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Proxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _allowed(self) -> bool:
                given = self.headers.get("Proxy-Authorization")
                proxy.seen.append((self.command, self.path, given))
                if proxy.auth is None or given == proxy.auth:
                    return True
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def do_CONNECT(self) -> None:
                if not self._allowed():
                    return
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)))
                self.send_response(200, "Connection established")
                self.end_headers()
                sockets = [self.connection, upstream]
                try:
                    while True:
                        readable, _, _ = select.select(sockets, [], [], 30)
                        if not readable:
                            return
                        for s in readable:
                            data = s.recv(1 << 16)
                            if not data:
                                return
                            (upstream if s is self.connection else self.connection).sendall(data)
                finally:
                    upstream.close()
                    self.close_connection = True

            def do_GET(self) -> None:
                if not self._allowed():
                    return
                import http.client
                import urllib.parse

                target = urllib.parse.urlsplit(self.path)
                conn = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization",)}
                conn.request("GET", target.path or "/", headers=headers)
                answer = conn.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                conn.close()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = Proxy(auth=_basic("proxyuser", "pr0xy-s3cret")).start()
    yield server
    server.stop()


def _with_creds(url: str) -> str:
    return url.replace("http://", "http://proxyuser:pr0xy-s3cret@")


def test_https_goes_through_the_proxy_s_tunnel_with_its_credentials_never_printed(
    tmp_path: Path, https_index: Index, ca: CA, proxy: Proxy
) -> None:
    project = project_for(tmp_path, https_index, ["alpha", "beta"])
    env = env_for(tmp_path, SSL_CERT_FILE=str(ca.cert), https_proxy=_with_creds(proxy.url))
    proc = sync(tmp_path, project, env, "-v")
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0", "beta": "1.0"}
    host = https_index.url.split("/")[2]
    assert proxy.seen and all(s == ("CONNECT", host, proxy.auth) for s in proxy.seen), proxy.seen
    assert len(https_index.downloads) == 2  # reached through the tunnel
    assert "pr0xy-s3cret" not in proc.stdout + proc.stderr


def test_http_is_forwarded_by_the_proxy(tmp_path: Path, index: Index, proxy: Proxy) -> None:
    project = project_for(tmp_path, index, ["alpha"])
    proc = sync(tmp_path, project, env_for(tmp_path, http_proxy=_with_creds(proxy.url)), "-v")
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}
    assert f"{index.url}/alpha/" in [target for _, target, _ in proxy.seen]
    assert all(method == "GET" and auth == proxy.auth for method, _, auth in proxy.seen)
    assert "pr0xy-s3cret" not in proc.stdout + proc.stderr


def test_no_proxy_bypasses_the_proxy(tmp_path: Path, https_index: Index, ca: CA, proxy: Proxy) -> None:
    project = project_for(tmp_path, https_index, ["alpha"])
    env = env_for(tmp_path, SSL_CERT_FILE=str(ca.cert), https_proxy=proxy.url, no_proxy="127.0.0.1,localhost")
    proc = sync(tmp_path, project, env)
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}
    assert proxy.seen == [] and len(https_index.downloads) == 1


def test_a_dead_proxy_is_named_without_its_credentials(tmp_path: Path, https_index: Index, ca: CA) -> None:
    project = project_for(tmp_path, https_index, ["alpha", "beta"])
    dead = "http://proxyuser:pr0xy-s3cret@127.0.0.1:9"
    proc = sync(tmp_path, project, env_for(tmp_path, SSL_CERT_FILE=str(ca.cert), https_proxy=dead), "-v")
    assert proc.returncode == 4, proc.stderr
    text = error_text(proc.stderr)
    assert "through the proxy http://***@127.0.0.1:9" in text or "through the proxy http://127.0.0.1:9" in text, text
    assert "pr0xy-s3cret" not in proc.stdout + proc.stderr
    assert https_index.requests == []


# --- credentials ---------------------------------------------------------------------------------------------


def test_userinfo_from_a_variable_reaches_the_server_as_basic_auth(tmp_path: Path, https_index: Index, ca: CA) -> None:
    url = https_index.url.replace("https://", "https://ci:${INDEX_TOKEN}@")
    project = project_for(tmp_path, https_index, ["alpha", "beta"], url=url)
    env = env_for(tmp_path, SSL_CERT_FILE=str(ca.cert), INDEX_TOKEN="t0ken-fr0m-env")
    proc = sync(tmp_path, project, env, "-v")
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0", "beta": "1.0"}
    assert https_index.auth_seen and all(auth == _basic("ci", "t0ken-fr0m-env") for _, auth in https_index.auth_seen)
    assert "t0ken-fr0m-env" not in proc.stdout + proc.stderr


def test_netrc_credentials_reach_the_server_as_basic_auth(tmp_path: Path, https_index: Index, ca: CA) -> None:
    project = project_for(tmp_path, https_index, ["alpha"])
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login deploy password n3trc-s3cret\n")
    netrc.chmod(0o600)
    proc = sync(tmp_path, project, env_for(tmp_path, SSL_CERT_FILE=str(ca.cert), NETRC=str(netrc)), "-v")
    assert proc.returncode == 0, proc.stderr
    assert https_index.auth_seen and all(auth == _basic("deploy", "n3trc-s3cret") for _, auth in https_index.auth_seen)
    assert "n3trc-s3cret" not in proc.stdout + proc.stderr


# --- keep-alive and the per-host bound -----------------------------------------------------------------------


def test_downloads_share_a_bounded_set_of_kept_alive_connections_and_overlap(tmp_path: Path, index: Index) -> None:
    """A fetch of 20 packages (20 listings, 20 downloads, and status pages) from 16 download threads
    (-j 16) over at most MAX_PER_HOST connections, downloads reusing kept connections, and
    MAX_PER_HOST downloads in flight at once (held by the server until they are: a client that
    downloads one at a time, or opens more than the bound, fails here)."""
    index.keepalive = True
    state = {"now": 0, "most": 0, "waited_out": False}
    cond = threading.Condition()
    assert index._server is not None
    base: Any = index._server.RequestHandlerClass

    class Overlapping(base):  # type: ignore[misc]
        def do_GET(self) -> None:
            if not self.path.startswith("/files/"):
                super().do_GET()
                return
            with cond:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
                cond.notify_all()
                # Hold a download until the pool is full (a client that downloads one at a time never gets
                # there: the wait is given up once, and the assertion below fails).
                if not state["waited_out"] and not cond.wait_for(lambda: state["most"] >= MAX_PER_HOST, timeout=10):
                    state["waited_out"] = True
            try:
                super().do_GET()
            finally:
                with cond:
                    state["now"] -= 1

    index._server.RequestHandlerClass = Overlapping
    names = [f"pkg{i}" for i in range(20)]
    project = project_for(tmp_path, index, names)
    proc = run_cli("fetch", "--project", project, "-j", "16", env=env_for(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert len(index.downloads) == 20 and len([r for r in index.requests if r.startswith("/simple/")]) >= 20
    assert len(index.connections) <= MAX_PER_HOST, {k: len(v) for k, v in index.connections.items()}
    files_per_connection = [sum(p.startswith("/files/") for p in paths) for paths in index.connections.values()]
    assert max(files_per_connection) >= 2  # downloads, not only pages, reuse a kept connection
    assert state["most"] == MAX_PER_HOST and not state["waited_out"], state  # overlapping, and no more


def test_a_file_url_source_is_read_from_disk(tmp_path: Path) -> None:
    """A mirror on a share (``file://``, as PIPENV_PYPI_MIRROR may name): its pages are directories'
    index.html; a project it does not carry is a 404 (the next source is asked), not a network failure."""
    site = tmp_path / "site"
    wheel = build_wheel(site / "files", "alpha", "1.0")
    page = site / "simple" / "alpha" / "index.html"
    page.parent.mkdir(parents=True)
    digest = lock_entry([wheel], "1.0")["hashes"][0].split(":")[1]
    page.write_text(f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a>')
    packages = {"alpha": lock_entry([wheel], "1.0"), "beta": {"hashes": ["sha256:" + "0" * 64], "version": "==1.0"}}
    project = write_project(tmp_path / "proj", {"default": packages}, index_url=(site / "simple").as_uri())
    proc = sync(tmp_path, project, env_for(tmp_path))
    assert proc.returncode == 4, proc.stderr
    text = error_text(proc.stderr)
    assert "beta" in text and "alpha" not in text.split("not fetched", 1)[-1], text
    assert "retrying" not in proc.stderr and "unreachable" not in text
    del packages["beta"]
    project = write_project(tmp_path / "proj", {"default": packages}, index_url=(site / "simple").as_uri())
    proc = sync(tmp_path, project, env_for(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert installed(tmp_path / "venv") == {"alpha": "1.0"}


def test_answers_without_a_body_keep_their_connection(tmp_path: Path, index: Index) -> None:
    """A 304 (a status check's usual answer) is read to its end and its connection reused, not closed."""
    import urllib.error

    from pipenv_sync_ext.store.http import transport

    index.keepalive = True
    index.etags = True
    index.add(build_wheel(tmp_path, "alpha", "1.0"))
    http = transport()
    etag = http.page(f"{index.url}/alpha/", headers={}, verify=True).headers["ETag"]
    for _ in range(3):
        with pytest.raises(urllib.error.HTTPError) as answer:
            http.page(f"{index.url}/alpha/", headers={"If-None-Match": etag}, verify=True)
        assert answer.value.code == 304 and answer.value.headers["ETag"] == etag
    assert index.not_modified == 3
    assert [len(paths) for paths in index.connections.values()] == [4]


def test_a_file_url_that_cannot_be_read_is_a_fetch_error_naming_it(tmp_path: Path) -> None:
    """Not a network failure to retry, nor the cache directory's fault (local_failure's wording)."""
    from pipenv_sync_ext.errors import FetchError
    from pipenv_sync_ext.store.http import transport

    (tmp_path / "simple" / "alpha" / "index.html").mkdir(parents=True)  # a directory where the page should be
    url = (tmp_path / "simple" / "alpha").as_uri() + "/"
    with pytest.raises(FetchError, match=r"simple/alpha/: Is a directory"):
        transport().page(url, headers={}, verify=True)
