"""Preflight: find a verified, compatible artifact for every package to install.

Order of places, cheapest first: the store, ``--find-links`` directories (and
pip's configured ones), pip's HTTP cache (scanned only when something is still
missing), then (unless offline) the client's: remote mirrors (``store/mirrors.py``)
and the lock's sources. Nothing in the environment
changes until every install has its artifact; otherwise
:class:`MissingArtifactsError` lists each missing package, its version and the
files the lock allows.

:func:`gather_every_file` is ``fetch --all-hashes``: every file the lock
allows, for every platform, from the same places.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipenv_sync_ext.errors import FetchError, MissingArtifactsError
from pipenv_sync_ext.feedback import LineProgress, Progress
from pipenv_sync_ext.lock.model import LockedPackage
from pipenv_sync_ext.store.artifact import best_wheel, is_sdist
from pipenv_sync_ext.store.cas import LocalArtifact, Store
from pipenv_sync_ext.store.findlinks import FindLinks
from pipenv_sync_ext.store.shortfall import Missing, missing_hint, raise_if_unreachable

if TYPE_CHECKING:  # fetch (http, ssl, email) is imported only by whoever makes a client
    from pipenv_sync_ext.store.index import IndexClient, RemoteFile
    from pipenv_sync_ext.store.pipcache import PipCache
    from pipenv_sync_ext.store.sdist import WheelBuilder

_FETCH_WORKERS = 8

# Where an artifact came from (``origins``, for reports): already stored, or copied/downloaded now.
STORE, FIND_LINKS, PIP_CACHE, INDEX = "store", "find-links", "pip-cache", "index"


def _allowed_hashes(package: LockedPackage, limit: int = 3) -> str:
    shown = ", ".join(f"sha256:{h[:16]}..." for h in sorted(package.hashes)[:limit])
    more = len(package.hashes) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _local(
    package: LockedPackage,
    tag_rank: Mapping[str, int],
    store: Store,
    find_links: FindLinks,
    origins: MutableMapping[str, str] | None = None,
) -> tuple[LocalArtifact | None, list[str]]:
    """Best verified local wheel, and the names of local files that did not fit."""
    candidates = [a for h in sorted(package.hashes) if (a := store.get(h)) is not None]
    candidates += find_links.candidates(package.name, package.hashes, package.version)
    while candidates:
        by_artifact = {c.artifact: c for c in candidates}
        best = best_wheel(by_artifact, tag_rank)
        if best is None:
            return None, sorted({c.artifact.filename for c in candidates})
        chosen = by_artifact[best]
        stored = store.get(best.sha256)
        if stored is not None and store.verify(stored):
            if origins is not None:
                origins.setdefault(best.sha256, STORE)
            return stored, []
        if stored is None or chosen.path != stored.path:
            # a find-links file, hashed just now: keep a copy for later offline runs
            if origins is not None:
                origins[best.sha256] = FIND_LINKS
            return store.add_copy(chosen.path, best.sha256), []
        candidates = [c for c in candidates if c.artifact != best]
    return None, []


def _local_sdist(package: LockedPackage, store: Store, find_links: FindLinks) -> LocalArtifact | None:
    """An sdist the lock allows, from the store or (copied into the store) from --find-links."""
    for digest in sorted(package.hashes):
        stored = store.get(digest)
        if stored is not None and is_sdist(stored.artifact.filename) and store.verify(stored):
            return stored
    for candidate in find_links.candidates(package.name, package.hashes, package.version):
        if is_sdist(candidate.artifact.filename):
            return store.add_copy(candidate.path, candidate.artifact.sha256)
    return None


def _from_pip_cache(package: LockedPackage, store: Store, pip_cache: PipCache, origins: dict[str, str]) -> None:
    """Copy the package's allowed wheels from pip's cache into the store (then :func:`_local` finds them)."""
    before = {h for h in package.hashes if store.get(h) is not None}
    if pip_cache.import_into(store, package):
        for h in package.hashes - before:
            if store.get(h) is not None:
                origins[h] = PIP_CACHE


def gather(
    *,
    packages: Sequence[LockedPackage],
    tag_rank: Mapping[str, int],
    store: Store,
    find_links: FindLinks,
    client: IndexClient | Callable[[], IndexClient] | None,
    log: Callable[[str], None],
    lock_label: str = "Pipfile.lock",
    pip_cache: PipCache | None = None,
    progress: Progress | None = None,
    workers: int = _FETCH_WORKERS,
    origins: dict[str, str] | None = None,
    builder: WheelBuilder | None = None,
    keep_sdists: bool = False,
    unpack: bool = False,
) -> dict[str, LocalArtifact]:
    """A verified artifact for each package (by name), or :class:`MissingArtifactsError`.

    ``client``: None offline; else the index client, or what makes it when a package is
    not found locally (an online prune of a warm store then imports no http, ssl nor email:
    30-40 ms of its way to the status gate).

    With a ``builder``, a package whose only allowed files are sdists gets a wheel
    built from one (once per target, then reused: :mod:`~pipenv_sync_ext.store.sdist`).
    With ``keep_sdists`` (``fetch``, which builds nothing), such a package gets its sdist.

    ``origins`` (sha256 -> :data:`STORE`, :data:`FIND_LINKS`, :data:`PIP_CACHE`
    or :data:`INDEX`) is filled in when given.

    ``unpack``: each wheel's checks and unpacking into the store begin as soon as
    it is there (:func:`~pipenv_sync_ext.store.unpacked.start`), a download's in
    its own thread, so they overlap the downloads still running.
    """
    origins = {} if origins is None else origins
    progress = progress or LineProgress(log)
    found: dict[str, LocalArtifact] = {}
    missing: list[Missing] = []
    remote_needed: list[tuple[LockedPackage, list[str]]] = []
    for package in packages:
        local, unfit = _local(package, tag_rank, store, find_links, origins)
        if local is None and pip_cache is not None:
            _from_pip_cache(package, store, pip_cache, origins)
            local, unfit = _local(package, tag_rank, store, find_links, origins)
        if local is None and keep_sdists:
            local = _local_sdist(package, store, find_links)
        if local is None and builder is not None:
            local = builder.built(package)
            sdist = None if local is not None else _local_sdist(package, store, find_links)
            if sdist is not None:
                try:
                    local = builder.build(package, sdist)
                except FetchError as exc:
                    missing.append(Missing(package, str(exc)))
                    continue
        if local is not None:
            found[package.name] = _stored(store, package, local, unpack)
        elif client is None:
            places = "the store, --find-links" + (" or pip's cache" if pip_cache is not None else "")
            reason = (
                f"only files that do not fit this interpreter are available locally: {', '.join(unfit)}"
                if unfit
                else f"none of the {len(package.hashes)} files the lock allows ({_allowed_hashes(package)}) "
                f"is in {places}"
            )
            missing.append(Missing(package, reason))
        else:
            remote_needed.append((package, unfit))

    if callable(client) and (remote_needed or missing):
        client = client()
    connected = None if callable(client) else client  # an index client has no __call__
    if remote_needed and connected is not None:
        index: IndexClient = connected
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = list(
                pool.map(
                    lambda item: _fetch_one(
                        item[0], tag_rank, store, index, progress, builder, keep_sdists, unpack=unpack
                    ),
                    remote_needed,
                )
            )
        progress.close()
        for (package, _), result in zip(remote_needed, results, strict=True):
            if isinstance(result, Missing):
                missing.append(result)
            else:
                found[package.name] = result
                origins.setdefault(result.artifact.sha256, INDEX)

    if missing:
        if unpack:
            from pipenv_sync_ext.store import unpacked

            unpacked.cancel_pending()  # nothing will be installed
        raise_if_unreachable(missing, connected, lock_label)
        # One headline, however many are missing (pipelines grep and alert on it); a line per package below.
        raise MissingArtifactsError(
            f"{lock_label}: {len(missing)} locked package(s) have no usable artifact; nothing was changed",
            details=[m.describe() for m in missing],
            hint=missing_hint(missing, connected),
        )
    pins = {p.name: p.version for p in packages}
    return {name: dataclasses.replace(local, locked=(name, pins[name])) for name, local in found.items()}


def _missing(package: LockedPackage, exc: FetchError) -> Missing:
    from pipenv_sync_ext.store.reach import HostUnreachable  # urllib is loaded already: there is a client

    return Missing(package, str(exc), unreachable=isinstance(exc, HostUnreachable))


def _fetch_one(
    package: LockedPackage,
    tag_rank: Mapping[str, int],
    store: Store,
    client: IndexClient,
    progress: Progress,
    builder: WheelBuilder | None = None,
    keep_sdists: bool = False,
    *,
    unpack: bool = False,
) -> LocalArtifact | Missing:
    try:
        remote = client.list_files(package)
    except FetchError as exc:
        return _missing(package, exc)
    if not remote:
        sources = ", ".join(s.display for s in client.sources_for(package)) or "no source"
        return Missing(package, f"no file the lock allows is listed by {sources}")
    best = best_wheel([r.artifact for r in remote], tag_rank)
    if best is None:
        names = ", ".join(sorted({r.artifact.filename for r in remote}))
        if all(not r.artifact.is_wheel for r in remote):
            sdists = [r for r in remote if is_sdist(r.artifact.filename)]
            if keep_sdists and sdists:
                try:
                    return _download(client, sdists[0], store, progress)
                except FetchError as exc:
                    return _missing(package, exc)
            if builder is None or not sdists:
                return Missing(package, f"only an sdist is locked ({names}) and no wheel can be built from it")
            try:
                built = builder.build(package, _download(client, sdists[0], store, progress))
                return _stored(store, package, built, unpack)
            except FetchError as exc:
                return _missing(package, exc)
        return Missing(package, f"no wheel compatible with this interpreter; the lock allows: {names}")
    chosen = next(r for r in remote if r.artifact == best)
    try:
        return _stored(store, package, _download(client, chosen, store, progress), unpack)
    except FetchError as exc:
        return _missing(package, exc)


def _stored(store: Store, package: LockedPackage, local: LocalArtifact, unpack: bool) -> LocalArtifact:
    """``local``, whose checks and unpacking begin now when ``unpack`` (in this thread: a download's)."""
    if unpack and local.artifact.is_wheel:
        from pipenv_sync_ext.store import unpacked

        unpacked.start(local, store.root, name=package.name, version=package.version)
    return local


def _download(client: IndexClient, remote: RemoteFile, store: Store, progress: Progress) -> LocalArtifact:
    task = progress.download(remote.artifact.filename)
    try:
        local = client.download(remote, store, task)
    except BaseException:
        task.failed()
        raise
    task.done()
    return local


@dataclass(frozen=True)
class EveryFile:
    """``fetch --all-hashes``: what is now in the store, and the allowed files no place had."""

    artifacts: list[tuple[LockedPackage, LocalArtifact]]
    unlisted: dict[str, int]  # "name==version" -> how many allowed hashes no source lists


def merge_versions(packages: Sequence[LockedPackage]) -> list[LockedPackage]:
    """One entry per (name, version), with the hashes of every section that pins it."""
    merged: dict[tuple[str, str], LockedPackage] = {}
    for p in packages:
        key = (p.name, p.version)
        earlier = merged.get(key)
        merged[key] = p if earlier is None else dataclasses.replace(earlier, hashes=earlier.hashes | p.hashes)
    return list(merged.values())


def gather_every_file(
    *,
    packages: Sequence[LockedPackage],
    store: Store,
    find_links: FindLinks,
    client: IndexClient | None,
    log: Callable[[str], None],
    lock_label: str = "Pipfile.lock",
    pip_cache: PipCache | None = None,
    progress: Progress | None = None,
    workers: int = _FETCH_WORKERS,
    origins: dict[str, str] | None = None,
) -> EveryFile:
    """Every file the lock allows for ``packages``, whatever its platform (sdists too).

    A hash that no place has and no source lists is counted in ``unlisted``
    (indexes drop files; the lock may name more than exist). A package left with
    no file at all, or a listed file that fails to download, is an error, as in
    :func:`gather`.
    """
    origins = {} if origins is None else origins
    progress = progress or LineProgress(log)
    packages = merge_versions(packages)

    def stored(package: LockedPackage) -> dict[str, LocalArtifact]:
        found: dict[str, LocalArtifact] = {}
        for h in sorted(package.hashes):
            local = store.get(h)
            if local is not None and store.verify(local):
                found[h] = local
                origins.setdefault(h, STORE)
        return found

    have: list[dict[str, LocalArtifact]] = []
    for package in packages:
        mine = stored(package)
        for candidate in find_links.candidates(package.name, package.hashes, package.version):
            h = candidate.artifact.sha256
            if h not in mine:
                mine[h] = store.add_copy(candidate.path, h)
                origins[h] = FIND_LINKS
        if pip_cache is not None and package.hashes - set(mine):
            _from_pip_cache(package, store, pip_cache, origins)
            mine.update(stored(package))
        have.append(mine)

    unlisted: dict[str, int] = {}
    missing: list[Missing] = []
    wanted = [i for i, p in enumerate(packages) if p.hashes - set(have[i])]
    if wanted and client is not None:

        def listing(i: int) -> list[RemoteFile] | Missing:
            try:
                return client.list_files(packages[i])
            except FetchError as exc:
                return _missing(packages[i], exc)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            listings = list(pool.map(listing, wanted))
            jobs: list[tuple[int, RemoteFile]] = []
            for i, files in zip(wanted, listings, strict=True):
                if isinstance(files, Missing):
                    missing.append(files)
                    continue
                listed = {r.artifact.sha256 for r in files}
                unlisted[f"{packages[i].name}=={packages[i].version}"] = len(packages[i].hashes - listed - set(have[i]))
                jobs += [(i, r) for r in files if r.artifact.sha256 not in have[i]]

            def fetch(job: tuple[int, RemoteFile]) -> LocalArtifact | Missing:
                try:
                    return _download(client, job[1], store, progress)
                except FetchError as exc:
                    return _missing(packages[job[0]], exc)

            results = list(pool.map(fetch, jobs))
        progress.close()
        for (i, remote), result in zip(jobs, results, strict=True):
            if isinstance(result, Missing):
                missing.append(result)
            else:
                have[i][remote.artifact.sha256] = result
                origins.setdefault(remote.artifact.sha256, INDEX)
    else:
        for i in wanted:
            unlisted[f"{packages[i].name}=={packages[i].version}"] = len(packages[i].hashes - set(have[i]))

    failed = {id(m.package) for m in missing}
    for i, package in enumerate(packages):
        if not have[i] and id(package) not in failed:
            places = "the store, --find-links" + (", pip's cache" if pip_cache is not None else "")
            places += " or the index" if client is not None else ""
            missing.append(Missing(package, f"none of the {len(package.hashes)} files the lock allows is in {places}"))
    if missing:
        raise_if_unreachable(missing, client, lock_label)
        raise MissingArtifactsError(
            f"{lock_label}: {len(missing)} locked file(s) could not be fetched; nothing was changed",
            details=[m.describe() for m in missing],
            hint=missing_hint(missing, client),
        )
    return EveryFile(
        [(p, a) for i, p in enumerate(packages) for a in sorted(have[i].values(), key=lambda a: a.artifact.filename)],
        {key: n for key, n in unlisted.items() if n},
    )
