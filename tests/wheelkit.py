"""Real wheels of real tools for the loopback index: re-pack an installed distribution.

A hermetic test that needs a real build backend (setuptools) from an index
cannot download it; the test environment has it installed, so its files (as
its RECORD lists them) are zipped back into a wheel with a fresh RECORD.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

# Written by the installer, not part of the wheel.
_INSTALLER_FILES = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_of_installed(name: str, dest: Path) -> Path:
    """``<dest>/<name>-<version>-<tag>.whl`` holding exactly what the installed distribution holds."""
    dist = importlib.metadata.distribution(name)
    files = dist.files or []
    dist_info = next(str(f.parent) for f in files if f.name == "METADATA")
    contents: dict[str, bytes] = {}
    for f in files:
        arcname = str(f).replace("\\", "/")
        if arcname.startswith("..") or "__pycache__" in f.parts or arcname.endswith(".pyc"):
            continue  # scripts and bytecode are made at install time
        if f.parent.name == dist_info and f.name in _INSTALLER_FILES:
            continue
        contents[arcname] = Path(str(f.locate())).read_bytes()
    wheel_meta = contents[f"{dist_info}/WHEEL"].decode()
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    if len(tags) != 1:
        raise ValueError(f"{name}: expected one wheel tag, found {tags}")
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items())
    contents[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    canonical = dist_info.removesuffix(".dist-info").rsplit("-", 1)[0]
    path = dest / f"{canonical}-{dist.version}-{tags[0]}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in contents.items():
            zf.writestr(arcname, data)
    return path
