"""How every command speaks: warnings and log lines on stderr, one-line errors with an exit code.

A user's mistake or the filesystem's refusal is one line on stderr and an exit
code from :mod:`pipenv_sync_ext.errors`, never a traceback.

This module is the one writer of the commands' output: :func:`emit` (text)
and :func:`emit_json` (data) apply :func:`pipenv_sync_ext.redact.redact` to
everything, so no credential reaches stdout or stderr whichever stage wrote
the message (a warning, a log line, pip's relayed error, a result).

Colour and the live display (rich, imported only when something is drawn):

* **Plain** (:func:`plain`) under ``NO_COLOR``, ``PIPENV_NOSPIN``, ``TERM=dumb``
  and ``--json``: exactly the lines a pipe gets, no escape code at all.
* **Colour** (:func:`coloured`) on a terminal, or anywhere under ``FORCE_COLOR``
  (a CI log that renders colour); the live progress display needs a real
  terminal on stderr (:func:`animated`), so ``FORCE_COLOR`` in a pipe colours
  lines but never redraws them.
* Everything rich writes goes through :class:`Redacting`, the same
  :func:`~pipenv_sync_ext.redact.redact` as :func:`emit`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from pipenv_sync_ext.errors import EXIT_ERROR, EXIT_OK, SyncError
from pipenv_sync_ext.redact import redact, redact_data

if TYPE_CHECKING:
    from rich.console import Console

#: How a line is coloured: (style, how many leading characters get it; None: the whole line), or None.
Styler = Callable[[str], "tuple[str, int | None] | None"]


def emit(text: str, *, stream: TextIO | None = None) -> None:
    """Write one message (and a newline) to ``stream`` (stdout by default), redacted."""
    print(redact(text), file=stream or sys.stdout)


def plain(args: argparse.Namespace | None = None) -> bool:
    """No colour and no live display, whatever the stream: the user (or a program) asked for plain text."""
    env = os.environ
    if args is not None and getattr(args, "json", False):
        return True
    return bool(env.get("NO_COLOR")) or bool(env.get("PIPENV_NOSPIN")) or env.get("TERM") == "dumb"


def _tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or a stream without a descriptor
        return False


def coloured(stream: TextIO, args: argparse.Namespace | None = None) -> bool:
    return not plain(args) and (bool(os.environ.get("FORCE_COLOR")) or _tty(stream))


def animated(stream: TextIO, args: argparse.Namespace | None = None) -> bool:
    """A live display (redrawn lines) on ``stream``: a terminal, not plain, not -q."""
    return not plain(args) and not getattr(args, "quiet", False) and _tty(stream)


class Redacting:
    """A text file for rich's Console: every write redacted, then written to ``stream``.

    ``stream`` is the one at hand when the console is made: while a live display runs,
    ``sys.stderr`` is rich's proxy, which writes through this very file.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return _tty(self._stream)

    def fileno(self) -> int:
        return self._stream.fileno()


def console(stream: TextIO) -> Console:
    """A rich Console writing to ``stream`` through :class:`Redacting`, in colour (the caller decided)."""
    from rich.console import Console

    # soft_wrap: a long line stays one line (a pipe, a log and a terminal get the same lines);
    # no markup or highlighting: package names and paths are printed as they are.
    return Console(
        file=cast(IO[str], Redacting(stream)),  # write, flush, isatty and fileno are what rich uses
        force_terminal=True,
        color_system="standard",
        soft_wrap=True,
        markup=False,
        highlight=False,
        emoji=False,
    )


def emit_styled(text: str, styler: Styler, *, stream: TextIO, args: argparse.Namespace | None = None) -> None:
    """:func:`emit`, with each line coloured by ``styler`` when ``stream`` gets colour."""
    if not coloured(stream, args):
        emit(text, stream=stream)
        return
    from rich.text import Text

    out = Text()
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append("\n")
        how = styler(line)
        style, length = how if how is not None else ("", 0)
        length = len(line) if length is None else length
        out.append(line[:length], style=style)
        rest = line[length:]
        hint = rest.find("hint: ")  # "...; hint: <the command that fixes it>" ends a one-line error
        out.append(rest if hint < 0 else rest[:hint])
        if hint >= 0:
            out.append(rest[hint:], style="cyan")
    console(stream).print(out)


def line_style(line: str) -> tuple[str, int | None] | None:
    """The colours of every command's lines: ``+`` green, ``-`` red, ``~`` yellow, errors red, hints cyan."""
    stripped = line.lstrip()
    indent = len(line) - len(stripped)
    for prefix, style in _PREFIXES:
        if stripped.startswith(prefix):
            return style, indent + len(prefix) if prefix.endswith(":") else None
    if stripped.startswith("pipenv-sync: error:") or stripped.startswith("pipenv sync: error:"):
        return "bold red", indent + stripped.index("error:") + len("error:")
    return None


_PREFIXES = (
    ("+ ", "green"),
    ("- ", "red"),
    ("~ ", "yellow"),
    ("! ", "yellow"),
    ("= ", "dim"),
    ("error:", "bold red"),
    ("warning:", "yellow"),
    ("hint:", "cyan"),
)


def emit_json(data: Any, *, indent: int | None = None) -> None:
    emit(json.dumps(redact_data(data), indent=indent))


def printers(args: argparse.Namespace) -> tuple[Callable[[str], None], Callable[[str], None]]:
    """``warn`` (stderr unless -q) and ``log`` (stderr unless -q or --json) for one command."""
    quiet = args.quiet or args.json

    def warn(message: str) -> None:
        if not args.quiet:
            from pipenv_sync_ext.cli.errortext import fold

            line = redact(f"warning: {message}")  # before folding: a secret cut in two is not recognised
            text = line if getattr(args, "verbose", False) else "\n".join(fold(line))
            emit_styled(text, line_style, stream=sys.stderr, args=args)

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
    lines = error_lines(message, hint=hint, details=details, verbose=verbose)
    emit_styled("\n".join(lines), line_style, stream=sys.stderr, args=args)
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
        place = exc.filename or "the venv and the cache directory"
        hint = f"check the permissions of {place} and the free space there, then run the same command again"
        return failed(args, f"{where}{exc.strerror or exc}", code=EXIT_ERROR, hint=hint)
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
