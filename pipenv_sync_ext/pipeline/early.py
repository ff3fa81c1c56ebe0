"""The status check started as soon as the stamp misses, from Pipfile.lock read with ``json`` alone.

The check's pages take 0.2-0.4 s on PyPI's route for a lock of ~50 projects,
and a prune reaches its gate (before the first change) a few tens of
milliseconds after the lock is parsed: started there, the check is waited for.
Started here instead, ~0.1 s earlier (before the pipeline's imports and the
lock's parsing), the requests overlap that work too. Decisions:

* **Only what stdlib json reads**: the lock's ``_meta.sources`` and, for every
  section, the names of entries pinned with hashes and their ``index``. No
  check of the lock here: anything unexpected (not JSON, a pylock.toml, a
  source without a URL, a bad ``--pypi-mirror``) starts nothing, and the
  pipeline's own check, when it reads the lock, starts it as before and says
  what is wrong.
* **A superset, one request per project**: every section's projects are asked,
  not only the selected ones; the gate still judges exactly the plan's
  packages (``pipeline/withdrawn.py``).
* **Adopted only when it asks what the gate would**: the same sources (after
  ``--pypi-mirror`` and ``--no-lock-sources``), the same mirrors, every judged
  project with the same ``index``; otherwise the gate starts its own check and
  this one is abandoned (its threads are daemons; its cached answers are as good
  as any).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipenv_sync_ext.errors import SyncError
from pipenv_sync_ext.fastpath.lockchoice import is_pylock
from pipenv_sync_ext.lock.mirror import with_mirror
from pipenv_sync_ext.lock.model import LockedPackage, Source
from pipenv_sync_ext.lock.names import canonical_name
from pipenv_sync_ext.lock.schema import Where, check_url, load_json
from pipenv_sync_ext.pipeline.options import Options
from pipenv_sync_ext.store.cas import default_cache_dir
from pipenv_sync_ext.store.mirrorconfig import configured_mirrors, mirror_sources
from pipenv_sync_ext.store.status_fetch import StatusCheck
from pipenv_sync_ext.target.project import Project

_DIRECT_KEYS = ("git", "hg", "svn", "bzr", "path", "file", "editable")  # not index packages: no page to ask


def status_mirrors(options: Options) -> tuple[Source, ...]:
    """The index mirrors, as status sources (find-links pages are not simple indexes)."""
    mirrors = configured_mirrors(options.find_links_urls, options.index_url, extra_index_urls=options.extra_index_urls)
    return tuple(mirror_sources(mirrors.indexes))


def start_early(project: Project, options: Options, *, log: Callable[[str], None]) -> StatusCheck | None:
    """The run's status check, started from the raw lock; None when it cannot be (the gate starts it later)."""
    if options.offline or options.check or options.dry_run or is_pylock(str(project.lockfile)):
        return None
    try:
        raw = load_json(project.lockfile)  # bounded as the pipeline's own read (lock/schema.py)
        sources, packages = _read(raw, project.lockfile)
        sources = with_mirror(sources, options.pypi_mirror) if options.lock_sources else ()
        mirrors = status_mirrors(options)
    except (OSError, ValueError, TypeError, AttributeError, KeyError, SyncError):
        return None  # the pipeline reads the lock and says what is wrong with it
    return StatusCheck(
        packages,
        sources,
        cache_dir=options.cache_dir or default_cache_dir(),
        online=True,
        wheelhouses=options.find_links,
        log=log,
        mirrors=mirrors,
    ).start()


def _read(raw: dict[str, object], path: Path) -> tuple[tuple[Source, ...], list[LockedPackage]]:
    meta = raw.get("_meta")
    listed = meta.get("sources") if isinstance(meta, dict) else None
    sources = tuple(
        Source(name=s.get("name") or f"source{i}", url=s["url"], verify_ssl=s.get("verify_ssl") is not False)
        for i, s in enumerate(listed or ())
    )
    for source in sources:  # a URL urllib cannot split would fail a worker: the pipeline refuses it instead
        if not isinstance(source.url, str) or not isinstance(source.name, str):
            raise ValueError("a source without a URL")
        check_url(source.url, "url", where=Where(path, "_meta"))
    packages: list[LockedPackage] = []
    for section, entries in raw.items():
        if section == "_meta" or not isinstance(entries, dict):
            continue
        for name, spec in entries.items():
            if not isinstance(spec, dict) or not spec.get("hashes") or any(k in spec for k in _DIRECT_KEYS):
                continue
            index = spec.get("index")
            packages.append(
                LockedPackage(
                    name=canonical_name(name),
                    version=str(spec.get("version", "")),
                    hashes=_sha256s(spec["hashes"]),
                    category=section,
                    index=index if isinstance(index, str) else None,
                )
            )
    return sources, packages


def _sha256s(hashes: object) -> frozenset[str]:
    """The lock's ``sha256:`` digests, lower-case: the status check asks the store whether it holds one."""
    if not isinstance(hashes, list):
        return frozenset()
    digests = (h[7:].lower() for h in hashes if isinstance(h, str) and h.startswith("sha256:") and len(h) == 71)
    return frozenset(d for d in digests if not d.strip("0123456789abcdef"))  # a path is never made of others
