"""Run *inside the target interpreter* (never imported by the tool itself).

Prints one JSON line describing the interpreter. ``packaging`` is made
importable by the caller (it prepends the tool's copy to ``sys.path``), so the
tags and markers are computed exactly as pip would compute them in the target.
"""

import json
import os
import sys
import sysconfig

from packaging import markers, tags


def _scheme():  # type: () -> dict[str, str]
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    names = sysconfig.get_scheme_names()
    if in_venv and "venv" in names:
        paths = sysconfig.get_paths(scheme="venv")
    else:
        paths = sysconfig.get_paths()
    # The folder whose <canonical name>/ subfolder gets a distribution's headers, as pip computes it:
    # <prefix>/include/site/pythonX.Y in a virtualenv, sysconfig's include directory elsewhere.
    if in_venv:
        headers = os.path.join(sys.prefix, "include", "site", "python%d.%d" % sys.version_info[:2])
    else:
        headers = paths["include"]
    return {
        "purelib": paths["purelib"],
        "platlib": paths["platlib"],
        "scripts": paths["scripts"],
        "data": paths["data"],
        "headers": headers,
    }


info = {
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "base_executable": getattr(sys, "_base_executable", sys.executable),
    "markers": markers.default_environment(),
    "tags": [str(t) for t in tags.sys_tags()],
    "scheme": _scheme(),
}
sys.stdout.write("\n@@PIPENV-SYNC-PROBE@@" + json.dumps(info) + "\n")
