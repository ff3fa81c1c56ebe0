"""What the target interpreter is, probed once and cached.

Markers and wheel tags are always those of the *target* interpreter, never of
the one running this tool. The probe runs ``_probe_script.py`` in the target
(one subprocess, ~30 ms) and its JSON answer is cached under
``<cache>/probes/`` keyed by the interpreter's identity: its path, the stat of
the real binary it resolves to, and the stat of the venv's ``pyvenv.cfg``. A
patch upgrade of the base interpreter changes the binary, so the key changes.

A new venv of a base already seen is not probed at all (issue 16): after a
real probe of a venv, what is the same for every venv of that base (version,
markers, tags, the scheme's layout relative to the prefix) is kept under
``<cache>/probes/bases/<key>.json``, keyed by the real binary (path, size, mtime,
inode), with the ``home`` its ``pyvenv.cfg`` names. Another venv whose
``bin/python`` resolves to that binary and whose ``pyvenv.cfg`` names that
``home`` is described from it with its own prefix. Recorded only when the probe
showed the layout is relative (the prefix is the venv's directory and every
scheme path lies under it); a changed binary changes the key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from pipenv_sync_ext.errors import TargetError
from pipenv_sync_ext.fsutil import read_private

_MAX_PROBE = 1 << 20  # bytes of a cached probe: a few KiB in practice

_MARK = "@@PIPENV-SYNC-PROBE@@"
PROBE_FORMAT = 1


@dataclass(frozen=True)
class Interpreter:
    executable: str  # the venv's python, as invoked (not resolved: scripts must point at the venv)
    version: str  # "3.11.7"
    prefix: str
    base_prefix: str
    base_executable: str
    markers: Mapping[str, str]
    tags: tuple[str, ...]  # most specific first, as packaging.tags.sys_tags() orders them
    scheme: Mapping[str, str]  # purelib, platlib, scripts, data, headers

    @property
    def site_dirs(self) -> tuple[Path, ...]:
        dirs = [Path(self.scheme["purelib"])]
        if self.scheme["platlib"] != self.scheme["purelib"]:
            dirs.append(Path(self.scheme["platlib"]))
        return tuple(dirs)

    @property
    def tag_rank(self) -> Mapping[str, int]:
        return {tag: i for i, tag in enumerate(self.tags)}


def venv_python(venv: Path) -> Path:
    if os.name == "nt":  # pragma: no cover - this tool is tested on POSIX
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def identity_key(python: Path) -> str:
    """A key that changes whenever the interpreter behind ``python`` may have changed."""
    try:
        real = python.resolve(strict=True)
        st = real.stat()
    except OSError:
        raise TargetError(f"{python}: interpreter not found (the virtualenv is missing or broken)") from None
    parts = [str(python), str(real), str(st.st_size), str(st.st_mtime_ns), str(PROBE_FORMAT)]
    cfg = python.parent.parent / "pyvenv.cfg"
    try:
        cst = cfg.stat()
        parts += [str(cst.st_size), str(cst.st_mtime_ns)]
    except OSError:
        parts.append("no-pyvenv.cfg")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def probe(python: Path, cache_dir: Path | None) -> Interpreter:
    """Describe ``python``; reuse the cached answer when its identity is unchanged, or derive
    it from another venv of the same base (module docstring)."""
    key = identity_key(python)
    cached = cache_dir / "probes" / f"{key}.json" if cache_dir else None
    if cached is not None:
        try:
            # a probe says where installs go: one another user could write is probed again
            return _from_json(json.loads(read_private(cached, _MAX_PROBE)))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    base = _base_record(cache_dir, python)
    derived = _derived(base, python) if base is not None else None
    info = derived or _run_probe(python)
    if cached is not None:
        from pipenv_sync_ext.fsutil import atomic_write

        atomic_write(cached, json.dumps(info).encode())
        if derived is None and base is not None and (shared := _shared(info, python)) is not None:
            atomic_write(base, json.dumps(shared).encode())
    return _from_json(info)


_SHARED = ("version", "base_prefix", "base_executable", "markers", "tags")


def _base_record(cache_dir: Path | None, python: Path) -> Path | None:
    """Where the base-wide part of a venv's probe is kept, keyed by the real binary; None without a cache."""
    if cache_dir is None:
        return None
    real = os.path.realpath(python)
    try:
        st = os.stat(real)
    except OSError:
        return None
    parts = [real, str(st.st_size), str(st.st_mtime_ns), str(st.st_ino), str(PROBE_FORMAT)]
    return cache_dir / "probes" / "bases" / f"{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()}.json"


def _home(python: Path) -> str | None:
    """The ``home`` of the venv's ``pyvenv.cfg`` (what ties it to its base), None when there is none."""
    try:
        text = (python.parent.parent / "pyvenv.cfg").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "home":
            return value.strip()
    return None


def _shared(info: Mapping[str, object], python: Path) -> dict[str, object] | None:
    """The base-wide part of a venv's probe, or None when its layout is not relative to its prefix."""
    prefix, home = os.path.abspath(python.parent.parent), _home(python)
    scheme = info.get("scheme")
    if home is None or info.get("prefix") != prefix or info.get("prefix") == info.get("base_prefix"):
        return None
    if not isinstance(scheme, dict) or not all(
        isinstance(v, str) and (v == prefix or v.startswith(prefix + os.sep)) for v in scheme.values()
    ):
        return None
    layout = {k: os.path.relpath(v, prefix) for k, v in scheme.items()}
    return {**{k: info[k] for k in _SHARED}, "home": home, "layout": layout}


def _str_map(value: object) -> TypeGuard[dict[str, str]]:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _derived(base: Path, python: Path) -> dict[str, object] | None:
    """``python``'s probe from the base record, when it is a venv of that base; else None (probe it)."""
    try:
        shared = json.loads(read_private(base, _MAX_PROBE))
    except (OSError, ValueError):
        return None
    home = _home(python)
    if not isinstance(shared, dict) or home is None or shared.get("home") != home:
        return None
    layout, markers, tags = shared.get("layout"), shared.get("markers"), shared.get("tags")
    if not (
        _str_map(layout)
        and _str_map(markers)
        and isinstance(tags, list)
        and all(isinstance(t, str) for t in tags)
        and all(isinstance(shared.get(k), str) for k in ("version", "base_prefix", "base_executable"))
    ):
        return None
    prefix = os.path.abspath(python.parent.parent)
    try:
        info: dict[str, object] = {k: shared[k] for k in _SHARED}
        info.update(executable=str(python), prefix=prefix, derived=True)
        info["scheme"] = {k: os.path.normpath(os.path.join(prefix, v)) for k, v in layout.items()}
        _from_json(info)  # every field of the right type, or it is not used
    except (KeyError, TypeError, ValueError):
        return None
    return info


def _run_probe(python: Path) -> dict[str, object]:
    import subprocess  # only on a cache miss

    import packaging

    script = Path(__file__).with_name("_probe_script.py")
    packaging_parent = str(Path(packaging.__file__).parent.parent)
    # -c rather than a script path: running the file would put this package's
    # directory (with modules named like stdlib ones, e.g. venv.py) on sys.path.
    code = "import sys; sys.path.insert(0, sys.argv[1]); exec(compile(open(sys.argv[2]).read(), sys.argv[2], 'exec'))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        proc = subprocess.run(
            [str(python), "-I", "-c", code, packaging_parent, str(script)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    except OSError as exc:
        raise TargetError(f"{python}: cannot run the interpreter: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise TargetError(f"{python}: the interpreter did not answer within 60 s") from None
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(_MARK)), None)
    if proc.returncode != 0 or line is None:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"{python}: probing the interpreter failed: {last}")
    info: dict[str, object] = json.loads(line[len(_MARK) :])
    info["executable"] = str(python)
    return info


def _from_json(info: Mapping[str, object]) -> Interpreter:
    return Interpreter(
        executable=str(info["executable"]),
        version=str(info["version"]),
        prefix=str(info["prefix"]),
        base_prefix=str(info["base_prefix"]),
        base_executable=str(info["base_executable"]),
        markers=dict(info["markers"]),  # type: ignore[call-overload]
        tags=tuple(info["tags"]),  # type: ignore[arg-type]
        scheme=dict(info["scheme"]),  # type: ignore[call-overload]
    )
