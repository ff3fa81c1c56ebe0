"""The options of a sync, shared by ``pipenv-sync`` and the ``pipenv sync`` integration, and their parsing."""

from __future__ import annotations

import argparse
import os
import re
import sys
import urllib.parse
from pathlib import Path
from typing import Any, NoReturn

from pipenv_sync_ext.fastpath.identity import split_categories
from pipenv_sync_ext.pipeline.options import Options


class HintedParser(argparse.ArgumentParser):
    """argparse's own usage errors (exit 2) end with a hint too, and are redacted like every other line."""

    def error(self, message: str) -> NoReturn:
        from pipenv_sync_ext.redact import redact

        self.print_usage(sys.stderr)
        self.exit(2, redact(f"{self.prog}: error: {message}\nhint: {self.prog} --help lists the options\n"))


def add_sync_arguments(p: argparse.ArgumentParser, *, pipenv_owns_selection: bool = False) -> None:
    """The options of a sync. ``pipenv_owns_selection``: pipenv's parser already has
    --dev/--categories/--all/--python, so only the extension's own options are added."""
    if not pipenv_owns_selection:
        p.add_argument("-d", "--dev", action="store_true", help="also sync [develop] (dev-packages)")
        p.add_argument("--categories", help="space/comma separated categories to sync (instead of default)")
        p.add_argument("--all", dest="all_sections", action="store_true", help="sync every Pipfile category")
        p.add_argument("--python", help="interpreter to create the venv with: a path or a version such as 3.11")
    p.add_argument("--project", type=Path, help="directory holding Pipfile and Pipfile.lock (default: pipenv's search)")
    add_lockfile_argument(p)
    p.add_argument("--venv", type=Path, help="the virtualenv to sync (created when missing); default: pipenv's")
    p.add_argument("--prune", action="store_true", help="remove every installed package the lock does not select")
    p.add_argument("--offline", action="store_true", help="never open a network connection")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument(
        "--check", action="store_true", help="exit 5 with the reasons when the venv is out of sync; change nothing"
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="--check, never answered from the sync stamp: hash every installed file against its RECORD",
    )
    p.add_argument(
        "--repair", action="store_true", help="also reinstall packages whose installed files were modified or removed"
    )
    p.add_argument("--rebuild", action="store_true", help="recreate the venv (beside it, swapped in when synced)")
    p.add_argument(
        "--rebuild-on-drift",
        action="store_true",
        help="rebuild instead of failing when the venv is broken, moved or drifted (env: PIPENV_SYNC_REBUILD=1)",
    )
    p.add_argument(
        "--allow-python-drift",
        action="store_true",
        help="warn, instead of failing, when the venv's Python does not match the lock's _meta.requires",
    )
    p.add_argument(
        "--seed",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="give a newly created venv pip (default: no; through `pipenv sync`, yes, as pipenv's venvs have it)",
    )
    p.add_argument(
        "--lock-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long to wait for another sync of the same venv (default 600)",
    )
    p.add_argument(
        "--link-mode",
        choices=("auto", "clone", "hardlink", "copy", "installer"),
        default="auto",
        help="how files get from the store's unpacked wheels into the venv: auto (clone if the filesystem can, "
        "else hardlink on the same filesystem, else copy), clone, hardlink, copy, or installer (unzip each wheel)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="byte-compile the files this sync installs, in parallel with the venv's interpreter (listed in RECORD)",
    )
    p.add_argument("--json", action="store_true", help="print the plan/result as JSON on stdout")
    p.add_argument("--deploy", action="store_true", help="fail when Pipfile.lock is out of date")
    p.add_argument("--keep", action="append", default=[], metavar="NAME", help="never prune NAME (repeatable)")
    add_status_arguments(p)
    add_source_arguments(p)
    p.add_argument(
        "--cache-dir", type=Path, help="artifact store (default: $PIPENV_SYNC_CACHE_DIR or ~/.cache/pipenv-sync)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="also list unchanged packages")


def add_status_arguments(p: argparse.ArgumentParser) -> None:
    """What the index says of the locked files: yanked (PEP 592), quarantined (PEP 792); pipeline/withdrawn.py."""
    p.add_argument(
        "--allow-yanked",
        action="append",
        default=[],
        metavar="NAME",
        help="accept NAME's yanked files under --deploy (repeatable)",
    )
    p.add_argument(
        "--status-max-age",
        type=_age,
        default=Options.status_max_age,
        metavar="AGE",
        help="say so when the index status used offline is older than AGE (7d, 12h, 30m or seconds; default 7d)",
    )
    p.add_argument(
        "--require-fresh-status",
        action="store_true",
        help="fail when the index status of a locked package is missing or older than --status-max-age",
    )


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*")


def parse_age(text: str) -> float:
    """``3d``, ``12h``, ``30m``, ``2w`` or plain seconds, in seconds."""
    m = _AGE.fullmatch(text.lower())
    if m is None:
        raise ValueError(f"{text!r} is not an age (e.g. 7d, 12h, 30m or seconds)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _age(text: str) -> float:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_lockfile_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lockfile",
        type=Path,
        metavar="PATH",
        help="the lock to read: a Pipfile.lock or a PEP 751 pylock[.NAME].toml (default: Pipfile.lock, "
        "else pylock.toml, else the only pylock.NAME.toml)",
    )


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """Where artifacts may come from besides the store: shared by sync and ``fetch``."""
    p.add_argument(
        "--find-links",
        action="append",
        default=[],
        metavar="DIR|URL",
        help="extra read-only directory of artifacts, or an http(s) page of links to them, matched by sha256 "
        "(repeatable; env: PIP_FIND_LINKS, pip.conf)",
    )
    p.add_argument(
        "--index-url",
        metavar="URL",
        help="a simple index mirroring every lock source, asked before them (env: PIP_INDEX_URL, pip.conf)",
    )
    p.add_argument(
        "--extra-index-url",
        action="append",
        default=[],
        metavar="URL",
        help="another mirror, after --index-url (repeatable; env: PIP_EXTRA_INDEX_URL, pip.conf)",
    )
    p.add_argument(
        "--no-lock-sources",
        action="store_true",
        help="never ask the lock's own sources: only the store, find-links and the mirrors above",
    )
    p.add_argument("--no-pip-cache", action="store_true", help="do not look in pip's (and pipenv's) HTTP cache")
    p.add_argument(
        "--pypi-mirror",
        metavar="URL",
        help="fetch what the lock's pypi.org sources list from this mirror, as pipenv does (env: PIPENV_PYPI_MIRROR)",
    )


def parse_categories(value: str | None) -> list[str]:
    """pipenv's own splitting: commas and/or spaces (one implementation, shared with the fast path)."""
    return split_categories(value)


def options_from_args(args: argparse.Namespace) -> Options:
    categories = parse_categories(args.categories) or parse_categories(
        None if args.dev else os.environ.get("PIPENV_DEFAULT_CATEGORIES")
    )
    return Options(
        project_dir=args.project,
        venv=args.venv,
        python=args.python,
        dev=bool(args.dev),
        categories=tuple(categories),
        all_sections=bool(args.all_sections),
        prune=args.prune,
        offline=args.offline,
        dry_run=args.dry_run,
        check=args.check or args.verify,
        verify=args.verify,
        repair=args.repair,
        deploy=args.deploy,
        keep=tuple(args.keep),
        **source_options(args),
        pip_cache=not args.no_pip_cache,
        cache_dir=args.cache_dir,
        rebuild=args.rebuild,
        rebuild_on_drift=args.rebuild_on_drift,
        allow_python_drift=args.allow_python_drift,
        seed=bool(args.seed),
        lock_timeout=args.lock_timeout,
        link_mode=args.link_mode,
        compile=args.compile,
        pypi_mirror=pypi_mirror(args),
        allow_yanked=tuple(args.allow_yanked),
        status_max_age=args.status_max_age,
        require_fresh_status=args.require_fresh_status,
        lockfile=args.lockfile,
        verbose=bool(getattr(args, "verbose", False)),
    )


def source_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--find-links`` split into local directories and remote pages, and the index mirrors (store/mirrors.py)."""
    from pipenv_sync_ext.store.pipconfig import local_path

    remote = [v for v in args.find_links if urllib.parse.urlsplit(v).scheme in ("http", "https")]
    return {
        "find_links": tuple(local_path(v) for v in args.find_links if v not in remote),
        "find_links_urls": tuple(remote),
        "index_url": args.index_url or None,
        "extra_index_urls": tuple(args.extra_index_url),
        "lock_sources": not args.no_lock_sources,
    }


def pypi_mirror(args: argparse.Namespace) -> str | None:
    """``--pypi-mirror``, else ``PIPENV_PYPI_MIRROR`` (as pipenv reads it)."""
    return args.pypi_mirror or os.environ.get("PIPENV_PYPI_MIRROR") or None
