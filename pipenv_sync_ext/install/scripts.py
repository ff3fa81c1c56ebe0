"""Scripts for the target interpreter: entry-point launchers and ``#!python`` shebangs, as ``installer`` writes them.

Scripts are never linked from the store: launchers are generated for the
target's interpreter and ``.data/scripts`` files get their shebang rewritten.
"""

from __future__ import annotations

# installer.scripts' posix launcher, byte for byte (tests/test_linkinstall.py compares them): importing installer
# costs ~0.1 s, a tenth of a whole fresh sync.
_SCRIPT = """\
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {import_name}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({func_path}())
"""


def launcher(executable: str, module: str, attr: str) -> bytes:
    """The console/gui script for an entry point, as ``installer`` writes it on POSIX."""
    exe = executable.encode("utf-8")
    if b" " not in exe and len(exe) + 3 <= 127:
        shebang = b"#!" + exe
    else:
        import shlex

        shebang = b"#!/bin/sh\n'''exec' " + shlex.quote(executable).encode("utf-8") + b' "$0" "$@"\n' + b"' '''"
    code = _SCRIPT.format(module=module, import_name=attr.split(".")[0], func_path=attr).encode("utf-8")
    return shebang + b"\n" + code


def fix_shebang(data: bytes, interpreter: str) -> bytes:
    """``installer.utils.fix_shebang``: a ``#!python`` first line names the target interpreter."""
    if not data.startswith(b"#!python"):
        return data
    end = data.find(b"\n")
    return f"#!{interpreter}\n".encode() + (data[end + 1 :] if end >= 0 else b"")
