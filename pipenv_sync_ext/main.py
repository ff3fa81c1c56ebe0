"""The console script: the stdlib-only no-op answer when the sync stamp holds, else the full CLI.

Nothing imports this module; it sits above everything, so that the fast path
(:mod:`pipenv_sync_ext.fastpath`) never has to import the CLI it falls back to.
A Ctrl-C before the CLI has taken over (while Python imports it) changes
nothing, and says so in one line, exit 130, like one during a sync. A closed
pipe is silent: the full CLI handles it (:mod:`pipenv_sync_ext.cli.streams`);
here, for the stamp's answer, which is always "in sync" (exit 0).
"""

from __future__ import annotations

import os
import sys

EXIT_INTERRUPTED = 130  # errors.EXIT_INTERRUPTED; not imported, so the fast path stays stdlib-only


def main() -> int:
    try:
        from pipenv_sync_ext.fastpath.noop import try_noop

        code = try_noop(sys.argv[1:], os.environ)
        if code is not None:
            sys.stdout.flush()  # here, not at exit, where a closed pipe would be "Exception ignored", exit 120
            return code
        from pipenv_sync_ext.cli.app import main as full

        return full()
    except KeyboardInterrupt:
        print("pipenv-sync: interrupted; nothing was changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
