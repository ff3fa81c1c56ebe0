"""Stage 8: say what happened, for people (text) and for programs (``--json``)."""

from __future__ import annotations

import json
from typing import Any

from .plan import Plan
from .sync import Result


def to_json(result: Result) -> str:
    plan = result.plan
    data: dict[str, Any] = {
        "venv": str(result.venv),
        "lock": str(result.lock),
        "categories": list(result.sections),
        "dry_run": result.dry_run,
        "changed": not result.dry_run and not plan.changes_nothing,
        "created_venv": result.created_venv,
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
        "warnings": list(result.warnings),
        "elapsed_seconds": round(result.elapsed, 4),
    }
    return json.dumps(data, indent=2)


def to_text(result: Result, verbose: bool = False) -> str:
    plan = result.plan
    lines: list[str] = []
    if result.dry_run:
        lines.append(f"Plan for {result.venv} ({', '.join(result.sections)}), nothing changed (--dry-run):")
    lines += _steps(plan, result.dry_run)
    if verbose:
        lines += [f"  = {u.package.name} {u.package.version}" for u in plan.unchanged]
    if plan.extraneous and not result.dry_run and verbose:
        lines.append("  kept, not in the lock: " + ", ".join(f"{d.name} {d.version}" for d in plan.extraneous))
    lines.append(_summary(result))
    return "\n".join(lines)


def _steps(plan: Plan, dry_run: bool) -> list[str]:
    lines = []
    for r in plan.remove:
        lines.append(f"  - {r.dist.name} {r.dist.version} ({r.reason})")
    for s in plan.install:
        was = f" (was {', '.join(d.version for d in s.replaces)})" if s.replaces else ""
        lines.append(f"  {'~' if s.replaces else '+'} {s.package.name} {s.package.version}{was}")
    return lines


def _summary(result: Result) -> str:
    plan = result.plan
    replaced = sum(1 for s in plan.install if s.replaces)
    installed = len(plan.install) - replaced
    took = f"{result.elapsed:.2f}s"
    if plan.changes_nothing:
        extra = f", {len(plan.extraneous)} not in the lock kept (use --prune)" if plan.extraneous else ""
        return f"Already in sync: {len(plan.unchanged)} unchanged{extra}; nothing to do ({result.venv}, {took})"
    verb = "Would change" if result.dry_run else "Synced"
    return (
        f"{verb} {result.venv}: {installed} installed, {replaced} replaced, {len(plan.remove)} removed, "
        f"{len(plan.unchanged)} unchanged ({took})"
    )
