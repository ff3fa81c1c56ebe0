"""How an error reads on stderr: a headline, a few lines of detail, then ``hint:``.

Decisions: the headline is always whole (it names the file, section or
package), folded between words when it is longer than :data:`WIDTH`; details
are cut to :data:`~pipenv_sync_ext.errors.DETAILS_SHOWN` lines with "and N
more" unless ``-v``, and each detail line is shortened to :data:`WIDTH`
characters (a package's reason can quote a URL or a hash list), again unless
``-v``; ``--json`` always carries every detail in full.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipenv_sync_ext.errors import DETAILS_SHOWN

PREFIX = "pipenv-sync: error: "
WIDTH = 200  # the longest line an error prints without -v (tests/support.py holds every test to it)


def error_lines(message: str, *, hint: str | None, details: Sequence[str], verbose: bool) -> list[str]:
    lines = [PREFIX + message] if verbose else fold(PREFIX + message)
    shown = list(details) if verbose else list(details[:DETAILS_SHOWN])
    lines += [f"  {line}" if verbose else _clip(f"  {line}") for line in shown]
    if len(details) > len(shown):
        lines.append(f"  and {len(details) - len(shown)} more (-v lists them all)")
    if hint:
        lines += [f"hint: {hint}"] if verbose else fold(f"hint: {hint}")
    return lines


def fold(line: str) -> list[str]:
    """``line`` in lines of at most :data:`WIDTH`, broken between words, the rest indented.

    The fallback for a headline or warning that names long paths (a store
    file, a project deep in a tree): nothing is dropped, unlike a clipped
    detail. Only a single word (a path) longer than the width stays whole.
    """
    if "\n" in line:  # a message of several lines: each is folded on its own
        return [part for piece in line.split("\n") for part in fold(piece)]
    if len(line) <= WIDTH:
        return [line]
    import textwrap

    indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
    wrapped = textwrap.wrap(line, width=WIDTH, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return wrapped or [line]


def _clip(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 3] + "..."
