"""``pipenv-sync``: make a virtualenv match Pipfile.lock exactly.

Kept light: argparse and the pipeline only; a user's mistake is one line on
stderr and an exit code from :mod:`pipenv_sync_ext.errors`, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import EXIT_ERROR, EXIT_OK, EXIT_OUT_OF_SYNC, SyncError

if TYPE_CHECKING:
    from .sync import Options


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pipenv-sync",
        description="Make a virtualenv match Pipfile.lock exactly, from a sha256-addressed cache.",
        epilog=(
            "Exit codes: 0 synced, 1 error, 2 usage, 3 stale lock under --deploy, 4 missing artifacts, "
            "5 --check found the venv out of sync."
        ),
    )
    add_sync_arguments(p)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def add_sync_arguments(p: argparse.ArgumentParser, *, pipenv_owns_selection: bool = False) -> None:
    """The options of a sync. ``pipenv_owns_selection``: pipenv's parser already has
    --dev/--categories/--all/--python, so only the extension's own options are added."""
    if not pipenv_owns_selection:
        p.add_argument("-d", "--dev", action="store_true", help="also sync [develop] (dev-packages)")
        p.add_argument("--categories", help="space/comma separated categories to sync (instead of default)")
        p.add_argument("--all", dest="all_sections", action="store_true", help="sync every category of the lock")
        p.add_argument("--python", help="interpreter to create the venv with: a path or a version such as 3.11")
    p.add_argument("--project", type=Path, help="directory holding Pipfile and Pipfile.lock (default: pipenv's search)")
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
    p.add_argument("--seed", action="store_true", help="give a newly created venv pip")
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
    p.add_argument("--json", action="store_true", help="print the plan/result as JSON on stdout")
    p.add_argument("--deploy", action="store_true", help="fail when Pipfile.lock is out of date")
    p.add_argument("--keep", action="append", default=[], metavar="NAME", help="never prune NAME (repeatable)")
    add_source_arguments(p)
    p.add_argument(
        "--cache-dir", type=Path, help="artifact store (default: $PIPENV_SYNC_CACHE_DIR or ~/.cache/pipenv-sync)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="also list unchanged packages")


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """Where artifacts may come from besides the store: shared by sync and ``fetch``."""
    p.add_argument(
        "--find-links",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="extra read-only directory of artifacts, matched by sha256 (repeatable)",
    )
    p.add_argument("--no-pip-cache", action="store_true", help="do not look in pip's (and pipenv's) HTTP cache")


def parse_categories(value: str | None) -> list[str]:
    """pipenv's own splitting: commas and/or spaces (one implementation, shared with the fast path)."""
    from .noop import split_categories

    return split_categories(value)


def options_from_args(args: argparse.Namespace) -> Options:
    from .sync import Options

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
        find_links=tuple(args.find_links),
        pip_cache=not args.no_pip_cache,
        cache_dir=args.cache_dir,
        rebuild=args.rebuild,
        rebuild_on_drift=args.rebuild_on_drift,
        allow_python_drift=args.allow_python_drift,
        seed=args.seed,
        lock_timeout=args.lock_timeout,
        link_mode=args.link_mode,
    )


def printers(args: argparse.Namespace) -> tuple[Callable[[str], None], Callable[[str], None]]:
    """``warn`` (stderr unless -q) and ``log`` (stderr unless -q or --json) for one command."""
    quiet = args.quiet or args.json

    def warn(message: str) -> None:
        if not args.quiet:
            print(f"warning: {message}", file=sys.stderr)

    def log(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr)

    return warn, log


def failed(args: argparse.Namespace, message: str, code: int) -> int:
    print(f"pipenv-sync: error: {message}", file=sys.stderr)
    if args.json:  # a program reading stdout gets an answer too
        print(json.dumps({"error": message, "exit_code": code}))
    return code


def guarded(args: argparse.Namespace, body: Callable[[], int]) -> int:
    """Run a command: a user's mistake or the filesystem's refusal is one line and an exit code."""
    try:
        return body()
    except SyncError as exc:
        return failed(args, str(exc), exc.exit_code)
    except OSError as exc:  # permissions, disk full: not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        return failed(args, f"{where}{exc.strerror or exc}", EXIT_ERROR)
    except KeyboardInterrupt:
        print("pipenv-sync: interrupted", file=sys.stderr)
        return EXIT_ERROR


def run(args: argparse.Namespace) -> int:
    from .report import to_json, to_text
    from .sync import sync

    warn, log = printers(args)

    def body() -> int:
        result = sync(options_from_args(args), warn, log)
        if args.json:
            print(to_json(result))
        elif not args.quiet or result.out_of_sync:
            print(to_text(result, verbose=args.verbose))
        return EXIT_OUT_OF_SYNC if result.out_of_sync else EXIT_OK

    return guarded(args, body)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["fetch"], ["cache"]):  # subcommands: fill / inspect / prune the store
        from .commands import main as command_main

        return command_main(argv)
    args = build_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
