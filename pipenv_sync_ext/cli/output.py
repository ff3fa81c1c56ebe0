"""How every command speaks: warnings and log lines on stderr, one-line errors with an exit code.

A user's mistake or the filesystem's refusal is one line on stderr and an exit
code from :mod:`pipenv_sync_ext.errors`, never a traceback.

This module is the one writer of the commands' output: :func:`emit` (text)
and :func:`emit_json` (data) apply :func:`pipenv_sync_ext.redact.redact` to
everything, so no credential reaches stdout or stderr whichever stage wrote
the message (a warning, a log line, pip's relayed error, a result).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from pipenv_sync_ext.errors import EXIT_ERROR, EXIT_OK, SyncError
from pipenv_sync_ext.redact import redact, redact_data


def emit(text: str, *, stream: TextIO | None = None) -> None:
    """Write one message (and a newline) to ``stream`` (stdout by default), redacted."""
    print(redact(text), file=stream or sys.stdout)


def emit_json(data: Any, *, indent: int | None = None) -> None:
    emit(json.dumps(redact_data(data), indent=indent))


def printers(args: argparse.Namespace) -> tuple[Callable[[str], None], Callable[[str], None]]:
    """``warn`` (stderr unless -q) and ``log`` (stderr unless -q or --json) for one command."""
    quiet = args.quiet or args.json

    def warn(message: str) -> None:
        if not args.quiet:
            from pipenv_sync_ext.cli.errortext import fold

            line = redact(f"warning: {message}")  # before folding: a secret cut in two is not recognised
            emit(line if getattr(args, "verbose", False) else "\n".join(fold(line)), stream=sys.stderr)

    def log(message: str) -> None:
        if not quiet:
            from pipenv_sync_ext.cli.errortext import fold

            line = redact(message)
            emit(line if getattr(args, "verbose", False) else "\n".join(fold(line)), stream=sys.stderr)

    return warn, log


def failed(
    args: argparse.Namespace, message: str, *, code: int, hint: str | None = None, details: Sequence[str] = ()
) -> int:
    from pipenv_sync_ext.cli.errortext import error_lines

    verbose = bool(getattr(args, "verbose", False))
    for line in error_lines(message, hint=hint, details=details, verbose=verbose):
        emit(line, stream=sys.stderr)
    if args.json:  # a program reading stdout gets an answer too, with every detail
        emit_json({"error": message, "exit_code": code, "hint": hint, "details": list(details)})
    return code


def guarded(args: argparse.Namespace, body: Callable[[], int]) -> int:
    """Run a command: a user's mistake or the filesystem's refusal is one line and an exit code."""
    try:
        return body()
    except SyncError as exc:
        return failed(args, str(exc), code=exc.exit_code, hint=exc.hint, details=exc.details)
    except OSError as exc:  # permissions, disk full: not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        return failed(args, f"{where}{exc.strerror or exc}", code=EXIT_ERROR)
    except KeyboardInterrupt:
        emit("pipenv-sync: interrupted", stream=sys.stderr)
        return EXIT_ERROR


def run_command(args: argparse.Namespace, body: Any) -> int:
    """A subcommand's ``body(warn, log, quiet)`` returns its text and JSON; printed as the flags say."""

    warn, log = printers(args)

    def command() -> int:
        text, data = body(warn, log, args.quiet or args.json)
        if args.json:
            emit_json(data, indent=2)
        elif not args.quiet:
            emit(text)
        return EXIT_OK

    return guarded(args, command)
