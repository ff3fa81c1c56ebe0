"""One exception hierarchy; each error knows its exit code and says what to do.

Exit codes (documented in README.rst):

====  ==========================================================
0     the venv matches the lock (or ``--dry-run`` printed a plan)
1     an error: bad input, a failed install, an I/O problem
2     the command line was wrong (argparse's own code)
3     ``--deploy`` and Pipfile.lock is out of date with Pipfile
4     artifacts are missing: not in the store, not in ``--find-links``
      and (under ``--offline``) not fetched
5     ``--check``: the venv does not match the lock (nothing was changed)
130   interrupted (Ctrl-C); one line says whether the venv was changed
====  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STALE_LOCK = 3
EXIT_MISSING_ARTIFACTS = 4
EXIT_OUT_OF_SYNC = 5
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process killed by Ctrl-C


DETAILS_SHOWN = 5  # detail lines printed without -v; the rest are counted ("and N more")


def _one_line(text: str) -> str:
    # One line whatever a name or a quoted message holds (the lock fuzzer found keys with newlines).
    return text.replace("\r", "\\r").replace("\n", "\\n")


class SyncError(Exception):
    """A failure the user can act on: a headline, a few lines of detail, a hint; never a traceback.

    ``message`` is the headline and names the file, section or package. ``details``
    (one line each, e.g. one per package) are printed after it, the first
    :data:`DETAILS_SHOWN` only unless ``-v``; ``--json`` carries them all.
    ``hint`` is the command (or flag) that fixes it, printed as ``hint: ...``.
    Both are keyword-only and optional, so ``SyncError("...")`` still works.
    """

    exit_code = EXIT_ERROR
    default_hint: str | None = None  # the fix for every error of a class, when the raiser gives none

    def __init__(self, message: str, *, hint: str | None = None, details: Sequence[str] = ()) -> None:
        super().__init__(_one_line(message))
        self.hint = _one_line(hint) if hint else self.default_hint
        self.details = tuple(_one_line(d) for d in details)


class LockError(SyncError):
    """Pipfile.lock (or Pipfile) is malformed or asks for something impossible.

    Messages name the file, the section and the package.
    """

    default_hint = "fix the file, or regenerate the lock with `pipenv lock`"


class StaleLockError(SyncError):
    exit_code = EXIT_STALE_LOCK
    default_hint = "run `pipenv lock` to update the lock (and commit it), or sync without --deploy"


class TargetError(SyncError):
    """The target virtualenv or its interpreter cannot be used."""

    default_hint = "choose another with --venv DIR (or --python X.Y); --rebuild recreates the venv"


class MissingArtifactsError(SyncError):
    """Preflight found locked packages without a verified, compatible artifact."""

    exit_code = EXIT_MISSING_ARTIFACTS

    default_hint = "run `pipenv-sync fetch` where the index is reachable (or drop --offline), or add --find-links DIR"


class FetchError(SyncError):
    """The package index could not be read or a download failed."""

    default_hint = (
        "check the index URL, the network and the credentials; `pipenv-sync fetch` fills the store for --offline"
    )


class InstallError(SyncError):
    """Applying the plan failed (a wheel could not be installed or removed)."""

    default_hint = "run the same command again: the next sync repairs the venv (-v shows every detail)"


class UnsafePathError(SyncError):
    """A path from outside (an index page, a wheel, a RECORD, a journal) would leave its root: refused."""

    default_hint = "refused before anything was written: check what the source (index, wheel, file) serves"


class WithdrawnError(SyncError):
    """The lock pins a file or project the index has withdrawn (quarantined; yanked under ``--deploy``)."""

    default_hint = "re-lock to move off the withdrawn release (`pipenv lock`), or --allow-yanked NAME for a yanked one"


class OfflineViolation(SyncError):
    """Raised by the offline guard when anything tries to open a connection."""

    default_hint = "drop --offline, or fill the store first with `pipenv-sync fetch`"


class UsageError(SyncError):
    """The command line cannot work in this situation (a missing ``--yes``, a needed option absent)."""

    exit_code = EXIT_USAGE
    default_hint = "pipenv-sync --help lists the options"
