"""pip as a build tool: the pip that serves a target, the lock's sources as pip options, pip's failures read.

Used to build wheels from sdists (:mod:`.sdist`), to fetch build requirements
(:mod:`.buildreqs`) and to install editable, path and VCS entries
(:mod:`pipenv_sync_ext.install.direct`); pip is the only place this tool runs a
build backend.
"""

from __future__ import annotations

import os
import re
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from pipenv_sync_ext.errors import InstallError
from pipenv_sync_ext.lock.model import Source
from pipenv_sync_ext.redact import expand, redact
from pipenv_sync_ext.target.interpreter import Interpreter


def pip_command(interp: Interpreter, venv: Path) -> list[str]:
    """pip in the target when it has one, else this tool's pip aimed at the target."""
    if any((site / "pip" / "__init__.py").is_file() for site in interp.site_dirs):
        return [interp.executable, "-m", "pip"]
    import importlib.util

    if importlib.util.find_spec("pip") is None:
        raise InstallError(
            f"{venv}: editable, path and VCS entries are installed with pip, and neither the venv nor "
            "pipenv-sync's own environment has it; rerun with --seed (new venvs) or install pip"
        )
    return [sys.executable, "-m", "pip", "--python", interp.executable]


def pip_env() -> dict[str, str]:
    """The environment of every pip this tool runs: no prompts, no version check, no PATH warnings."""
    return {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_NO_WARN_SCRIPT_LOCATION": "1",
    }


def index_args(sources: Sequence[Source]) -> list[str]:
    """The lock's sources for pip (build requirements only: every install is --no-deps)."""
    args: list[str] = []
    for i, source in enumerate(sources):
        url = expand(source.url)  # pipenv's expansion of ${VAR} credentials, each value registered for redaction
        args += ["--index-url" if i == 0 else "--extra-index-url", url]
        if not source.verify_ssl:
            args += ["--trusted-host", urllib.parse.urlsplit(url).hostname or ""]
    return args


# pip's framing, never the cause: the boxes around a subprocess's output, and its closing notes.
_CROSS = "\u00d7"  # pip's mark of the step that failed
_FRAME = re.compile(r"^\s*[\u2502\u2570\u2500>\u00d7|]*\s*")
_NOISE = (
    "error: subprocess-exited-with-error",
    "note: This error originates from a subprocess",
    "See above for output.",
    "exit code:",
    "[end of output]",
    "hint: See above for details.",
)
_NETWORK = re.compile(
    r"Could not resolve host|Name or service not known|Temporary failure in name resolution|"
    r"Failed to establish a new connection|Connection refused|No route to host|timed out",
    re.IGNORECASE,
)
_CONNECTION = re.compile(r"(Failed to establish a new connection: [^'\")]*)")
_PIP_TEMP = re.compile(r"\s\S*/pip-[a-z]+-[a-z0-9_]+\S*")  # pip's temporary checkouts: noise in a message
_MISSING = re.compile(r"No matching distribution found for (\S+)")
_LIMIT = 600


def failure_cause(output: str) -> str:
    """The lines of pip's output that say why it failed, in one line.

    pip ends every failure with the same notes ("This error originates from a
    subprocess..."); the cause is earlier: what failed (the line marked with a cross), the
    ``ERROR:`` and ``fatal:`` lines (a resolver message, git's "Could not
    resolve host"), the last line a failing build printed, and the first
    network complaint of pip's retries.
    """
    headline = ""
    causes: list[str] = []
    network = ""
    block: list[str] | None = None  # inside "[N lines of output] ... [end of output]"
    for raw in output.splitlines():
        stripped = raw.strip()
        line = _FRAME.sub("", raw).strip()
        if not line:
            continue
        if stripped.startswith(_CROSS) and not headline:
            headline = _PIP_TEMP.sub("", line).rstrip(".")
            continue
        if re.search(r"\[\d+ lines? of output\]", line):
            block = []
            continue
        if line == "[end of output]":
            if block and not any(_is_error(b) for b in block):
                causes.append(block[-1])
            block = None
            continue
        if any(line.startswith(n) or n in line for n in _NOISE):
            continue
        if block is not None:
            block.append(line)
        if _is_error(line):
            causes.append(re.sub(r"^ERROR:\s*", "", line))
        elif not network and _NETWORK.search(line):
            found = _CONNECTION.search(line)
            network = found.group(1) if found else line
    if any(_MISSING.search(c) for c in causes):  # "Could not find a version..." says the same, longer
        causes = [c for c in causes if not c.startswith("Could not find a version that satisfies")]
    if network and not any(_NETWORK.search(c) for c in causes):
        causes.insert(0, network)  # the reason the resolver then found nothing
    parts = list(dict.fromkeys(causes))
    if not parts:
        tail = [ln.strip() for ln in output.splitlines() if ln.strip() and not any(n in ln for n in _NOISE)]
        parts = tail[-1:] or ["no output"]
    # Redacted before it is cut: a secret cut in half would no longer match.
    text = redact((f"{headline}: " if headline else "") + "; ".join(parts))
    return text if len(text) <= _LIMIT else text[: _LIMIT - 3] + "..."


def _is_error(line: str) -> bool:
    return line.startswith(("ERROR:", "fatal:", "error:", "Error:"))


def missing_requirement(output: str) -> str | None:
    """The requirement pip's resolver could not satisfy (``No matching distribution found for X``), if any."""
    found = _MISSING.findall(output)
    return found[-1] if found else None
