"""The subcommands' parser: ``pipenv-sync fetch``, ``pipenv-sync cache`` and ``pipenv-sync export``.

``cli.main`` hands over here when the first argument is ``fetch``, ``cache`` or ``export``.

``fetch`` takes the same selection as a sync (``--dev``, ``--categories``,
``--all``) and places (``--find-links``, pip's configured find-links, pip's
HTTP cache, the lock's sources) and puts every artifact the selection needs in
the store: for the project's venv's interpreter (or the one a new venv would be
made with), or for a target described like ``pip download`` does
(``--python-version 3.12 --platform manylinux_2_28_x86_64 --implementation cp
--abi cp312``). ``--all-hashes`` takes every file the lock allows, for every
platform. ``--wheelhouse DIR`` copies the chosen artifacts to DIR with a static
PEP 503 index (:mod:`~pipenv_sync_ext.store.wheelhouse`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipenv_sync_ext import __version__
from pipenv_sync_ext.cli.arguments import HintedParser, add_lockfile_argument, add_source_arguments
from pipenv_sync_ext.cli.cache_cmd import (
    DEFAULT_MIN_AGE,
    run_cache_clean,
    run_cache_dir,
    run_cache_info,
    run_cache_prune,
)
from pipenv_sync_ext.cli.export_cmd import add_export_parser
from pipenv_sync_ext.cli.fetch_cmd import run_fetch
from pipenv_sync_ext.cli.output import emit
from pipenv_sync_ext.errors import EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    p = HintedParser(prog="pipenv-sync", description="Fill, inspect and prune pipenv-sync's store.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser(
        "fetch",
        help="put every artifact the lock's selection needs in the store (and a wheelhouse)",
        description=(
            "Put every artifact the selected categories of Pipfile.lock need into the store: for the project's "
            "venv (or the interpreter a new one would get), or for the target --python-version/--platform/"
            "--implementation/--abi describe (as in pip download), with the lock's markers evaluated for it."
        ),
        epilog="Exit codes: 0 done, 1 error, 2 usage, 3 stale lock under --deploy, 4 missing artifacts.",
    )
    f.add_argument("-d", "--dev", action="store_true", help="also fetch [develop] (dev-packages)")
    f.add_argument("--categories", help="space/comma separated categories to fetch (instead of default)")
    f.add_argument("--all", dest="all_sections", action="store_true", help="fetch every Pipfile category")
    f.add_argument("--project", type=Path, help="directory holding Pipfile and Pipfile.lock (default: pipenv's search)")
    add_lockfile_argument(f)
    f.add_argument("--venv", type=Path, help="fetch for this venv's interpreter (default: the project's venv)")
    f.add_argument("--python", help="without a venv: the interpreter a new venv would be made with (path or X.Y)")
    target = f.add_argument_group("explicit target (like pip download)")
    target.add_argument("--python-version", metavar="X.Y", help="e.g. 3.12 or 3.12.4 (default: the lock's)")
    target.add_argument(
        "--platform", action="append", default=[], metavar="TAG", help="e.g. manylinux_2_28_x86_64 (repeatable)"
    )
    target.add_argument("--implementation", metavar="IMPL", help="cp (default), pp, gp or py")
    target.add_argument("--abi", action="append", default=[], metavar="ABI", help="e.g. cp312 (repeatable)")
    f.add_argument(
        "--all-hashes", action="store_true", help="every file the lock allows, for every platform (markers ignored)"
    )
    f.add_argument("--wheelhouse", type=Path, metavar="DIR", help="also copy the artifacts to DIR, with DIR/simple/")
    _add_sources(f)
    f.add_argument("--offline", action="store_true", help="never open a network connection (local sources only)")
    f.add_argument("-j", "--jobs", type=int, default=8, metavar="N", help="parallel downloads (default 8)")
    f.add_argument("--deploy", action="store_true", help="fail when Pipfile.lock is out of date or has entries "
                   "this tool cannot fetch")  # fmt: skip
    _add_output(f)
    f.set_defaults(func=run_fetch)

    add_export_parser(sub)

    c = sub.add_parser(
        "cache", help="inspect, prune or clean the store", description="Inspect, prune or clean the store."
    )
    csub = c.add_subparsers(dest="cache_command", required=True)
    info = csub.add_parser("info", help="where the store is, its size by kind and its artifact count")
    _add_cache_dir(info)
    _add_output(info)
    info.set_defaults(func=run_cache_info)
    where = csub.add_parser("dir", help="print the store's path")
    _add_cache_dir(where)
    where.set_defaults(func=run_cache_dir)
    clean = csub.add_parser(
        "clean",
        help="delete everything in the store",
        description="Delete everything in the store (the venvs' lock files stay). Asks on a terminal; "
        "elsewhere --yes is required. Unlike prune, not safe while syncs run.",
    )
    clean.add_argument("-y", "--yes", action="store_true", help="do not ask")
    _add_cache_dir(clean)
    _add_output(clean)
    clean.set_defaults(func=run_cache_clean)
    prune = csub.add_parser(
        "prune",
        help="delete what no kept lock needs (artifacts, their unpacked trees and built wheels)",
        description=(
            "Delete the store's artifacts that none of the kept locks allows (every section of each lock "
            "counts) and that no sync used in the last --min-age seconds, with their unpacked trees and the "
            "wheels built from them. Kept: the current project's Pipfile.lock, or each --keep-lock. "
            "Safe while other syncs run."
        ),
    )
    prune.add_argument(
        "--keep-lock",
        action="append",
        default=[],
        type=Path,
        metavar="LOCK",
        help="a Pipfile.lock or pylock.toml (or a directory holding one) whose artifacts stay (repeatable; "
        "default: the current project's)",
    )
    prune.add_argument("--project", type=Path, help="the project whose lock stays (default: pipenv's search)")
    prune.add_argument(
        "--min-age",
        type=float,
        default=DEFAULT_MIN_AGE,
        metavar="SECONDS",
        help=f"spare artifacts used more recently than this (default {DEFAULT_MIN_AGE:.0f})",
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    _add_cache_dir(prune)
    _add_output(prune)
    prune.set_defaults(func=run_cache_prune)
    for group in (sub, csub):  # named by their choices in errors, whatever is added above
        group.metavar = "{" + ",".join(group.choices) + "}"
    return p


def _add_sources(p: argparse.ArgumentParser) -> None:
    add_source_arguments(p)
    p.add_argument("--cache-dir", type=Path, help="the store (default: $PIPENV_SYNC_CACHE_DIR or ~/.cache/...)")


def _add_cache_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", type=Path, help="the store (default: $PIPENV_SYNC_CACHE_DIR or ~/.cache/...)")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="list every artifact")


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if getattr(args, "jobs", 1) < 1:
        emit("pipenv-sync: error: --jobs must be at least 1\nhint: give -j 1 or more", stream=sys.stderr)
        return EXIT_USAGE
    code: int = args.func(args)
    return code
