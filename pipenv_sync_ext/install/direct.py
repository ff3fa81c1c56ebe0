"""Lock entries that are not index packages: editable and local paths, local files, VCS.

They have no artifact the lock can pin by hash, so they go through pip in the
target (``<venv>/bin/python -m pip install --no-deps``, or the tool's own pip
with ``--python <venv python>`` when the venv has none). What makes this better
than pipenv and pip-tools, which reinstall them on every sync: an entry is
skipped when it is already installed from the same place and nothing it is
built from changed:

* editable and ``path``: the installed ``direct_url.json`` names the same
  directory (and the same editable flag) and the *build inputs* fingerprint
  recorded at install time still matches (for an editable install the files
  that shape its metadata: ``pyproject.toml``, ``setup.py``, ``setup.cfg``;
  for a plain path install, every source file's size and mtime, since the
  installed copy is a snapshot);
* ``file``: same file URL, and the file's sha256 is unchanged;
* VCS: ``direct_url.json`` records the same repository and the locked commit.

Build dependencies (PEP 517) come from the store and ``--find-links`` first;
under ``--offline`` only from there (``--no-index``), so a remote VCS URL is an
error offline, raised before anything changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.errors import InstallError, MissingArtifactsError
from pipenv_sync_ext.fastpath import buildinputs
from pipenv_sync_ext.lock.model import OtherEntry, Source
from pipenv_sync_ext.store import piptool
from pipenv_sync_ext.target.interpreter import Interpreter
from pipenv_sync_ext.target.inventory import InstalledDist

DIRECT_KINDS = frozenset({"editable", "path", "file", "vcs"})
SOURCE_RECORD = "pipenv_sync_source.json"  # written into the installed dist-info


@dataclass(frozen=True)
class DirectRequirement:
    entry: OtherEntry
    pip_target: str  # what pip is given
    url: str  # what direct_url.json will record
    local: Path | None  # the directory or file, when local


def resolve(entry: OtherEntry, project_dir: Path) -> DirectRequirement:
    if entry.kind == "vcs":
        vcs = entry.source.partition("+")[0]
        base = entry.target.removeprefix(f"{vcs}+")
        target = f"{vcs}+{base}" + (f"@{entry.ref}" if entry.ref else "") + f"#egg={entry.name}"
        if entry.subdirectory:
            target += f"&subdirectory={entry.subdirectory}"
        return DirectRequirement(entry, target, base, _local_of_url(base))
    if "://" in entry.target and not entry.target.startswith("file:"):
        return DirectRequirement(entry, entry.target, entry.target, None)
    raw = entry.target[len("file://") :] if entry.target.startswith("file://") else entry.target
    local = Path(os.path.normpath(project_dir / raw))
    return DirectRequirement(entry, str(local), local.as_uri(), local)


def _local_of_url(url: str) -> Path | None:
    parts = urllib.parse.urlsplit(url)
    return Path(urllib.parse.unquote(parts.path)) if parts.scheme == "file" else None


def fingerprint(req: DirectRequirement) -> str | None:
    """What the installed copy was built from; None when it cannot be known (remote, VCS)."""
    if req.local is None or req.entry.kind == "vcs":
        return None
    return buildinputs.fingerprint(req.local, req.entry.editable)


def is_current(req: DirectRequirement, dist: InstalledDist | None) -> bool:
    """True when ``dist`` was installed from ``req``'s source and nothing it was built from changed."""
    if dist is None or dist.is_egg_info:
        return False
    entry = req.entry
    if entry.version and dist.version != entry.version:
        return False
    try:
        direct_url = json.loads((dist.metadata_dir / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(direct_url, dict) or _norm_url(direct_url.get("url", "")) != _norm_url(req.url):
        return False
    if entry.kind == "vcs":
        vcs_info = direct_url.get("vcs_info") or {}
        return (
            bool(entry.ref)
            and vcs_info.get("commit_id") == entry.ref
            and (direct_url.get("subdirectory") == entry.subdirectory)
        )
    if bool((direct_url.get("dir_info") or {}).get("editable")) != entry.editable:
        return False
    try:
        recorded = json.loads((dist.metadata_dir / SOURCE_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    current = fingerprint(req)
    return current is not None and isinstance(recorded, dict) and recorded.get("fingerprint") == current


def _norm_url(url: str) -> str:
    return url.rstrip("/").removeprefix("git+")


def offline_problems(reqs: Iterable[DirectRequirement]) -> list[str]:
    """Entries that cannot be installed without the network (said before anything changes)."""
    problems = []
    for req in reqs:
        if req.local is None:
            problems.append(f"[{req.entry.category}] {req.entry.name} ({req.entry.kind}): {req.url} is not local")
        elif not req.local.exists():
            problems.append(f"[{req.entry.category}] {req.entry.name} ({req.entry.kind}): {req.local} does not exist")
    return problems


def check_available(reqs: Sequence[DirectRequirement], offline: bool, lock_label: str) -> None:
    problems = (
        offline_problems(reqs)
        if offline
        else [p for p in offline_problems(r for r in reqs if r.local is not None) if "does not exist" in p]
    )
    if problems:
        where = " (--offline: no checkout or download possible)" if offline else ""
        raise MissingArtifactsError(
            f"{lock_label}: {len(problems)} entries cannot be installed{where}, nothing was changed: "
            + "; ".join(problems)
        )


def install(
    reqs: Sequence[DirectRequirement],
    *,
    interp: Interpreter,
    venv: Path,
    find_links: Sequence[Path],
    sources: Sequence[Source],
    offline: bool,
    log: Callable[[str], None],
) -> None:
    """pip-install each requirement without dependencies, then record its build inputs."""
    if not reqs:
        return
    base = piptool.pip_command(interp, venv)
    where = ["--no-index"] if offline else piptool.index_args(sources)
    links = [arg for d in find_links for arg in ("--find-links", str(d))]
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_NO_WARN_SCRIPT_LOCATION": "1",
    }
    for req in reqs:
        log(f"Installing {req.entry.name} ({req.entry.kind}: {req.entry.source}) with pip")
        # --force-reinstall: we decided it is stale; pip would call the same version "already satisfied"
        command = [*base, "install", "--no-deps", "--force-reinstall", "--no-compile", *where, *links]
        command += ["-e", req.pip_target] if req.entry.editable else [req.pip_target]
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            last = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()][-1:] or ["?"]
            raise InstallError(
                f"[{req.entry.category}] {req.entry.name}: pip install of {req.entry.source} failed: {last[0].strip()}"
            )
        _record_source(req, interp)


def _record_source(req: DirectRequirement, interp: Interpreter) -> None:
    from packaging.utils import canonicalize_name

    for site in interp.site_dirs:
        try:
            names = os.listdir(site)
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and canonicalize_name(name.split("-")[0]) == req.entry.name:
                data = {"url": req.url, "fingerprint": fingerprint(req)}
                (site / name / SOURCE_RECORD).write_text(json.dumps(data), encoding="utf-8")
                return
