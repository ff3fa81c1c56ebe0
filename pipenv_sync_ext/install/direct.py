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

Build requirements (PEP 518) of a local tree, a local git commit or a local
sdist are read from its ``pyproject.toml``, fetched once and kept in the store
(:mod:`pipenv_sync_ext.store.buildreqs`); pip is offered only those and
``--find-links`` (``--no-index``), online and offline alike. A remote VCS URL or
file gets the lock's sources as pip would use them, and is an error offline,
raised before anything changes.

After pip, the entry's distribution must be installed, under the lock's name
and from the lock's source: pip exits 0 when a path builds a distribution of
another name, and that must not pass for an installed entry. Two entries of
different names locked on one source are refused before anything changes
(:func:`check_distinct`): one directory builds one distribution.

Order (issue 18, part 3): pip builds and installs an entry in one step, so the
pipeline (``pipeline/in_place.py``) runs it *before* the executor removes or
installs any wheel: an entry that fails to build fails before any change of
this tool's, and pip rolls back its own uninstall of the entry's old version.
The distributions pip installed are added to what the removals keep, so a
file two distributions share is never taken from the new one.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipenv_sync_ext.errors import InstallError, LockError, MissingArtifactsError
from pipenv_sync_ext.fastpath import buildinputs
from pipenv_sync_ext.lock.model import OtherEntry
from pipenv_sync_ext.store import buildreqs, piptool
from pipenv_sync_ext.target import inventory
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

    @property
    def label(self) -> str:
        return f"[{self.entry.category}] {self.entry.name} ({self.entry.kind}: {self.entry.source})"


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
    """A URL as pip records it in direct_url.json: no ``vcs+`` prefix, no credentials, no fragment."""
    parts = urllib.parse.urlsplit(re.sub(r"^(git|hg|svn|bzr)\+", "", url))
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


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


def build_need(req: DirectRequirement) -> buildreqs.Need | None:
    """What building ``req`` needs (read from its source, never run), or None when that is unknown (remote)."""
    if req.local is None:
        return None
    if req.entry.kind == "vcs":
        declared = buildreqs.of_git(req.local, req.entry.ref, req.entry.subdirectory)
    elif req.local.is_dir():
        declared = buildreqs.of_tree(req.local)
    else:
        declared = buildreqs.of_archive(req.local)
    return None if declared is None else buildreqs.Need(declared, req.label)


def check_distinct(reqs: Sequence[DirectRequirement], lock_label: str) -> None:
    """Entries of different names on one source: one directory builds one distribution, so refuse the lock."""
    by_source: dict[tuple[str, str | None], list[DirectRequirement]] = {}
    for req in reqs:
        where = str(req.local) if req.local is not None else _norm_url(req.url)
        by_source.setdefault((where, req.entry.subdirectory), []).append(req)
    for (where, _sub), same in by_source.items():
        names = sorted({r.entry.name for r in same})
        if len(names) > 1:
            listed = " and ".join(f"[{r.entry.category}] {r.entry.name}" for r in same if r.entry.name in names)
            raise LockError(
                f"{lock_label}: {listed} are all locked from {same[0].entry.source} ({where}), but one source "
                "builds one distribution, so pip would install only one of them; give each distribution its own "
                'directory in the Pipfile (e.g. name = {path = "./name", editable = true}) and re-lock'
            )


def install(
    reqs: Sequence[DirectRequirement],
    *,
    interp: Interpreter,
    venv: Path,
    build_requirements: buildreqs.BuildRequirements,
    log: Callable[[str], None],
) -> None:
    """pip-install each requirement without dependencies, check it is there, then record its build inputs."""
    if not reqs:
        return
    base = piptool.pip_command(interp, venv)
    for req in reqs:
        log(f"Installing {req.entry.name} ({req.entry.kind}: {req.entry.source}) with pip")
        # --force-reinstall: we decided it is stale; pip would call the same version "already satisfied"
        command = [*base, "install", "--no-deps", "--force-reinstall", "--no-compile"]
        command += ["-e", req.pip_target] if req.entry.editable else [req.pip_target]
        proc = build_requirements.run_build(build_need(req), command)
        if proc.returncode != 0:
            cause = piptool.failure_cause(proc.stderr or proc.stdout)
            raise InstallError(
                f"[{req.entry.category}] {req.entry.name}: pip install of {req.entry.source} failed: {cause}"
            )
        dist = _installed_as_locked(req, interp)
        if dist is None:
            done = _SUCCESS.findall(proc.stdout)
            got = f"pip installed {done[-1].strip()}" if done else "pip reported success"
            raise InstallError(
                f"[{req.entry.category}] {req.entry.name}: {got} from {req.entry.source}, but no distribution "
                f"named {req.entry.name} is installed from there; the lock entry must carry the name of the "
                "distribution its source builds (re-lock with `pipenv lock`)"
            )
        data = {"url": req.url, "fingerprint": fingerprint(req)}
        (dist.metadata_dir / SOURCE_RECORD).write_text(json.dumps(data), encoding="utf-8")


_SUCCESS = re.compile(r"^Successfully installed (.+)$", re.MULTILINE)


def _installed_as_locked(req: DirectRequirement, interp: Interpreter) -> InstalledDist | None:
    """The distribution of ``req``'s name that pip has just installed from ``req``'s source."""
    for dist in inventory.scan(interp.site_dirs):
        if dist.name != req.entry.name or dist.is_egg_info:
            continue
        try:
            direct_url = json.loads((dist.metadata_dir / "direct_url.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(direct_url, dict) and _norm_url(str(direct_url.get("url", ""))) == _norm_url(req.url):
            return dist
    return None
