"""What a sync says when locked packages have no artifact: one line per package, or one per unreachable host."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipenv_sync_ext.errors import MissingArtifactsError
from pipenv_sync_ext.lock.model import LockedPackage

if TYPE_CHECKING:  # fetch (http, ssl, email) is imported only by whoever makes a client
    from pipenv_sync_ext.store.index import IndexClient


@dataclass(frozen=True)
class Missing:
    package: LockedPackage
    reason: str
    unreachable: bool = False  # the index host could not be resolved or connected to

    def describe(self) -> str:
        if self.reason.startswith("hash mismatch for"):  # names the package already
            return f"[{self.package.category}] {self.reason}"
        return f"[{self.package.category}] {self.package.name}=={self.package.version}: {self.reason}"


def raise_if_unreachable(missing: Sequence[Missing], client: IndexClient | None, lock_label: str) -> None:
    """When the index host itself is out of reach, that is the one thing to say (once, not per package)."""
    if client is None or not missing or not all(m.unreachable for m in missing):
        return
    hosts = sorted(client.unreachable.items())
    raise MissingArtifactsError(
        f"{lock_label}: cannot reach {', '.join(host for host, _ in hosts)}; {len(missing)} locked package(s) "
        "not fetched, nothing was changed",
        details=[f"{host}: {why}" for host, why in hosts]
        + [f"[{m.package.category}] {m.package.name}=={m.package.version}" for m in missing],
        hint="without network access, sync with --offline from the store (and --find-links DIR with the "
        "artifacts); or give a mirror you can reach (--index-url URL, --find-links URL)",
    )


def missing_hint(missing: Sequence[Missing], client: IndexClient | None) -> str:
    if client is None:  # --offline: the store is what is short
        return "run `pipenv-sync fetch` where the index is reachable, then sync again; or sync without --offline"
    if any("is listed by" in m.reason or "hash mismatch" in m.reason for m in missing):
        return "the lock's hashes are not the index's files: relock (`pipenv lock`), or fix the [[source]]"
    return "relock (`pipenv lock`) for this interpreter, or pass --find-links DIR|URL with the locked files"
