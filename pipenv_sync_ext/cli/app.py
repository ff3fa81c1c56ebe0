"""``pipenv-sync``: make a virtualenv match Pipfile.lock exactly.

Kept light: argparse and the pipeline only; a user's mistake is one line on
stderr and an exit code from :mod:`pipenv_sync_ext.errors`, never a traceback.

The edges of a run live here, each in its own function: the subcommands
(:func:`main` hands any first word that is not an option to
:mod:`~pipenv_sync_ext.cli.commands`, and ``--help`` lists what that parser
has, so a subcommand added there shows up by itself), Ctrl-C
(:mod:`~pipenv_sync_ext.cli.interrupt`) and a closed pipe
(:mod:`~pipenv_sync_ext.cli.streams`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pipenv_sync_ext import __version__
from pipenv_sync_ext.cli.arguments import HintedParser, add_sync_arguments, options_from_args
from pipenv_sync_ext.cli.output import emit, emit_styled, guarded, line_style, printers
from pipenv_sync_ext.cli.streams import pipe_safe
from pipenv_sync_ext.errors import EXIT_OK, EXIT_OUT_OF_SYNC

EXIT_CODES = (
    "Exit codes: 0 synced, 1 error, 2 usage, 3 stale lock under --deploy, 4 missing artifacts, "
    "5 --check found the venv out of sync, 130 interrupted (Ctrl-C)."
)


class _Parser(HintedParser):
    """The sync's parser; its help also lists the subcommands of :mod:`~pipenv_sync_ext.cli.commands`."""

    def format_help(self) -> str:
        return super().format_help() + subcommands_help()


def subcommands_help() -> str:
    """One line per subcommand, read from the subcommands' parser itself (built only for --help)."""
    from pipenv_sync_ext.cli.commands import build_parser as commands_parser

    lines = ["", "subcommands (pipenv-sync COMMAND --help for each):"]
    for action in commands_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            lines += [f"  {choice.dest:<10}  {choice.help}" for choice in action._get_subactions()]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pipenv-sync",
        usage="%(prog)s [options]\n       %(prog)s COMMAND ...  (see subcommands below)",
        description="Make a virtualenv match Pipfile.lock exactly, from a sha256-addressed cache.",
        epilog=EXIT_CODES,
    )
    add_sync_arguments(p)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def run(args: argparse.Namespace) -> int:
    """One sync, for ``pipenv-sync`` and for ``pipenv sync``'s hook alike."""
    from pipenv_sync_ext.cli.interrupt import Watch
    from pipenv_sync_ext.cli.progress import for_command
    from pipenv_sync_ext.cli.report import to_json, to_text
    from pipenv_sync_ext.pipeline.sync import sync

    warn, log = printers(args)
    watch = Watch.start(args)

    def body() -> int:
        progress = for_command(args, log)
        try:
            with watch.handler():
                result = sync(options_from_args(args), warn, log=log, progress=progress)
        except KeyboardInterrupt:
            progress.finish()
            return watch.interrupted()
        except OSError as exc:
            progress.finish()
            raise (watch.refused(exc) or exc) from None
        finally:
            progress.finish()  # before the report or the error: no bar drawn over them
        if args.json:
            emit(to_json(result))
        elif not args.quiet or result.out_of_sync:
            emit_styled(to_text(result, verbose=args.verbose), line_style, stream=sys.stdout, args=args)
        return EXIT_OUT_OF_SYNC if result.out_of_sync else EXIT_OK

    return pipe_safe(lambda: guarded(args, body))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and not argv[0].startswith("-"):  # the sync takes no positional argument: a subcommand
        from pipenv_sync_ext.cli.commands import main as command_main
        from pipenv_sync_ext.cli.interrupt import interruptible

        return pipe_safe(lambda: interruptible(lambda: command_main(argv)))
    return pipe_safe(lambda: run(build_parser().parse_args(argv)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
