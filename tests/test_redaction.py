"""No credential in any output (issue 18, part 8): ``pipenv_sync_ext.redact`` and the real CLI.

The unit tests pin the rules (userinfo of every URL kind, registered secrets
whatever they hold, longest first, encoded forms, netrc). The CLI tests run
the real command against the loopback index with ``${TOKEN}`` sources: userinfo
tokens holding ``/#?@:``, a token that is a path segment, a VCS entry with
``user:pass@`` that pip fails to fetch; each in plain, ``--json`` and
``--dry-run`` runs, and each asserts the token is in no byte of stdout or stderr
(and that the run did what it should, so that a silent run cannot pass).
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipenv_sync_ext import redact as R
from pipenv_sync_ext.lock.model import Source
from pipenv_sync_ext.store.index import netrc_auth
from pipenv_sync_ext.store.sources import resolve_source

from .support import Index, build_wheel, cli_env, installed, lock_entry, run_cli, write_project

SPECIAL = "p4ss/w#rd?x@y:z"  # every character that cuts a URL


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    R.forget_all()
    yield
    R.forget_all()


def _forms(secret: str) -> list[str]:
    return [secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret), urllib.parse.quote_plus(secret)]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pass@host/simple", "https://***@host/simple"),
        ("http://tok@127.0.0.1:8080/x", "http://***@127.0.0.1:8080/x"),
        ("git+https://user:pass@github.com/o/r.git@v1", "git+https://***@github.com/o/r.git@v1"),
        ("file://user:pw@server/share/p.whl", "file://***@server/share/p.whl"),
        ("ssh://git:key@host/r", "ssh://***@host/r"),
        ("svn+ssh://a:b@host/r", "svn+ssh://***@host/r"),
        ("https://u:p@ss@host/simple", "https://***@host/simple"),  # a raw "@" in the password
        ("see 'https://u:p@host/a' and https://v:q@other/b.", "see 'https://***@host/a' and https://***@other/b."),
        ("https://host/simple/a@b", "https://host/simple/a@b"),  # an "@" in the path is not userinfo
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),  # scp-like: the user is not a secret
    ],
)
def test_userinfo_is_stripped_from_every_url(url: str, shown: str) -> None:
    assert R.redact(url) == shown


def test_a_userinfo_token_holding_url_delimiters_stays_one_piece_and_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKEN", SPECIAL)
    url = R.expand("https://user:${TOKEN}@example.invalid/simple", {"TOKEN": SPECIAL})
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "example.invalid" and parts.path == "/simple"
    assert urllib.parse.unquote(parts.password or "") == SPECIAL
    resolved = resolve_source(Source("s", "https://user:${TOKEN}@example.invalid/simple"))
    assert resolved.auth == "Basic " + base64.b64encode(f"user:{SPECIAL}".encode()).decode()
    text = f"failed: {url} ({SPECIAL}) {urllib.parse.quote(SPECIAL)}"
    assert not any(form in R.redact(text) for form in _forms(SPECIAL)), R.redact(text)


def test_a_token_in_a_path_segment_is_redacted_wherever_it_appears() -> None:
    url = R.expand("https://host.invalid/${TOKEN}/simple", {"TOKEN": "tok/en#x?y"})
    assert urllib.parse.urlsplit(url).path == "/tok/en%23x%3Fy/simple"
    shown = R.redact(f"{url}/alpha/: HTTP 404; also tok/en#x?y")
    assert shown == "https://host.invalid/***/simple/alpha/: HTTP 404; also ***"


def test_longest_secret_first_short_values_never() -> None:
    R.register("abcd")
    R.register("abcdefgh")
    R.register("abc")  # under the minimum: would blank every "abc" of every line
    assert R.redact("abcdefgh abcd abc") == "*** *** abc"


def test_a_host_from_a_variable_is_shown_and_an_unset_variable_left_as_written() -> None:
    url = R.expand("https://${HOST}/${MISSING}/simple", {"HOST": "mirror.example"})
    assert R.redact(url) == "https://mirror.example/${MISSING}/simple"


def test_netrc_passwords_are_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "netrc").write_text("machine 127.0.0.1 login ci password n3trc/s3cret#x\n")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert netrc_auth("127.0.0.1") == "Basic " + base64.b64encode(b"ci:n3trc/s3cret#x").decode()
    assert R.redact("pip said: n3trc/s3cret#x / n3trc%2Fs3cret%23x") == "pip said: *** / ***"


def test_json_data_is_redacted_before_it_is_escaped() -> None:
    R.register('quo"te\\secret')
    data = R.redact_data({"error": 'auth quo"te\\secret failed', "urls": ["https://u:p@h/x"]})
    assert data == {"error": "auth *** failed", "urls": ["https://***@h/x"]}


# --- the real command ---------------------------------------------------------------------------------------


class _PrefixRedirect:
    """An index reachable only under ``/<token>/``: answers 302 to the loopback index (which has no prefix)."""

    def __init__(self, target: str, token_path: str) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                prefix = f"/{token_path}/"
                if not self.path.startswith(prefix):
                    self.send_error(404)
                    return
                outer.hits += 1
                self.send_response(302)
                self.send_header("Location", target + "/" + self.path[len(prefix) :])
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.hits = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Index, Path]]:
    wheel = build_wheel(tmp_path_factory.mktemp("wheels"), "alpha", "1.0")
    served = Index()
    served.add(wheel)
    served.start()
    yield served, wheel
    served.stop()


def _assert_no_secret(result: Any, secret: str) -> None:
    output = result.stdout + result.stderr
    for form in _forms(secret):
        assert form not in output, (form, output)
    assert "Traceback" not in output


def _run(project: Path, tmp: Path, token: str, *extra: str) -> Any:
    env = cli_env(tmp, TOKEN=token)
    return run_cli("--project", project, "--venv", tmp / "venv", "-v", *extra, env=env)


def test_a_userinfo_token_holding_delimiters_syncs_and_never_shows(tmp_path: Path, index: tuple[Index, Path]) -> None:
    served, wheel = index
    url = served.url.replace("http://", "http://ci:${TOKEN}@")
    project = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=url)
    served.auth_seen.clear()
    for extra in (["--dry-run"], ["--json"], []):
        result = _run(project, tmp_path, SPECIAL, *extra)
        assert result.returncode == 0, result.stderr
        _assert_no_secret(result, SPECIAL)
    assert installed(tmp_path / "venv").get("alpha") == "1.0"
    expected = "Basic " + base64.b64encode(f"ci:{SPECIAL}".encode()).decode()
    assert {auth for _path, auth in served.auth_seen} == {expected}  # the token went whole, as the password

    # An error naming the source (a package the index does not have): the message is there, the token is not.
    missing = lock_entry([wheel], "1.0") | {"hashes": ["sha256:" + "0" * 64]}
    project = write_project(tmp_path / "q", {"default": {"alpha": missing}}, index_url=url)
    for extra in ([], ["--json"]):
        result = _run(project, tmp_path / "q", SPECIAL, *extra)
        assert result.returncode == 4 and "hash mismatch for alpha 1.0" in result.stderr, result.stderr
        _assert_no_secret(result, SPECIAL)
        if extra:
            assert json.loads(result.stdout)["exit_code"] == 4


@pytest.mark.parametrize("token", ["s3cr3tPathToken", "tok/en#x?y"])
def test_a_path_segment_token_never_shows(tmp_path: Path, index: tuple[Index, Path], token: str) -> None:
    served, wheel = index
    redirect = _PrefixRedirect(served.url.rpartition("/simple")[0], urllib.parse.quote(token))
    try:
        url = redirect.url + "/${TOKEN}/simple"
        good = write_project(tmp_path / "p", {"default": {"alpha": lock_entry([wheel], "1.0")}}, index_url=url)
        result = _run(good, tmp_path, token)
        assert result.returncode == 0 and redirect.hits >= 1, result.stderr
        assert installed(tmp_path / "venv").get("alpha") == "1.0"
        _assert_no_secret(result, token)

        # The page of a package the index lacks is a 404 whose URL holds the token: the message shows ***.
        absent = {"beta": lock_entry([wheel], "1.0")}
        bad = write_project(tmp_path / "q", {"default": absent}, index_url=url)
        for extra in ([], ["--json"], ["--dry-run"]):
            result = _run(bad, tmp_path / "q", token, *extra)
            _assert_no_secret(result, token)
            if extra != ["--dry-run"]:
                assert result.returncode == 4 and "/***/simple" in result.stderr, result.stderr
            else:
                assert result.returncode == 0, result.stderr
        # The fetch subcommand speaks through the same writer (its --json answer included).
        env = cli_env(tmp_path / "q", TOKEN=token)
        for extra in ([], ["--json"]):
            result = run_cli("fetch", "--project", bad, "--venv", tmp_path / "venv", *extra, env=env)
            assert result.returncode == 4 and "/***/simple" in result.stderr, result.stderr
            _assert_no_secret(result, token)
    finally:
        redirect.stop()


def test_a_vcs_url_with_userinfo_in_the_plan_and_in_pips_error(tmp_path: Path, index: tuple[Index, Path]) -> None:
    """pip's relayed failure and this tool's own plan both name the URL; neither shows its password."""
    served, _wheel = index
    secret = "vcsPassw0rd"
    entry = {"git": f"http://ci:{secret}@127.0.0.1:9/repo.git", "ref": "0" * 40}
    project = write_project(tmp_path / "p", {"default": {"private": entry}}, index_url=served.url)
    dry = _run(project, tmp_path, "unused", "--dry-run")
    assert dry.returncode == 0 and "private" in dry.stdout and "***@127.0.0.1:9" in dry.stdout, dry.stdout
    _assert_no_secret(dry, secret)
    # One run for both outputs (pip is slow to fail): the error line on stderr, the JSON answer on stdout.
    result = _run(project, tmp_path, "unused", "--seed", "--json")
    assert result.returncode == 1 and "private" in result.stderr, result.stderr
    assert json.loads(result.stdout)["exit_code"] == 1
    _assert_no_secret(result, secret)


def test_a_mirror_password_is_registered_when_the_mirror_is_checked() -> None:
    from pipenv_sync_ext.lock.mirror import check_mirror

    check_mirror("https://ci:m1rrorPass@mirror.example/simple")
    assert R.redact("GET mirror.example/simple as m1rrorPass failed") == "GET mirror.example/simple as *** failed"


def test_a_token_already_percent_encoded_is_decoded_once_as_before() -> None:
    """pip's documentation asks for percent-encoded credentials: such a token keeps working unchanged."""
    url = R.expand("https://ci:${TOKEN}@example.invalid/simple", {"TOKEN": "p%40ss%2Fword"})
    assert url == "https://ci:p%40ss%2Fword@example.invalid/simple"
    assert R.redact("auth p@ss/word and p%40ss%2Fword") == "auth *** and ***"
