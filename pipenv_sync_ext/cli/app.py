"""``pipenv-sync``: make a virtualenv match Pipfile.lock exactly.

Kept light: argparse and the pipeline only; a user's mistake is one line on
stderr and an exit code from :mod:`pipenv_sync_ext.errors`, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipenv_sync_ext import __version__
from pipenv_sync_ext.cli.arguments import add_sync_arguments, options_from_args
from pipenv_sync_ext.cli.output import emit, guarded, printers
from pipenv_sync_ext.errors import EXIT_OK, EXIT_OUT_OF_SYNC

if TYPE_CHECKING:
    pass


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


def run(args: argparse.Namespace) -> int:
    from pipenv_sync_ext.cli.report import to_json, to_text
    from pipenv_sync_ext.pipeline.sync import sync

    warn, log = printers(args)

    def body() -> int:
        result = sync(options_from_args(args), warn, log)
        if args.json:
            emit(to_json(result))
        elif not args.quiet or result.out_of_sync:
            emit(to_text(result, verbose=args.verbose))
        return EXIT_OUT_OF_SYNC if result.out_of_sync else EXIT_OK

    return guarded(args, body)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["fetch"], ["cache"], ["export"]):  # subcommands: the store, and export --pylock
        from pipenv_sync_ext.cli.commands import main as command_main

        return command_main(argv)
    args = build_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
