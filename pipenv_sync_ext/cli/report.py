"""Say what happened, for people (text) and for programs (``--json``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pipenv_sync_ext.redact import redact_data

if TYPE_CHECKING:
    from pipenv_sync_ext.pipeline.options import Result
    from pipenv_sync_ext.plan import Plan


def to_json(result: Result) -> str:
    if result.stamp_hit:  # the stamp answered: the fast path's own words
        return _hit(result, as_json=True)
    data: dict[str, Any] = {
        "venv": str(result.venv),
        "lock": str(result.lock),
        "categories": list(result.sections),
        "dry_run": result.dry_run,
        "changed": result.changed,
        "created_venv": result.created_venv,
        "rebuilt": result.rebuilt,
        # --dry-run/--check: what a sync would do besides the steps below (false after a real sync)
        "would_create_venv": result.would_create_venv,
        "would_rebuild": result.would_rebuild,
        "python": result.python,
        "download": list(result.download),
        "stamp_hit": result.stamp_hit,
        # a plan that would change anything is not in sync, whatever --check's reasons say
        "in_sync": not (result.would_change if result.dry_run else result.out_of_sync),
        "out_of_sync": list(result.out_of_sync),
        "problems": [{"code": p.code, "message": p.message} for p in result.problems],
        "pip_installed": list(result.direct),
        **_plan_json(result),
        "warnings": list(result.warnings),
        **_status_json(result),
        "elapsed_seconds": round(result.elapsed, 4),
    }
    return json.dumps(redact_data(data), indent=2)  # redacted before escaping; emit() redacts the text again


def _status_json(result: Result) -> dict[str, Any]:
    """``withdrawn``: locked files the index yanked or projects it marked; ``status``: how old that knowledge is."""
    s = result.status
    if s is None:
        return {"withdrawn": [], "status": None}
    return {
        "withdrawn": [
            {
                "name": w.name,
                "version": w.version,
                "kind": w.kind,
                "reason": w.reason,
                "index": w.index,
                "sha256": list(w.sha256),
                "severity": w.severity,
            }
            for w in s.withdrawn
        ],
        "status": {
            "checked": s.checked,
            "online": s.online,
            "age_seconds": None if s.age_seconds is None else round(s.age_seconds, 1),
            "missing": list(s.missing),
            "problems": list(s.problems),
            "disagreements": list(s.disagreements),
        },
    }


def _withdrawn_text(result: Result) -> list[str]:
    """``--check``/``--dry-run``: what the index withdrew, and how old that knowledge is (a sync said it already)."""
    s = result.status
    if not result.dry_run or s is None or not s.withdrawn:
        return []
    from pipenv_sync_ext.pipeline.withdrawn import describe_age

    age = f"checked {describe_age(s.age_seconds)} ago" if s.age_seconds is not None else "age unknown"
    items = ", ".join(f"{w.name} {w.version} ({w.kind})" for w in s.withdrawn)
    return [f"Withdrawn at the index ({age}): {items}"]


def _plan_json(result: Result) -> dict[str, Any]:
    plan = result.plan
    if plan is None:  # --check of a venv too broken to plan against: its problems say it all
        return {key: [] for key in ("install", "remove", "unchanged", "skipped", "other", "extraneous")}
    return {
        "install": [
            {
                "name": s.package.name,
                "version": s.package.version,
                "category": s.package.category,
                "replaces": [d.version for d in s.replaces],
            }
            for s in plan.install
        ],
        "remove": [{"name": r.dist.name, "version": r.dist.version, "reason": r.reason} for r in plan.remove],
        "unchanged": [{"name": u.package.name, "version": u.package.version} for u in plan.unchanged],
        "skipped": [{"name": s.entry.name, "version": s.entry.version, "reason": s.reason} for s in plan.skipped],
        "other": [
            {
                "name": o.entry.name,
                "kind": o.entry.kind,
                "source": o.entry.source,
                "installed": o.dist.version if o.dist else None,
            }
            for o in plan.others
        ],
        "extraneous": [{"name": d.name, "version": d.version} for d in plan.extraneous],
        "not_in_lock": list(result.not_in_lock),  # what --prune would remove (empty under --prune)
    }


def to_text(result: Result, verbose: bool = False) -> str:
    plan = result.plan
    took = f"{result.elapsed:.2f}s"
    if result.out_of_sync:
        reasons = [f"  ! {reason}" for reason in result.out_of_sync]
        notes = [f"  {line}" for line in _would(result)] + [f"  {line}" for line in _not_in_lock(result)]
        head = f"Out of sync with {result.lock.name}: {result.venv}"
        return "\n".join([head, *reasons, *notes, *_withdrawn_text(result)])
    if plan is None:
        return _hit(result, as_json=False)
    lines: list[str] = []
    if result.dry_run:
        lines.append(f"Plan for {result.venv} ({', '.join(result.sections)}), nothing changed:")
        if result.would_create_venv:
            lines.append(f"  would create the virtualenv with {result.python}")
        elif result.would_rebuild:
            why = "; ".join(p.message for p in result.problems) or "--rebuild"
            lines.append(f"  would rebuild it with {result.python} ({why})")
    if result.rebuilt:
        lines.append(f"Rebuilt {result.venv}: " + ("; ".join(p.message for p in result.problems) or "--rebuild"))
    lines += _steps(plan)
    lines += [f"  + {name} (through pip: {_kind(plan, name)})" for name in result.direct]
    if verbose:
        lines += [f"  = {u.package.name} {u.package.version}" for u in plan.unchanged]
    if result.dry_run:
        lines += [f"  {line}" for line in _would(result)]
    if plan.extraneous and verbose:
        lines.append("  kept, not in the lock: " + ", ".join(f"{d.name} {d.version}" for d in plan.extraneous))
    lines += _not_in_lock(result)
    lines.append(_summary(result, plan, took))
    return "\n".join(lines + _withdrawn_text(result))


def _would(result: Result) -> list[str]:
    """What --dry-run/--check cannot show as a step: the downloads."""
    lines = []
    if result.download:
        shown = ", ".join(result.download[:5]) + (
            f" and {len(result.download) - 5} more" if len(result.download) > 5 else ""
        )
        if result.offline:
            lines.append(
                f"{len(result.download)} package(s) not in the store, so --offline would fail (exit 4): {shown}"
            )
        else:
            lines.append(f"would download {len(result.download)} package(s) not in the store: {shown}")
    return lines


def _not_in_lock(result: Result) -> list[str]:
    from pipenv_sync_ext.pipeline.context import not_in_lock_note

    note = not_in_lock_note(result.not_in_lock)
    return [note] if note else []


def _steps(plan: Plan) -> list[str]:
    lines = []
    for r in plan.remove:
        lines.append(f"  - {r.dist.name} {r.dist.version} ({r.reason})")
    for s in plan.install:
        was = f" (was {', '.join(d.version for d in s.replaces)})" if s.replaces else ""
        if s.replaces and all(d.version == s.package.version for d in s.replaces):
            was = " (reinstalled)"  # --repair: the same version again
        lines.append(f"  {'~' if s.replaces else '+'} {s.package.name} {s.package.version}{was}")
    return lines


def _kind(plan: Plan, name: str) -> str:
    return next((f"{o.entry.kind} {o.entry.source}" for o in plan.others if o.entry.name == name), "?")


def _summary(result: Result, plan: Plan, took: str) -> str:
    replaced = sum(1 for s in plan.install if s.replaces)
    installed = len(plan.install) - replaced
    if not result.changed and not (result.dry_run and result.would_change):
        return f"Already in sync: {len(plan.unchanged)} unchanged; nothing to do ({result.venv}, {took})"
    verb = "Would change" if result.dry_run else "Synced"
    via_pip = f", {len(result.direct)} through pip" if result.direct else ""
    return (
        f"{verb} {result.venv}: {installed} installed, {replaced} replaced, {len(plan.remove)} removed{via_pip}, "
        f"{len(plan.unchanged)} unchanged ({took})"
    )


def _hit(result: Result, *, as_json: bool) -> str:
    from pipenv_sync_ext.fastpath.noop import hit_report

    return hit_report(
        venv=str(result.venv),
        lock=str(result.lock),
        sections=result.sections,
        packages=result.packages,
        warnings=result.warnings,
        elapsed=result.elapsed,
        as_json=as_json,
    )
