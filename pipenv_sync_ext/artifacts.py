"""Preflight: find a verified, compatible artifact for every package to install.

Order of places, cheapest first: the store, ``--find-links`` directories, then
(unless offline) the lock's sources. Nothing in the environment changes until
every install has its artifact; otherwise :class:`MissingArtifactsError` lists
each missing package, its version and the files the lock allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import FetchError, MissingArtifactsError
from .fetch import IndexClient
from .lockfile import LockedPackage
from .store import FindLinks, LocalArtifact, Store
from .wheels import best_wheel

_FETCH_WORKERS = 8


@dataclass(frozen=True)
class Missing:
    package: LockedPackage
    reason: str

    def describe(self) -> str:
        return f"[{self.package.category}] {self.package.name}=={self.package.version}: {self.reason}"


def _allowed_hashes(package: LockedPackage, limit: int = 3) -> str:
    shown = ", ".join(f"sha256:{h[:16]}..." for h in sorted(package.hashes)[:limit])
    more = len(package.hashes) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _local(
    package: LockedPackage, tag_rank: Mapping[str, int], store: Store, find_links: FindLinks
) -> tuple[LocalArtifact | None, list[str]]:
    """Best verified local wheel, and the names of local files that did not fit."""
    candidates = [a for h in sorted(package.hashes) if (a := store.get(h)) is not None]
    candidates += find_links.candidates(package.name, package.hashes)
    while candidates:
        by_artifact = {c.artifact: c for c in candidates}
        best = best_wheel(by_artifact, tag_rank)
        if best is None:
            return None, sorted({c.artifact.filename for c in candidates})
        chosen = by_artifact[best]
        stored = store.get(best.sha256)
        if stored is not None and store.verify(stored):
            return stored, []
        if stored is None or chosen.path != stored.path:
            # a find-links file, hashed just now: keep a copy for later offline runs
            return store.add_copy(chosen.path, best.sha256), []
        candidates = [c for c in candidates if c.artifact != best]
    return None, []


def gather(
    packages: Sequence[LockedPackage],
    tag_rank: Mapping[str, int],
    store: Store,
    find_links: FindLinks,
    client: IndexClient | None,
    log: Callable[[str], None],
    lock_label: str = "Pipfile.lock",
) -> dict[str, LocalArtifact]:
    found: dict[str, LocalArtifact] = {}
    missing: list[Missing] = []
    remote_needed: list[tuple[LockedPackage, list[str]]] = []
    for package in packages:
        local, unfit = _local(package, tag_rank, store, find_links)
        if local is not None:
            found[package.name] = local
        elif client is None:
            reason = (
                f"only files that do not fit this interpreter are available locally: {', '.join(unfit)}"
                if unfit
                else f"none of the {len(package.hashes)} files the lock allows ({_allowed_hashes(package)}) "
                "is in the store or --find-links"
            )
            missing.append(Missing(package, reason))
        else:
            remote_needed.append((package, unfit))

    if remote_needed and client is not None:
        with ThreadPoolExecutor(max_workers=_FETCH_WORKERS) as pool:
            results = list(pool.map(lambda item: _fetch_one(item[0], tag_rank, store, client, log), remote_needed))
        for (package, _), result in zip(remote_needed, results, strict=True):
            if isinstance(result, Missing):
                missing.append(result)
            else:
                found[package.name] = result

    if missing:
        # One line, however many are missing: pipelines grep and alert on it.
        raise MissingArtifactsError(
            f"{lock_label}: {len(missing)} locked package(s) have no usable artifact, nothing was changed: "
            + "; ".join(m.describe() for m in missing)
        )
    return found


def _fetch_one(
    package: LockedPackage,
    tag_rank: Mapping[str, int],
    store: Store,
    client: IndexClient,
    log: Callable[[str], None],
) -> LocalArtifact | Missing:
    try:
        remote = client.list_files(package)
    except FetchError as exc:
        return Missing(package, str(exc))
    if not remote:
        sources = ", ".join(s.display for s in client.sources_for(package)) or "no source"
        return Missing(package, f"no file the lock allows is listed by {sources}")
    best = best_wheel([r.artifact for r in remote], tag_rank)
    if best is None:
        names = ", ".join(sorted({r.artifact.filename for r in remote}))
        if all(not r.artifact.is_wheel for r in remote):
            return Missing(package, f"only an sdist is locked ({names}); sdist builds are not supported yet")
        return Missing(package, f"no wheel compatible with this interpreter; the lock allows: {names}")
    chosen = next(r for r in remote if r.artifact == best)
    log(f"Downloading {best.filename}")
    try:
        return client.download(chosen, store)
    except FetchError as exc:
        return Missing(package, str(exc))
