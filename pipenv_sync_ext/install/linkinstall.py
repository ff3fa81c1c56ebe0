"""Installing wheels by linking their files from an unpacked store: the fast path of :mod:`.execute`.

Why
    A fresh venv of ~50 packages is ~8,000 files. Writing them out of the zips
    (``installer``: open, decompress, hash, write, per file) is most of a
    sync. Here each stored wheel is unpacked *once*, and every install after
    that only links (or clones, or copies) files that are already on disk.

The unpacked store
    :mod:`pipenv_sync_ext.store.unpacked` keeps each verified wheel unpacked
    once; this module installs a distribution from its tree.

Link modes (``--link-mode``)
    :mod:`.linker` (clone, hard link, copy); ``installer`` is PyPA's installer
    from the zip (:mod:`.wheelinstall`), the fallback for a wheel whose tree
    cannot be made. Every mode installs what pip 26 installs, file for file
    (paths, bytes, executable bits, RECORD; :mod:`.scripts` and
    :mod:`.record` say where and why it deliberately differs). Hard links
    are read-only (the store's 0o444/0o555): the one difference of modes
    between link modes. Whatever the mode, scripts are never linked:
    entry-point launchers are generated for the target's interpreter with
    pip's names, ``.data/scripts`` files have a ``#!python`` shebang
    rewritten, and any file landing in the scripts directory is copied (a venv
    built beside its target has the paths in ``bin/`` rewritten in place).

Guarantees kept from :mod:`.wheelinstall`
    The ``.dist-info`` is written as ``<name>.dist-info.pipenv-sync-partial``
    with its write-ahead list (``.pipenv-sync-written``: every path, ``N`` new
    or ``E`` existing, written before the first file) and renamed into place
    last, so :mod:`.journal` undoes a killed install; ``failpoints.step()``
    runs before every file operation. RECORD, ``INSTALLER`` and ``REQUESTED``
    are :mod:`.record`'s.

Parallel
    Trees are prepared (before the first change), then wheels installed, by a
    thread pool of one thread per core (up to 8), the largest wheel first;
    directories are made race-free. Wheels that share a target path with
    another wheel of the same sync, and wheels falling back to ``installer``
    (which changes the process umask), are installed one at a time after the
    others, in plan order.

Against ``cp -al`` (measured 2026-12-02, this 2-core machine under a load
average of ~10 from other jobs, so CPU time is the steady figure; medians of 5,
alternated): hard-linking project-medium's 46 trees (7,792 files, 3,648
directories) into a fresh venv took 339 ms of CPU (23,000 files per CPU
second) against ``cp -al`` of the same trees 349 ms and the previous version
423 ms; wall times (0.6-1.3 s for all three) were the load's, not the tools'.
What is left is the kernel's ``mkdir`` and ``link``: directories are made
once each from a precomputed list (parents first, no lookups below a missing
one), directories are confined instead of files (:func:`_plan`), and the
Python left per file is string work, the write-ahead entry and the RECORD row.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import NamedTuple

from pipenv_sync_ext.confine import Confiner
from pipenv_sync_ext.errors import InstallError
from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.install import failpoints
from pipenv_sync_ext.install.linker import MODES, NEW_SUFFIX, Linker
from pipenv_sync_ext.install.record import INSTALLER_NAME, REQUESTED, dist_scheme, prefixes, record_bytes
from pipenv_sync_ext.install.scripts import fix_shebang, launcher, replaced_by_launcher, script_names
from pipenv_sync_ext.install.writeahead import MANIFEST, PARTIAL_SUFFIX, undo_partial
from pipenv_sync_ext.install.writeahead import append as write_ahead
from pipenv_sync_ext.store.cas import LocalArtifact
from pipenv_sync_ext.store.extract import record_hash
from pipenv_sync_ext.store.unpacked import WORKERS, Member, Unpacked, damaged, forget, prepare, unpacked_root
from pipenv_sync_ext.target.interpreter import Interpreter

__all__ = ["MODES", "install_all", "install_tree", "same_device"]


_LINK, _COPY, _SCRIPT_FILE = 0, 1, 2


class _Op(NamedTuple):
    kind: int
    member: Member
    dst: str


class _Plan(NamedTuple):
    scheme: dict[str, str]  # the distribution's (headers in their own folder)
    ops: list[_Op]  # the tree's members to place, in archive order
    launchers: list[tuple[str, str, str]]  # path, module, attr


def _plan(tree: Unpacked, interpreter: Interpreter, confiners: dict[str, Confiner] | None = None) -> _Plan:
    """Where each file goes; every directory it writes in confined under its scheme directory (preflight
    confined each path before the first change; this is the same rule at the place that writes).

    Decided here: directories are confined, once each, not files. The tree's paths
    passed the lexical rule when its manifest was read (:func:`~pipenv_sync_ext.store.unpacked.load`),
    so what the venv adds is its directories (a symlink among them leading out); a
    file itself is never written through (:mod:`.linker` creates with ``O_EXCL``
    or links, and replaces by renaming over), so a symlink at a file's place is
    replaced, not followed. Per file this leaves string work only (measured:
    ``_plan`` was a third of the Python time of linking project-medium).
    """
    scheme = dist_scheme({k: os.path.abspath(v) for k, v in interpreter.scheme.items()}, tree.name)
    what = f"{tree.wheel}: a file to install"
    prefix = tree.dist_info + "/"
    staged = tree.dist_info + PARTIAL_SUFFIX
    scripts = scheme["scripts"] + "/"
    names = script_names(tree.entry_points, interpreter.version)
    ops = []
    directories: dict[tuple[str, str], None] = {}  # (scheme, directory in it), in order
    for m in tree.files:
        if m.scheme == tree.root_scheme and m.dest.startswith(prefix):
            rel = staged + m.dest[len(tree.dist_info) :]
        elif m.scheme == "scripts" and replaced_by_launcher(m.dest, tree.entry_points, names):
            continue  # the launcher wins, as with pip; nothing written, no RECORD row
        else:
            rel = m.dest
        directory = rel.rpartition("/")[0]
        if directory:
            directories[(m.scheme, directory)] = None
        dst = f"{scheme[m.scheme]}/{rel}"
        kind = _SCRIPT_FILE if m.scheme == "scripts" else _COPY if dst.startswith(scripts) else _LINK
        ops.append(_Op(kind, m, dst))
    confiners = {} if confiners is None else confiners  # shared by the plans of one sync: made before any install

    def under(key: str) -> Confiner:
        found = confiners.get(scheme[key])
        if found is None:
            found = confiners[scheme[key]] = Confiner(scheme[key])
        return found

    for key, directory in directories:
        under(key).check(directory, what=what)
    launchers = [
        (under("scripts").check(name, what=f"{tree.wheel}: a launcher"), module, attr)
        for name, (module, attr, _section) in names.items()
    ]
    return _Plan(scheme, ops, launchers)


def _targets(plan: _Plan) -> list[str]:
    """Every path outside the staged ``.dist-info`` that installing a tree writes."""
    return [op.dst for op in plan.ops if PARTIAL_SUFFIX + "/" not in op.dst] + [p for p, _m, _a in plan.launchers]


def install_tree(
    tree: Unpacked, *, interpreter: Interpreter, linker: Linker, label: str, plan: _Plan | None = None
) -> None:
    """Install one wheel from its unpacked tree; registered (``.dist-info`` renamed into place) last."""
    plan = _plan(tree, interpreter) if plan is None else plan
    site = plan.scheme[tree.root_scheme]
    staged = f"{site}/{tree.dist_info}{PARTIAL_SUFFIX}"
    final = f"{site}/{tree.dist_info}"
    try:
        _install(tree, interpreter, staged, linker, plan)
        if os.path.lexists(final):
            shutil.rmtree(final) if os.path.isdir(final) and not os.path.islink(final) else os.unlink(final)
        os.unlink(f"{staged}/{MANIFEST}")
        failpoints.step()
        os.rename(staged, final)  # the distribution is registered here
    except BaseException as exc:
        undo_partial(Path(staged), stop_at={Path(p) for p in plan.scheme.values()})
        if isinstance(exc, InstallError):
            raise
        if isinstance(exc, OSError):
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InstallError(f"{label}: cannot be installed: {first}") from None
        raise


def _install(tree: Unpacked, interpreter: Interpreter, staged: str, linker: Linker, plan: _Plan) -> None:
    ops = plan.ops
    dsts = [op.dst for op in ops] + [dst for dst, _m, _a in plan.launchers]

    # Write-ahead: every path, new (N) or existing (E, never removed by an undo), before the first file.
    os.makedirs(staged, exist_ok=True)
    missing = _missing_dirs({dst.rpartition("/")[0] for dst in dsts})
    existed = [dst.rpartition("/")[0] not in missing and os.path.lexists(dst) for dst in dsts]
    entries = []
    for dst, was in zip(dsts, existed, strict=True):
        entries.append((was, dst))
        if was:
            entries.append((False, f"{dst}{NEW_SUFFIX}"))
    write_ahead(staged, entries)
    for d in sorted(missing, key=len):  # parents first: one mkdir each, no lookups
        with contextlib.suppress(FileExistsError):  # another wheel of this sync made it (a file: the link fails)
            os.mkdir(d)

    base = tree.files_dir + "/"
    prefix = prefixes(plan.scheme, plan.scheme[tree.root_scheme])
    rows: list[tuple[str, str, str]] = []  # RECORD: path relative to the site directory, hash, size
    for op, was in zip(ops, existed[: len(ops)], strict=True):
        m = op.member
        failpoints.step()
        if op.kind == _SCRIPT_FILE:
            with open(base + m.path, "rb") as f:
                data = fix_shebang(f.read(), interpreter.executable)
            linker.write(op.dst, data, linker.exec_mode if m.executable else None, was)
            rows.append((prefix["scripts"] + m.dest, record_hash(hashlib.sha256(data)), str(len(data))))
        else:
            linker.place(base + m.path, op.dst, m.executable, was, copy=op.kind == _COPY)
            rows.append((prefix[m.scheme] + m.dest, m.hash, str(m.size)))
    scripts = plan.scheme["scripts"] + "/"
    for (dst, module, attr), was in zip(plan.launchers, existed[len(ops) :], strict=True):
        data = launcher(interpreter.executable, interpreter.version, module=module, attr=attr)
        failpoints.step()
        linker.write(dst, data, linker.script_mode, was)
        rows.append((prefix["scripts"] + dst[len(scripts) :], record_hash(hashlib.sha256(data)), str(len(data))))

    for name, data in (("INSTALLER", INSTALLER_NAME), ("REQUESTED", REQUESTED)):
        failpoints.step()
        linker.write(f"{staged}/{name}", data, None, False)
        rows.append((f"{tree.dist_info}/{name}", record_hash(hashlib.sha256(data)), str(len(data))))
    failpoints.step()
    linker.write(f"{staged}/RECORD", record_bytes(rows, f"{tree.dist_info}/RECORD"), None, False)


def _missing_dirs(dirs: set[str]) -> set[str]:
    """The directories among ``dirs`` and their ancestors that do not exist: each looked up once at most, and
    none below one that is missing (a fresh venv's ~3,600 directories of project-medium cost a few lookups)."""
    known: dict[str, bool] = {}
    missing: set[str] = set()
    for d in dirs:
        chain = []
        while d and d not in known:
            chain.append(d)
            d = d.rpartition("/")[0]
        present = known.get(d, True)  # "" is "/": there
        for below in reversed(chain):
            present = present and os.path.isdir(below)
            known[below] = present
            if not present:
                missing.add(below)
    return missing


def same_device(cache_dir: Path, interpreter: Interpreter) -> bool:
    try:
        site = interpreter.scheme["purelib"]
        return os.stat(unpacked_root(cache_dir)).st_dev == os.stat(site).st_dev
    except OSError:
        return False


def install_all(
    jobs: Sequence[tuple[LocalArtifact, Unpacked | None]],
    *,
    interpreter: Interpreter,
    cache_dir: Path,
    link_mode: str,
    warn: Say,
    fallback: Callable[[LocalArtifact], None],
    done: Callable[[], None] | None = None,
) -> None:
    """Install every wheel: from its tree in parallel, then one at a time those that share a path or fall back.
    ``done``: called once per wheel installed (from any thread), for a progress display."""
    linker = Linker(link_mode, same_device(cache_dir, interpreter), warn)
    confiners: dict[str, Confiner] = {}  # per scheme directory, for every plan (all made before the first file)
    plans = {i: _plan(tree, interpreter, confiners) for i, (_local, tree) in enumerate(jobs) if tree is not None}
    owners: dict[str, int] = {}
    shared: set[int] = set()
    for i, plan in plans.items():
        for path in _targets(plan):
            first = owners.setdefault(path, i)
            if first != i:
                shared.update((first, i))
    parallel = [i for i, (_l, tree) in enumerate(jobs) if tree is not None and i not in shared]
    # The largest first: the sync lasts at least as long as its largest wheel (django: 3,000 directories).
    parallel.sort(key=lambda i: -len(jobs[i][1].files))  # type: ignore[union-attr]
    later = [i for i in range(len(jobs)) if i not in parallel]

    def one(i: int) -> None:
        installing(i)
        if done is not None:
            done()

    def installing(i: int) -> None:
        local, tree = jobs[i]
        if tree is None:
            fallback(local)
            return
        try:
            install_tree(tree, interpreter=interpreter, linker=linker, label=local.artifact.filename, plan=plans[i])
        except InstallError:
            if not damaged(tree):
                raise
            # Another sync rebuilt the tree (it found it modified) while this one linked from it;
            # what this one wrote is undone: once more, from the tree as it is now.
            forget(tree.root)
            tree = prepare(local, cache_dir, deep=False, warn=warn)
            install_tree(tree, interpreter=interpreter, linker=linker, label=local.artifact.filename)

    if len(parallel) > 1:
        pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(parallel)))
        futures: list[Future[None]] = []
        try:
            futures = [pool.submit(one, i) for i in parallel]
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for future in futures:
            if not future.cancelled() and (exc := future.exception()) is not None:
                raise exc
    else:
        later = sorted(parallel + later)
    for i in later:
        one(i)
