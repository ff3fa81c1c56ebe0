"""A target that is not this machine: ``--python-version``, ``--platform``, ``--implementation``, ``--abi``.

As ``pip download`` takes them, with two differences that make the answer
match what the target host would install:

* a ``manylinux_2_Y_<arch>`` platform also accepts every older glibc
  (``manylinux_2_Y-1``... down to the arch's oldest) and the legacy aliases
  (``manylinux2014`` = 2_17, ``manylinux2010`` = 2_12, ``manylinux1`` = 2_5),
  in that order of preference, as pip does on a real manylinux host (pip's
  ``--platform manylinux_2_28_x86_64`` accepts exactly that tag only);
  ``musllinux_1_Y`` likewise, ``macosx_X_Y_<arch>`` as pip expands it;
* the lock's markers are evaluated for the target (a marker environment is
  built from the flags), not for the machine running the command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging import tags

from pipenv_sync_ext.errors import SyncError

# packaging's rules (packaging/_manylinux.py): the oldest glibc per arch, and the legacy names.
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_LEGACY_ALIAS_ARCHES = {
    "manylinux2014": {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"},
    "manylinux2010": {"x86_64", "i686"},
    "manylinux1": {"x86_64", "i686"},
}
_LEGACY_TO_GLIBC = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
_MANYLINUX = re.compile(r"^manylinux_2_(\d+)_(.+)$")
_LEGACY = re.compile(r"^(manylinux2014|manylinux2010|manylinux1)_(.+)$")
_MUSLLINUX = re.compile(r"^musllinux_1_(\d+)_(.+)$")
_MACOS = re.compile(r"^macosx_(\d+)_(\d+)_(.+)$")
_WINDOWS_MACHINE = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}
_IMPLEMENTATIONS = {"cp": ("cpython", "CPython"), "pp": ("pypy", "PyPy"), "gp": ("graalpy", "GraalVM")}


class TargetSpecError(SyncError):
    """The target flags do not describe a target this tool can evaluate markers for."""

    exit_code = 2
    default_hint = "pipenv-sync fetch --help lists the target flags (--python-version, --platform, --abi...)"


@dataclass(frozen=True)
class Target:
    description: str
    markers: Mapping[str, str]
    tags: tuple[str, ...]  # most specific first

    @property
    def tag_rank(self) -> Mapping[str, int]:
        return {tag: i for i, tag in enumerate(self.tags)}


def _min_glibc(arch: str) -> int:
    return 5 if arch in ("x86_64", "i686") else 17


def expand_platform(platform: str) -> list[str]:
    """Every platform tag a host of ``platform`` accepts, most specific first."""
    legacy = _LEGACY.match(platform)
    manylinux = _MANYLINUX.match(platform)
    if legacy or manylinux:
        if legacy:
            glibc, arch = _LEGACY_TO_GLIBC[legacy.group(1)], legacy.group(2)
        else:
            assert manylinux is not None
            glibc, arch = int(manylinux.group(1)), manylinux.group(2)
        result = []
        for minor in range(glibc, _min_glibc(arch) - 1, -1):
            result.append(f"manylinux_2_{minor}_{arch}")
            alias = _LEGACY_MANYLINUX.get(minor)
            if alias and arch in _LEGACY_ALIAS_ARCHES[alias]:
                result.append(f"{alias}_{arch}")
        return result or [platform]
    musl = _MUSLLINUX.match(platform)
    if musl:
        return [f"musllinux_1_{minor}_{musl.group(2)}" for minor in range(int(musl.group(1)), -1, -1)]
    mac = _MACOS.match(platform)
    if mac:
        version = (int(mac.group(1)), int(mac.group(2)))
        return list(tags.mac_platforms(version, mac.group(3)))
    return [platform]


def platform_markers(platform: str) -> dict[str, str]:
    """``sys_platform``, ``platform_system``, ``os_name`` and ``platform_machine`` of hosts of ``platform``."""
    for pattern in (_MANYLINUX, _LEGACY, _MUSLLINUX):
        m = pattern.match(platform)
        if m:
            return _posix("linux", "Linux", m.group(m.lastindex or 0))
    if platform.startswith("linux_"):
        return _posix("linux", "Linux", platform[len("linux_") :])
    mac = _MACOS.match(platform)
    if mac:
        arch = mac.group(3)
        machine = {"intel": "x86_64", "universal": "x86_64", "universal2": "arm64"}.get(arch, arch)
        return _posix("darwin", "Darwin", machine)
    if platform in _WINDOWS_MACHINE:
        return {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
                "platform_machine": _WINDOWS_MACHINE[platform]}  # fmt: skip
    raise TargetSpecError(
        f"--platform {platform}: cannot tell which operating system it is, so the lock's markers cannot be evaluated",
        hint="give a known platform tag: manylinux*, musllinux*, linux_*, macosx_*, win32, win_amd64, win_arm64",
    )


def _posix(sys_platform: str, system: str, machine: str) -> dict[str, str]:
    return {"sys_platform": sys_platform, "platform_system": system, "os_name": "posix", "platform_machine": machine}


def parse_python_version(text: str, requires: Mapping[str, str]) -> tuple[tuple[int, int], str]:
    """((major, minor), full version) from ``3.12``, ``312`` or ``3.12.4``.

    Without a patch number the full version is the lock's ``python_full_version``
    when that is the same minor version, else ``X.Y.0``.
    """
    text = text.strip()
    if re.fullmatch(r"\d{2,3}", text):
        parts = [text[0], text[1:]]
    else:
        parts = text.split(".")
    if not (2 <= len(parts) <= 3 and all(p.isdigit() for p in parts)):
        raise TargetSpecError(f"--python-version {text}: expected a version such as 3.12 or 3.12.4")
    major, minor = int(parts[0]), int(parts[1])
    if len(parts) == 3:
        return (major, minor), f"{major}.{minor}.{int(parts[2])}"
    locked = requires.get("python_full_version", "")
    if re.fullmatch(rf"{major}\.{minor}\.\d+", locked):
        return (major, minor), locked
    return (major, minor), f"{major}.{minor}.0"


def explicit_target(
    python_version: str,
    *,
    platforms: Sequence[str],
    implementation: str = "cp",
    abis: Sequence[str] = (),
    requires: Mapping[str, str] | None = None,
) -> Target:
    """The marker environment and tag list of the host the flags describe."""
    if not platforms:
        raise TargetSpecError("--platform is needed with --python-version (for example manylinux_2_28_x86_64)")
    version, full = parse_python_version(python_version, requires or {})
    oses = [platform_markers(p) for p in platforms]
    first = oses[0]
    for other, platform in zip(oses[1:], platforms[1:], strict=True):
        if other["sys_platform"] != first["sys_platform"]:
            raise TargetSpecError(
                f"--platform {platforms[0]} and --platform {platform} are different operating systems; "
                "markers can only be evaluated for one (run fetch once per target)"
            )
    names = _IMPLEMENTATIONS.get(implementation)
    if names is None and implementation not in ("py",):
        raise TargetSpecError(f"--implementation {implementation}: expected cp, pp, gp or py")
    expanded = list(dict.fromkeys(p for platform in platforms for p in expand_platform(platform)))
    nodot = f"{version[0]}{version[1]}"
    interpreter = f"{implementation}{nodot}"
    result: list[tags.Tag] = []
    if implementation == "cp":
        result += tags.cpython_tags(version, abis=list(abis) or None, platforms=expanded)
    elif implementation != "py":
        # not the running interpreter's ABI (which generic_tags would guess): the given ones, and "none"
        result += tags.generic_tags(interpreter, abis=list(abis), platforms=expanded)
    result += tags.compatible_tags(version, interpreter, expanded)
    implementation_name, python_implementation = names or ("", "")
    markers = {
        **first,
        "python_version": f"{version[0]}.{version[1]}",
        "python_full_version": full,
        "implementation_name": implementation_name,
        "implementation_version": full if implementation == "cp" else "",
        "platform_python_implementation": python_implementation,
        "platform_release": "",
        "platform_version": "",
    }
    description = f"Python {full} ({implementation}"
    description += f", abi {'/'.join(abis)}" if abis else ""
    description += f") on {', '.join(platforms)}"
    return Target(description, markers, tuple(dict.fromkeys(str(t) for t in result)))
