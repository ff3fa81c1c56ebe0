"""Structure-aware fuzzing of the lock and Pipfile readers, seeded from real files (issue 18, part 7).

The seeds are real: ``tests/data/*.Pipfile.lock`` and ``*.Pipfile`` are what
``pipenv lock`` wrote for two projects (a small one and one of 70 packages),
plus a lock of every direct kind pipenv writes. Each example mutates one place
of a seed (a value replaced by another type, null, a huge number, deep nesting,
a long string; a key deleted, renamed or added) and reads the result with the
real loaders. The only acceptable outcomes are a loaded lock (whose entries the
later stages can use) or one :class:`LockError` line naming the file, and the
section and package when the mutation was inside an entry. Anything else (a
``TypeError``, ``ValueError``, ``RecursionError``) is a failure of the schema.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipenv_sync_ext.errors import LockError
from pipenv_sync_ext.lock.freshness import pipfile_hash
from pipenv_sync_ext.lock.markers import markers_true
from pipenv_sync_ext.lock.pipfile import read_pipfile
from pipenv_sync_ext.lock.pipfile_lock import load_lock, parse_lock
from pipenv_sync_ext.lock.schema import MAX_FILE_BYTES
from pipenv_sync_ext.lock.selection import select

from .support import cli_env, run_cli

DATA = Path(__file__).parent / "data"
H = "sha256:" + "ab" * 32
DIRECT_LOCK = {
    "_meta": {
        "hash": {"sha256": "0" * 64},
        "pipfile-spec": 6,
        "requires": {"python_version": "3.11", "python_full_version": "3.11.4"},
        "sources": [
            {"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True},
            {"name": "private", "url": "https://${USER}:${TOKEN}@example.invalid/simple", "verify_ssl": False},
        ],
    },
    "default": {
        "local": {"editable": True, "path": "."},
        "vendored": {"path": "./vendor/pkg", "markers": "python_version >= '3.8'"},
        "remote": {"file": "https://example.invalid/remote-1.0-py3-none-any.whl", "hashes": [H]},
        "vcs": {"git": "https://github.com/o/r.git", "ref": "0" * 40, "subdirectory": "sub", "extras": ["x"]},
        "pinned": {"version": "==1.0", "hashes": [H], "index": "private", "os_name": "== 'posix'"},
    },
    "develop": {"tool": {"version": "==2.0", "hashes": [H, H.upper()], "extras": ["cli", "Socks"]}},
    "docs": {"sphinxish": {"version": "*"}},
}
ODD_PIPFILE = """\
[[source]]
url = "https://${TOKEN}@example.invalid/simple"
verify_ssl = false
name = "private"

[packages]
alpha = "*"
beta = {version = "==1.0", markers = "python_version >= '3.8'", extras = ["x"]}
local = {path = ".", editable = true}
vcs = {git = "https://github.com/o/r.git", ref = "main"}
winonly = {version = "*", sys_platform = "== 'win32'"}

[dev-packages]
tool = {version = "*", index = "private"}

[docs]
sphinxish = "*"

[scripts]
test = "pytest"
lint = ["ruff", "check"]

[pipenv]
allow_prereleases = true

[requires]
python_version = "3.11"
"""

# Raw JSON text that json.dumps cannot write (or that must not go through Python objects first):
# a placeholder string in the mutated value is replaced by it after dumping.
RAW = {
    "@@deep-list@@": "[" * 5000 + "]" * 5000,
    "@@deep-object@@": '{"a":' * 5000 + "1" + "}" * 5000,
    "@@deep-shallow@@": "[" * 40 + "]" * 40,  # parses; over the schema's depth limit
    "@@huge-int@@": "9" * 5000,
    "@@long-int@@": "9" * 40,
    "@@huge-float@@": "1." + "1" * 5000,
    "@@out-of-range@@": "1e99999",
    "@@nan@@": "NaN",
}
RAW_TOML = {
    "@@deep-list@@": "[" * 5000 + "]" * 5000,
    "@@deep-table@@": "{a=" * 5000 + "1" + "}" * 5000,
    "@@deep-shallow@@": "[" * 40 + "]" * 40,
    "@@huge-int@@": "9" * 5000,
    "@@huge-float@@": "1." + "1" * 5000,
    "@@out-of-range@@": "1e99999",
}
PARSE_LEVEL = frozenset(RAW) | frozenset(RAW_TOML)  # refused by the loader: the message names the file only

_strings = st.sampled_from(
    [
        "",
        "*",
        "==1.0",
        "==" + "9" * 5000,
        "==1." + "0" * 300,
        ">=" + "1" * 5000,
        "===1.0",
        "sha256:zz",
        H,
        "md5:" + "0" * 32,
        "python_version >= '3'",
        "(" * 3000 + "python_version > '3'" + ")" * 3000,
        "python_version >>> '3'",
        "x" * 100_000,
        "line\nbreak\u2028sep",
        "../../etc/passwd",
        "https://user:pass@host/simple",
        "http://[::1/unclosed",
        "https://host:99999/simple",
        "\x00",
    ]
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    _strings,
)
_values = st.one_of(
    _scalars,
    st.sampled_from(sorted(RAW)),
    st.lists(_scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), _scalars, max_size=3),
    st.just([H] * 3),
    st.just({"version": "==1.0", "hashes": [H]}),
)
_keys = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["version", "hashes", "markers", "file", "path", "git", "ref", "editable", "extras", "index"]),
    st.just("k" * 5000),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


def _seed_locks() -> dict[str, Any]:
    seeds = {p.name: json.loads(p.read_text()) for p in sorted(DATA.glob("*.Pipfile.lock"))}
    assert len(seeds) >= 2, "the real locks in tests/data are missing"
    return {**seeds, "direct": DIRECT_LOCK}


SEEDS = _seed_locks()
# Every place of every seed; the medium lock alone has thousands, sampled uniformly across seeds.
PLACES = [(name, path) for name, seed in SEEDS.items() for path in _paths(seed)]


@dataclass(frozen=True)
class Mutation:
    """One change to one place of a seed (small, so that hypothesis prints it, not the 80 kB lock)."""

    seed: str
    place: tuple[Any, ...]
    action: str  # replace, delete, rename (the key at place), add (a key inside place)
    value: Any
    key: str

    def text(self) -> str:
        data = copy.deepcopy(SEEDS[self.seed])
        parent: Any = data
        for step in self.place[:-1]:
            parent = parent[step]
        if not self.place:
            data = self.value  # the whole lock replaced
        elif self.action == "delete":
            del parent[self.place[-1]]
        elif self.action == "rename" and isinstance(parent, dict):
            parent[self.key] = parent.pop(self.place[-1])
        elif self.action == "add" and isinstance(parent[self.place[-1]], dict):
            parent[self.place[-1]][self.key] = self.value
        else:
            parent[self.place[-1]] = self.value
        text = json.dumps(data)
        for placeholder, raw in RAW.items():
            text = text.replace(json.dumps(placeholder), raw)
        return text

    @property
    def inside_an_entry(self) -> bool:
        """A typed change inside a package's entry: the refusal must name the section and the package."""
        in_entry = len(self.place) >= 3 and self.place[0] != "_meta" and self.action in ("replace", "add")
        return in_entry and not (
            isinstance(self.value, str) and self.value in RAW
        )  # a raw placeholder is refused by the parser: file only


@st.composite
def mutated_locks(draw: st.DrawFn) -> Mutation:
    name, place = draw(st.sampled_from(PLACES))
    action = draw(st.sampled_from(["replace", "replace", "delete", "rename", "add"]))
    return Mutation(name, place, action, draw(_values), draw(_keys))


def _check_error(exc: LockError, path: Path) -> str:
    message = str(exc)
    assert message.startswith(str(path)), message
    assert "\n" not in message and "\r" not in message
    assert len(message) < 1500, message[:300]  # short: names are bounded, long values are cut
    return message


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_locks())
def test_a_mutated_real_lock_is_a_lock_or_one_line_naming_the_entry(
    tmp_path_factory: pytest.TempPathFactory, case: Mutation
) -> None:
    path = tmp_path_factory.mktemp("lock") / "Pipfile.lock"
    path.write_text(case.text(), encoding="utf-8")
    try:
        lock = load_lock(path)
        # What the next stages do with a loaded lock: select every section, evaluate every marker.
        lock, sections = select(lock, None, all_sections=True)
        for section in sections:
            for entry in lock.sections[section]:
                markers_true(entry.markers, {"python_version": "3.11", "os_name": "posix"}, str(path))
    except LockError as exc:
        message = _check_error(exc, path)
        if case.inside_an_entry:
            assert f"[{case.place[0]}] {case.place[1]}" in message, message


def test_the_readme_cases_are_one_line_lock_errors(tmp_path: Path) -> None:
    """The cases the issue names, each a traceback before the schema: now each names the file and entry."""
    base = SEEDS["small.Pipfile.lock"]
    package = next(iter(base["default"]))
    cases: dict[str, tuple[str, str]] = {
        "hashes a string": (json.dumps(_with(base, package, hashes=H)), f"[default] {package}: hashes must be a list"),
        "file null": (json.dumps(_with(base, package, file=None)), f"[default] {package}: file must be a string"),
        "5,000-digit version": (
            json.dumps(_with(base, package, version="==" + "9" * 5000)),
            f"[default] {package}: version is 5002 characters long",
        ),
        "5,000-digit number": (
            json.dumps(_with(base, package, version="@@huge-int@@")).replace('"@@huge-int@@"', "9" * 5000),
            "a number with 5000 characters",
        ),
        "long requires": (
            json.dumps({**base, "_meta": {**base["_meta"], "requires": {"python_version": ">=" + "1" * 5000}}}),
            "[_meta]: requires.python_version is 5002 characters long",
        ),
        "nested 5,000 deep": (json.dumps(base).replace("{", '{"x":' + RAW["@@deep-list@@"] + ",", 1), "nested deeper"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name / "Pipfile.lock"
        path.parent.mkdir()
        path.write_text(text)
        with pytest.raises(LockError) as err:
            load_lock(path)
        assert expected in _check_error(err.value, path), name


def _with(lock: dict[str, Any], package: str, **fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(lock)
    data["default"][package].update(fields)
    return data


def test_a_lock_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "Pipfile.lock"
    with path.open("wb") as handle:  # sparse: the limit is judged on bytes read, not on memory used
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(LockError) as err:
        load_lock(path)
    assert "larger than 64 MiB" in _check_error(err.value, path)


def _toml_value(value: Any) -> str:
    """``value`` as TOML (inline); None has no TOML form and becomes an empty inline table."""
    if value is None:
        return "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return RAW_TOML.get(value) or json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _pipfile_seeds() -> list[str]:
    return [*(p.read_text() for p in sorted(DATA.glob("*.Pipfile"))), ODD_PIPFILE]


@st.composite
def mutated_pipfiles(draw: st.DrawFn) -> str:
    """A real Pipfile with one line replaced, a line added, or a whole table turned into a value."""
    lines = draw(st.sampled_from(_pipfile_seeds())).splitlines()
    i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
    key = draw(st.sampled_from(["version", "url", "name", "verify_ssl", "python_version", "alpha", "markers"]))
    value = _toml_value(draw(st.one_of(_values, st.sampled_from(sorted(RAW_TOML)))))
    action = draw(st.sampled_from(["line", "add", "table", "inline"]))
    if action == "line" and "=" in lines[i]:
        lines[i] = f"{lines[i].split('=', 1)[0].strip()} = {value}"
    elif action == "table":
        lines.insert(0, f"{draw(st.sampled_from(['packages', 'docs', 'source', 'requires', 'pipenv', 'x']))} = {value}")
    elif action == "inline":
        lines.insert(i, f"odd = {{{key} = {value}}}")
    else:
        lines.insert(i, f"{key} = {value}")
    return "\n".join(lines) + "\n"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_pipfiles())
def test_a_mutated_real_pipfile_is_read_or_one_line_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("pipfile") / "Pipfile"
    path.write_text(text, encoding="utf-8")
    for reader in (read_pipfile, pipfile_hash):
        try:
            reader(path)
        except LockError as exc:
            _check_error(exc, path)


# The same refusals through the real command: exit 1, one line on stderr, never a traceback.
CLI_CASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "hashes a string": lambda lock: _with(lock, next(iter(lock["default"])), hashes=H),
    "file null": lambda lock: _with(lock, next(iter(lock["default"])), file=None),
    "file an unparsable URL": lambda lock: _with(lock, next(iter(lock["default"])), file="http://[::1/x.whl"),
    "nested 5,000 deep": lambda lock: {**lock, "x": "@@deep-list@@"},
    "5,000-digit number": lambda lock: {**lock, "_meta": {**lock["_meta"], "pipfile-spec": "@@huge-int@@"}},
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_the_cli_refuses_a_mutated_lock_in_one_line(tmp_path: Path, case: str) -> None:
    text = json.dumps(CLI_CASES[case](copy.deepcopy(SEEDS["small.Pipfile.lock"])))
    for placeholder, raw in RAW.items():
        text = text.replace(json.dumps(placeholder), raw)
    (tmp_path / "Pipfile.lock").write_text(text)
    venv = tmp_path / "venv"
    result = run_cli("--project", tmp_path, "--venv", venv, "--dry-run", env=cli_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    # a headline naming the file (folded between words when long), then the fix
    assert lines[0].startswith("pipenv-sync: error: ") and str(tmp_path) in lines[0], lines
    assert lines[-1].startswith("hint: ") and len(lines) <= 3, lines
    assert len(" ".join(lines[:-1])) < 400, lines
    assert "Traceback" not in result.stderr + result.stdout
    assert not venv.exists()


def test_the_seeds_load_unchanged() -> None:
    """The fuzzer's starting points are valid: each mutation is the only thing wrong with its lock."""
    for name, seed in SEEDS.items():
        lock = parse_lock(seed, DATA / name)
        assert sum(len(e) for e in lock.sections.values()) == sum(len(v) for k, v in seed.items() if k != "_meta")
    kinds = {e.name: getattr(e, "kind", "index") for e in parse_lock(DIRECT_LOCK, DATA).sections["default"]}
    assert kinds == {"local": "editable", "vendored": "path", "remote": "file", "vcs": "vcs", "pinned": "index"}
    for path in sorted(DATA.glob("*.Pipfile")):
        assert read_pipfile(path).categories[:2] == ("packages", "dev-packages")
        assert len(pipfile_hash(path)) == 64


def test_pipenv_script_tables_and_lists_are_a_valid_pipfile(tmp_path: Path) -> None:
    path = tmp_path / "Pipfile"
    path.write_text(ODD_PIPFILE + '\n[scripts.serve]\ncall = "app:main"\n')  # pipenv's {call = ...} form
    assert read_pipfile(path).categories == ("packages", "dev-packages", "docs")
    path.write_text(ODD_PIPFILE.replace('test = "pytest"', "test = 3"))
    with pytest.raises(LockError) as err:
        read_pipfile(path)
    assert _check_error(err.value, path).endswith("[scripts]: test must be a string, not a number")


def test_urls_are_checked_only_where_they_are_urls() -> None:
    """A local path is not a URL; a ``${PORT}`` is a number once expanded; a bracket left open is an error."""
    base = copy.deepcopy(SEEDS["direct"])
    base["_meta"]["sources"][0]["url"] = "https://mirror.example:${PORT}/simple"
    base["default"]["vendored"]["path"] = "./odd[dir"
    assert parse_lock(base, DATA / "ok.lock").sources[0].url == "https://mirror.example:${PORT}/simple"
    base["default"]["remote"]["file"] = "https://[::1/remote.whl"
    with pytest.raises(LockError) as err:
        parse_lock(base, DATA / "bad.lock")
    assert "[default] remote: file 'https://[::1/remote.whl' is not a valid URL" in str(err.value)
