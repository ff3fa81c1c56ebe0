"""No-op sync: the sync stamp's O(1) answer against the full plan, on a real lock.

    python bench/stamp_noop.py [--fixture ../shared/fixtures/project-medium] [--repeat 9]

Copies the fixture project into a work directory, syncs it once (from the index
the first time, the store afterwards), then alternates two kinds of no-op run:
with the stamp (what a repeat ``pipenv-sync`` does) and with the stamp deleted
first (the full plan: parse and validate the lock, probe the interpreter from
its cache, scan every installed distribution, plan). Prints the median of each
and their ratio. Standard library only; runs the CLI of the Python running it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fixture", type=Path, default=REPO.parent / "shared" / "fixtures" / "project-medium")
    p.add_argument("--repeat", type=int, default=9)
    p.add_argument("--cache-dir", type=Path, default=REPO / "bench" / ".work" / "stamp-cache")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="stamp-bench-") as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(args.fixture, project)
        venv = Path(tmp) / "venv"
        cmd = [sys.executable, "-m", "pipenv_sync_ext", "--project", str(project), "--venv", str(venv)]
        cmd += ["--cache-dir", str(args.cache_dir), "--prune", "-q"]
        subprocess.run(cmd, check=True)  # fills the venv (and the store, on a first run)
        stamp = venv / ".pipenv-sync-stamp.json"
        with_stamp: list[float] = []
        full_plan: list[float] = []
        for _ in range(args.repeat):
            for kind, samples in (("stamp", with_stamp), ("full", full_plan)):
                if kind == "full":
                    stamp.unlink()
                started = time.perf_counter()
                subprocess.run([*cmd, "--offline"], check=True)
                samples.append(time.perf_counter() - started)
        count = sum(1 for _ in venv.glob("lib/python*/site-packages/*.dist-info"))
        a, b = statistics.median(with_stamp), statistics.median(full_plan)
        print(f"no-op sync of {args.fixture.name} ({count} distributions), median of {args.repeat}:")
        print(f"  with the sync stamp   {a * 1000:7.1f} ms")
        print(f"  full plan (no stamp)  {b * 1000:7.1f} ms")
        print(f"  stamp is {b / a:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
