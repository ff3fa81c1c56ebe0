"""The console script: the stdlib-only no-op answer when the sync stamp holds, else the full CLI.

Nothing imports this module; it sits above everything, so that the fast path
(:mod:`pipenv_sync_ext.fastpath`) never has to import the CLI it falls back to.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from pipenv_sync_ext.fastpath.noop import try_noop

    code = try_noop(sys.argv[1:], os.environ)
    if code is not None:
        return code
    from pipenv_sync_ext.cli.app import main as full

    return full()
