"""Refuse what the index has withdrawn, even when the store has the bytes: the policy on yanked and quarantined files.

:class:`Gate` starts the background status check (:mod:`pipenv_sync_ext.store.status_fetch`)
when the lock is read and decides, once, before the first change to the venv:
after preflight for a sync in place; just before the swap for a new or rebuilt
venv (built beside the target, so the whole build overlaps the requests and a
refusal only discards the staging copy); before the stamp of a sync with
nothing to change. Decisions:

* **What is judged**: the packages of the plan (to install and unchanged),
  from the lock alone: the same verdict whether the bytes come from the store, a
  wheelhouse, pip's cache or the index, and whether they are installed already.
* **Yanked** (PEP 592): a package is yanked when any of its locked files is
  yanked by a source; a warning naming the reason, an error under ``--deploy``
  unless ``--allow-yanked NAME`` (then a note).
* **Quarantined** (PEP 792): an error always, before any change. The index
  lists no files of a quarantined project, so a failure of preflight (nothing to
  download) is reported as the quarantine it is.
* **Archived / deprecated**: a note.
* **Several sources**: the most severe answer wins, and a disagreement is noted.
* **Offline, or the index not answering**: the cached answer (or a
  wheelhouse's ``status.json``) is used; one line states its age when it is
  older than ``--status-max-age``. No status at all is silent (JSON says it),
  unless ``--require-fresh-status``, which makes stale or missing status an error.
* ``--check`` and ``--dry-run`` make no request: they read the cache.
* **An index too slow for the check's budget** (``store/status_fetch.py``):
  one warning names the projects; their cached answer is used, judged as any
  cached answer (its age said when old; ``--require-fresh-status`` applies).
* **An answer of unknown age** (a recorded time in the future, or not a
  number): stale whatever ``--status-max-age`` says; its age is unknown.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from pipenv_sync_ext.errors import SyncError, WithdrawnError
from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.lock.model import LockedPackage
from pipenv_sync_ext.lock.names import canonical_name as canonicalize_name
from pipenv_sync_ext.pipeline.context import Run
from pipenv_sync_ext.pipeline.options import Result
from pipenv_sync_ext.pipeline.statusfork import ForkedCheck, make_check, online
from pipenv_sync_ext.plan import Plan
from pipenv_sync_ext.store.status import ARCHIVED, DEPRECATED, QUARANTINED, StatusReport, Withdrawn
from pipenv_sync_ext.store.status_fetch import INDEX, Lookup, StatusCheck, budget


def describe_age(seconds: float) -> str:
    if seconds == float("inf"):
        return "an unknown time"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{int(seconds)} second{'s' if int(seconds) != 1 else ''}"


class Gate:
    """The status check of one sync and its one decision."""

    def __init__(
        self,
        check: StatusCheck,
        *,
        online: bool,
        deploy: bool,
        allow_yanked: Sequence[str],
        max_age: float,
        require_fresh: bool,
        warn: Say,
        log: Say,
        forked: ForkedCheck | None = None,
        verbose: bool = False,
    ) -> None:
        self._verbose = verbose
        self._check = check
        self._forked = forked
        self._runner: StatusCheck | ForkedCheck = check
        self._online = online
        self._deploy = deploy
        self._allow = {canonicalize_name(n) for n in allow_yanked}
        self._max_age = max_age
        self._require_fresh = require_fresh
        self._warn, self._log = warn, log
        self.report: StatusReport | None = None

    def start(self) -> Gate:
        """The requests under way: the forked child's when it may answer (``pipeline/statusfork.py``),
        else this process's threads."""
        if self._forked is not None and self._check.all_stored():
            self._runner = self._forked.adopt(self._check, log=self._log, verbose=self._verbose)
        else:
            self.close()  # a download's listing will share the pages: asked from this process
            self._runner = self._check.start()
        return self

    def close(self) -> None:
        """Stop a child still asking the index (the sync ends, or does not need it)."""
        if self._forked is not None:
            self._forked.close()

    def __call__(self, plan: Plan | None) -> None:
        """Decide (once): say the warnings and notes, raise :class:`WithdrawnError` for what is refused."""
        if self.report is not None:
            return
        report, errors, warnings, notes = self._judge(plan)
        self.report = report
        for note in notes:
            self._log(note)
        for warning in warnings:
            self._warn(warning)
        if errors:
            raise _refused(errors, withdrawn=sum(w.severity == "error" for w in report.withdrawn))

    def explain(self, failure: SyncError, plan: Plan | None = None) -> None:
        """After a failed preflight: a quarantined project (which lists no files) is the real reason."""
        if self.report is not None or isinstance(failure, WithdrawnError):
            return
        report, errors, _warnings, _notes = self._judge(plan)
        refused = [w for w in report.withdrawn if w.kind == QUARANTINED]
        if refused:
            self.report = report
            raise _refused(errors, withdrawn=len(refused)) from failure

    def _judge(self, plan: Plan | None) -> tuple[StatusReport, list[str], list[str], list[str]]:
        lookups = self._runner.results()
        if plan is None:
            packages = self._check.packages
        else:
            packages = [s.package for s in plan.install] + [u.package for u in plan.unchanged]
        now = time.time()
        errors: list[str] = []
        warnings: list[str] = []
        notes: list[str] = []
        withdrawn: list[Withdrawn] = []
        disagreements: list[str] = []
        missing: list[str] = []
        oldest: float | None = None
        stale: list[str] = []
        seen: set[tuple[str, str]] = set()
        for package in packages:
            if (package.name, package.version) in seen:
                continue
            seen.add((package.name, package.version))
            lookup = lookups.get(canonicalize_name(package.name))
            if lookup is None or not lookup.answers:
                missing.append(package.name)
                continue
            for answer in lookup.answers:
                # 0.0 is an unknown time (status.py): never fresh, and said to be unknown
                age = max(0.0, now - answer.status.fetched_at) if answer.status.fetched_at > 0 else float("inf")
                oldest = age if oldest is None else max(oldest, age)
                if answer.origin != INDEX and age > self._max_age:
                    stale.append(package.name)
            found, disagree = _verdicts(package, lookup)
            disagreements += disagree
            for w in found:
                w = self._severity(w)
                withdrawn.append(w)
                {"error": errors, "warning": warnings, "note": notes}[w.severity].append(_message(w))
        notes += disagreements
        problems = tuple(p for lookup in lookups.values() for p in lookup.problems)
        late = sorted(p for p, lookup in lookups.items() if lookup.late)
        if late:
            shown = ", ".join(late[:5]) + (f" and {len(late) - 5} more" if len(late) > 5 else "")
            warnings.append(
                f"the index did not answer the status check of {len(late)} project(s) within {budget():g} s "
                f"({shown}): their last known status is used, if any"
            )
        if stale and oldest is not None:
            when = "at an unknown time" if oldest == float("inf") else f"{describe_age(oldest)} ago"
            line = (
                f"index status of {len(set(stale))} package(s) was last checked {when} "
                f"(older than --status-max-age {describe_age(self._max_age)}): yanked or quarantined since "
                f"then is not known; {'the index did not answer' if self._online else 'offline'}"
            )
            (errors if self._require_fresh else warnings).append(line)
        if missing and self._require_fresh:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            errors.append(
                f"--require-fresh-status: no index status known for {shown} "
                f"({'; '.join(problems[:2]) if problems else 'never checked online'}); sync once with network "
                f"access, or use a wheelhouse whose status.json has them (fetch --wheelhouse)"
            )
        report = StatusReport(
            withdrawn=tuple(withdrawn),
            checked=len(seen),
            age_seconds=None if oldest == float("inf") else oldest,
            online=self._online,
            missing=tuple(missing),
            problems=problems,
            disagreements=tuple(disagreements),
        )
        return report, errors, warnings, notes

    def _severity(self, w: Withdrawn) -> Withdrawn:
        replace = dataclasses.replace
        if w.kind == QUARANTINED:
            return replace(w, severity="error")
        if w.kind == "yanked":
            if canonicalize_name(w.name) in self._allow:
                return replace(w, severity="note")
            return replace(w, severity="error" if self._deploy else "warning")
        return replace(w, severity="note")


def _verdicts(package: LockedPackage, lookup: Lookup) -> tuple[list[Withdrawn], list[str]]:
    """The most severe answer of each kind, and the disagreements between sources."""
    found: list[Withdrawn] = []
    statuses = {a.status.index: a.status for a in (x for x in lookup.answers)}
    rank = {QUARANTINED: 3, ARCHIVED: 2, DEPRECATED: 1}
    marked = sorted((s for s in statuses.values() if s.status in rank), key=lambda s: -rank[s.status])
    if marked:
        top = marked[0]
        found.append(Withdrawn(package.name, package.version, top.status, top.reason, top.index))
    yanked = [(s, sorted(h for h in package.hashes if s.yanked(h) is not None)) for s in statuses.values()]
    yanked = [(s, hashes) for s, hashes in yanked if hashes]
    if yanked:
        s, hashes = yanked[0]
        reason = s.yanked(hashes[0]) or None
        found.append(Withdrawn(package.name, package.version, "yanked", reason, s.index, tuple(hashes)))
    disagree: list[str] = []
    if len({s.status for s in statuses.values()}) > 1:
        said = ", ".join(f"{i} says {s.status}" for i, s in statuses.items())
        disagree.append(f"the sources disagree on the status of {package.name}: {said}")
    if yanked and len(yanked) < len(statuses):
        disagree.append(
            f"the sources disagree on whether {package.name}=={package.version} is yanked: "
            + ", ".join(f"{s.index} yanks it" for s, _h in yanked)
            + ", the others do not"
        )
    return found, disagree


def _refused(errors: list[str], *, withdrawn: int) -> WithdrawnError:
    """The refusal: of ``withdrawn`` packages, or, when none is, of a status --require-fresh-status finds
    too old or missing (the count of errors was said as packages withdrawn, one for the stale-status line)."""
    if not withdrawn:
        return WithdrawnError(
            "--require-fresh-status: the index status of the lock is not known fresh; nothing was changed",
            details=errors,
            hint="sync again when the index answers (or raise --status-max-age), or drop --require-fresh-status",
        )
    return WithdrawnError(
        f"{withdrawn} locked package(s) withdrawn by the index; nothing was changed",
        details=errors,
        hint="re-lock (`pipenv lock`) to move off them; --allow-yanked NAME allows a yanked one",
    )


def _message(w: Withdrawn) -> str:
    pin = f"{w.name}=={w.version}"
    because = f": {w.reason}" if w.reason else ""
    if w.kind == "yanked":
        files = ", ".join(f"sha256:{h[:12]}..." for h in w.sha256[:2])
        text = f"{pin} is yanked by {w.index} ({files}){because or ' (no reason given)'}"
        if w.severity == "error":
            return f"{text}; refused under --deploy (--allow-yanked {w.name} allows it)"
        if w.severity == "note":
            return f"{text}; allowed by --allow-yanked"
        return f"{text}; re-lock (`pipenv lock`) to move off it"
    if w.kind == QUARANTINED:
        return f"{pin}: the project is quarantined by {w.index}{because} (PEP 792: unsafe to use); refused"
    return f"note: {w.name} is {w.kind} on {w.index}{because}"


def start_gate(run: Run, *, forked: ForkedCheck | None = None) -> Gate:
    """The gate of one run, its status requests under way (none under --offline, --check, --dry-run):
    in ``forked``, the child :func:`~.statusfork.launch` started, when it can answer."""
    options = run.options
    check = make_check(lock=run.lock, sections=run.sections, options=options, cache_dir=run.cache_dir, log=run.log)
    return Gate(
        check,
        online=online(options),
        deploy=options.deploy,
        allow_yanked=options.allow_yanked,
        max_age=options.status_max_age,
        require_fresh=options.require_fresh_status,
        warn=run.warn,
        log=run.log,
        forked=forked,
        verbose=options.verbose,
    ).start()


def judged(gate: Gate, run: Run, body: Callable[[Run], Result]) -> Result:
    """``body(run)`` with the gate's decision made (if the body did not reach it) and its report attached."""
    try:
        result = body(run)
    except SyncError as exc:
        gate.explain(exc)
        raise
    gate(result.plan)
    return dataclasses.replace(result, status=gate.report)
