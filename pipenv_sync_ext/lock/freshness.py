"""Is Pipfile.lock up to date with the Pipfile?  pipenv's own answer, exactly.

pipenv 2026.10 (``pipenv/utils/pipfile.py``, ``calculate_hash``) hashes the
Pipfile's sources, requires and every package category with each package name
replaced by its PEP 503 canonical form.  plette's ``Pipfile.get_hash()`` skips
that canonicalisation, so it disagrees for names like ``Requests``; this module
mirrors pipenv, and the test suite checks it against pipenv itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from pipenv_sync_ext.errors import LockError, StaleLockError
from pipenv_sync_ext.lock.schema import check_pipfile, parse_toml_bytes, read_capped

# Pipfile tables that are not package categories (plette's PIPFILE_SECTIONS).
_NOT_CATEGORIES = frozenset(
    ("source", "packages", "dev-packages", "requires", "scripts", "pipfile", "pipenv", "default", "develop")
)


def pipfile_hash(pipfile: Path) -> str:
    """The sha256 that ``pipenv lock`` writes to ``_meta.hash.sha256``."""
    import plette

    # The bounded, typed read first (:mod:`.schema`): tomlkit and plette then see only a valid Pipfile.
    pipfile_bytes = read_capped(pipfile)
    checked = parse_toml_bytes(pipfile_bytes, pipfile, what="Pipfile")
    check_pipfile(checked, pipfile)
    text = pipfile_bytes.decode("utf-8")  # the very bytes checked: valid UTF-8
    if "source" not in checked:
        # plette prepends a default [[source]]; pipenv builds that default from
        # pip's configuration (index-url, extra-index-url, PIPENV_TEST_INDEX).
        text = _pipenv_default_sources() + ("" if text.startswith("\n") else "\n") + text
    try:
        parsed = plette.Pipfile(tomlkit_loads(text))
    except Exception as exc:  # tomlkit parse errors and plette validation errors
        raise LockError(f"{pipfile}: invalid Pipfile: {exc}") from None
    raw = parsed._data

    def canonical(section: Any) -> dict[str, Any]:
        return {canonicalize_name(k): v for k, v in section.items()}

    data: dict[str, Any] = {
        "_meta": {"sources": raw.get("source", {}), "requires": raw.get("requires", {})},
        "default": canonical(raw.get("packages", {})),
        "develop": canonical(raw.get("dev-packages", {})),
    }
    for category, values in raw.items():
        if category not in _NOT_CATEGORIES:
            data[category] = canonical(values)
    content = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_unwrap)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _unwrap(value: Any) -> Any:
    """A tomlkit item json cannot write (a boolean inside an array): its plain value (the fuzzer's find)."""
    if hasattr(value, "unwrap"):
        return value.unwrap()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def is_stale(pipfile: Path, locked_hash: str | None) -> bool:
    return locked_hash != pipfile_hash(pipfile)


def tomlkit_loads(text: str) -> Any:
    import tomlkit

    return tomlkit.loads(text)


def _pipenv_default_sources() -> str:
    """The ``[[source]]`` text pipenv's ``Project()`` puts in front of a Pipfile that has none.

    Rare (``pipenv install`` always writes a source), so this path may import
    pipenv: reproducing pip's configuration search by hand would drift.
    """
    import tomlkit
    from pipenv.patched.pip._internal.configuration import Configuration
    from pipenv.project import _parse_pip_conf_indexes
    from pipenv.utils.internet import is_pypi_url

    configuration = Configuration(isolated=False, load_only=None)
    configuration.load()
    indexes, extra = _parse_pip_conf_indexes(configuration)
    default: dict[str, Any]
    if indexes:
        default = indexes[0]
        for index in indexes:
            if is_pypi_url(index["url"]):
                default = index
        indexes.remove(default)
    elif os.environ.get("PIPENV_TEST_INDEX"):
        default = {"url": os.environ["PIPENV_TEST_INDEX"], "verify_ssl": True, "name": "custom"}
    else:
        default = {"url": "https://pypi.org/simple", "verify_ssl": True, "name": "pypi"}
    text = f"[[source]]\n{tomlkit.dumps(default)}"
    for source in [*indexes, *extra]:
        text += f"\n\n[[source]]\n{tomlkit.dumps(source)}"
    return text


def check_lock(
    *, pipfile: Path | None, lock_path: Path, pipfile_sha256: str | None, deploy: bool, warn: Callable[[str], None]
) -> None:
    """Warn when the lock is stale, or (under ``--deploy``) refuse it, as ``pipenv install --deploy`` does.

    ``pipfile`` is None when there is none to compare with (a deploy shipping only the lock).
    """
    if pipfile is None or not is_stale(pipfile, pipfile_sha256):
        return
    report_stale(pipfile=pipfile, lock_path=lock_path, deploy=deploy, warn=warn)


def report_stale(*, pipfile: Path, lock_path: Path, deploy: bool, warn: Callable[[str], None]) -> None:
    """Say that the lock is stale, or refuse it under ``--deploy`` (also for a stale answer the store remembered)."""
    message = f"{lock_path}: out of date with {pipfile.name} (_meta.hash differs)"
    if deploy:
        raise StaleLockError(message + "; refused under --deploy")
    warn(message + "; run `pipenv lock`")
