"""How an error reads on stderr: a headline, a few lines of detail, then ``hint:``.

Decisions: without ``-v``, details are cut to
:data:`~pipenv_sync_ext.errors.DETAILS_SHOWN` lines with "and N more", and
every line longer than :data:`WIDTH` (a headline naming two deep paths, a
package's reason quoting a URL and a digest) is folded between words rather
than clipped: nothing is lost, and a credential is never cut in half where
redaction could not recognise it (lines are redacted before they are folded).
``-v`` prints every detail, unfolded; ``--json`` always carries them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipenv_sync_ext.errors import DETAILS_SHOWN
from pipenv_sync_ext.redact import redact

PREFIX = "pipenv-sync: error: "
WIDTH = 200  # the longest line an error prints without -v (tests/support.py holds every test to it)


def error_lines(message: str, *, hint: str | None, details: Sequence[str], verbose: bool) -> list[str]:
    shown = list(details) if verbose else list(details[:DETAILS_SHOWN])
    lines = [PREFIX + message, *(f"  {line}" for line in shown)]
    if len(details) > len(shown):
        lines.append(f"  and {len(details) - len(shown)} more (-v lists them all)")
    if hint:
        lines.append(f"hint: {hint}")
    lines = [redact(line) for line in lines]
    return lines if verbose else [part for line in lines for part in fold(line)]


def fold(line: str) -> list[str]:
    """``line`` in lines of at most :data:`WIDTH`, broken between words, the rest indented.

    The fallback for a line that names long paths (a store file, a project
    deep in a tree): nothing is dropped. Only a single word (a path) longer
    than the width stays whole. Redact before folding (see the module).
    """
    if "\n" in line:  # a message of several lines: each is folded on its own
        return [part for piece in line.split("\n") for part in fold(piece)]
    if len(line) <= WIDTH:
        return [line]
    import textwrap

    indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
    wrapped = textwrap.wrap(line, width=WIDTH, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return wrapped or [line]
