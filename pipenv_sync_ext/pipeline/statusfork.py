"""The index status check in a forked child, started as soon as the lock is read: no wall time for the sync.

The check (:mod:`~pipenv_sync_ext.store.status_fetch`) costs ~140 ms of imports
and TLS set-up, then waits on the index (medium's 46 pages: 250-450 ms on this
machine's route, whose pages carry no ETag or max-age). A prune reaches its
decision ~300 ms after the lock is read. In threads of the sync's process the
check starts only after the pipeline's imports, and its Python work and the
main thread's take turns on one GIL; a child forked when the lock is read runs
beside them on the other core. Decisions:

* **Only when nothing is to be downloaded** (every locked package has a file
  in the store: a prune, a new venv from a warm store, any stamp miss of a
  synced project). A download's listing shares the page the check fetched
  (``store/pagememo.py``), which another process cannot; such a sync overlaps
  the check with its downloads anyway. The child looks at the store before any
  request and declines; the parent looks again when it builds its gate.
* **Only where fork is safe**: Linux, and no other thread in this process (a
  fork copies one thread; locks held by the others would stay held), and only
  when the index may be asked. Anywhere else the threads run as before.
  ``PIPENV_SYNC_STATUS_FORK=0`` turns it off.
* **Forked before the venv lock is taken**, so the child holds no lock. It
  ignores SIGINT (the sync's own handler decides, and the gate kills the child
  however the sync ends), ends with its parent (a thread waits for the pipe's
  read end to close: a sync killed alone, or ended by ``os._exit`` on a Ctrl-C,
  does not leave it holding the caller's stdout and stderr), and always leaves by ``os._exit``: it never
  flushes the parent's buffers or runs its exit handlers.
* **The child's answers** are :class:`~pipenv_sync_ext.store.status_fetch.Lookup`
  values as JSON on a pipe, with its log lines, which the parent replays. It
  writes the status cache itself, as the threads would.
* **A child that fails** (exits without answers, declined, or writes what does
  not decode): the check runs again in this process, in threads. A child
  silent past the check's deadline plus :data:`GRACE` is killed and the cached
  answers are used, as for an index that does not answer in time; answers it
  wrote in time count however late the sync reads them (it waited for the venv lock).
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipenv_sync_ext.feedback import Say
from pipenv_sync_ext.lock.model import Lock, LockedPackage
from pipenv_sync_ext.pipeline.options import Options

if TYPE_CHECKING:
    from pipenv_sync_ext.store.status_fetch import Lookup, StatusCheck

ENV = "PIPENV_SYNC_STATUS_FORK"
GRACE = 1.0  # seconds past the check's deadline before a silent child is given up
_LIMIT = 64 << 20  # bytes read from the child: only a bug could send more


def online(options: Options) -> bool:
    """Whether this run may ask the index (not under --offline, --check, --dry-run)."""
    return not (options.offline or options.check or options.dry_run)


def make_check(
    *, lock: Lock, sections: Sequence[str], options: Options, cache_dir: Path, log: Say, forked: bool = False
) -> StatusCheck:
    """The one status check of a run, the same in the parent and in the child."""
    from pipenv_sync_ext.store.mirrorconfig import configured_mirrors, mirror_sources
    from pipenv_sync_ext.store.status_fetch import FORKED_WORKERS, WORKERS, StatusCheck

    mirrors = configured_mirrors(options.find_links_urls, options.index_url, extra_index_urls=options.extra_index_urls)
    return StatusCheck(
        [e for s in sections for e in lock.sections[s] if isinstance(e, LockedPackage)],
        lock.sources,
        cache_dir=cache_dir,
        online=online(options),
        wheelhouses=options.find_links,
        log=log,
        mirrors=mirror_sources(mirrors.indexes),  # index mirrors are status sources; find-links pages are not
        workers=FORKED_WORKERS if forked else WORKERS,
    )


def forkable(options: Options) -> bool:
    """Whether a child may be forked here and now (see the module doc)."""
    return (
        online(options)
        and sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and threading.active_count() == 1
        and os.environ.get(ENV, "1") != "0"
    )


class ForkedCheck:
    """A status check running in a child; :meth:`results` gives what :meth:`StatusCheck.results` would."""

    def __init__(self, pid: int, fd: int, deadline: float) -> None:
        self._pid, self._fd, self._deadline = pid, fd, deadline
        self._check: StatusCheck | None = None
        self._log: Say = lambda _m: None
        self._say: Say = lambda _m: None  # how the check went about it: under -v only
        self._results: dict[str, Lookup] | None = None

    def adopt(self, check: StatusCheck, *, log: Say, verbose: bool = False) -> ForkedCheck:
        """The parent's own check: asked again in threads (or from the cache) if the child fails. ``log``
        takes the child's lines; under ``verbose`` it also says how the check ran."""
        self._check, self._log = check, log
        self._say = log if verbose else self._say
        self._say(f"status check: asked from a child process (pid {self._pid})")
        return self

    def results(self) -> dict[str, Lookup]:
        if self._results is not None:
            return self._results
        assert self._check is not None, "adopt() first"
        data, timed_out = self._read()
        self.close()
        decoded = _decode(data) if data is not None else None
        if decoded is not None:
            lookups, lines = decoded
            for line in lines:
                self._log(line)
        elif timed_out:
            self._say("status check: the child process did not answer in time; the cached status is used")
            lookups = self._check.unanswered()
        else:
            self._say("status check: the child process gave no answer; checking in this process")
            lookups = self._check.start().results()
        self._results = lookups
        return lookups

    def _read(self) -> tuple[bytes | None, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            # Past the deadline, what the child already wrote still counts: a sync that reaches its
            # gate late (it waited for the venv lock) hears the answers given in time, as the
            # threads' finished requests are; once the answers flow, GRACE more lets them finish.
            left = max(0.0, self._deadline - time.monotonic())
            if not select.select([self._fd], [], [], left)[0]:
                return None, True
            if not chunks:
                self._deadline = max(self._deadline, time.monotonic() + GRACE)
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                return b"".join(chunks), False
            size += len(chunk)
            if size > _LIMIT:
                return None, False
            chunks.append(chunk)

    def close(self) -> None:
        """Stop the child if it still runs, and reap it; called however the sync ends."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._pid:
            pid, self._pid = self._pid, 0
            try:
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def launch(*, lock: Lock, sections: Sequence[str], options: Options, cache_dir: Path) -> ForkedCheck | None:
    """Fork the child that checks the index status of the lock's packages, or None where it may not."""
    if not forkable(options):
        return None
    from pipenv_sync_ext.store.status_fetch import budget

    deadline = time.monotonic() + budget() + GRACE
    try:
        read_end, write_end = os.pipe()
    except OSError:  # out of file descriptors: the threads check instead
        return None
    # SIGINT held across the fork: a Ctrl-C in the instant before the child ignores it would raise
    # KeyboardInterrupt in the child, which would then run the parent's way out ("interrupted", twice).
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
    except OSError:  # EAGAIN, ENOMEM: no child, the threads check instead
        os.close(read_end)
        os.close(write_end)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return None
    if pid == 0:  # the child: never returns
        _child(read_end, write_end, lock=lock, sections=sections, options=options, cache_dir=cache_dir, mask=held)
    signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a Ctrl-C held meanwhile is delivered here
    os.close(write_end)
    return ForkedCheck(pid, read_end, deadline)


def _die_with_parent(write_end: int) -> None:
    """End when the parent is gone without stopping this child (SIGTERM or SIGKILL to it alone, as
    ``subprocess.run(timeout=...)`` sends, or its ``os._exit`` on a Ctrl-C): the child holds the parent's
    stdout and stderr, whose reader would wait for it, up to the check's budget, and it would go on asking
    the index for no one. A pipe whose read end is closed polls as POLLERR on its write end; a thread
    waits for that (no ``prctl``: ctypes cost the child 4-10 ms)."""

    def watch() -> None:
        poll = select.poll()
        poll.register(write_end, 0)  # no event asked: only POLLERR (no reader left) wakes it
        poll.poll()
        os._exit(1)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _child(
    read_end: int,
    write_end: int,
    *,
    lock: Lock,
    sections: Sequence[str],
    options: Options,
    cache_dir: Path,
    mask: Iterable[int],
) -> None:
    code = 1
    try:
        os.close(read_end)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # SIGINT ignored now, no longer held
        _die_with_parent(write_end)
        lines: list[str] = []
        check = make_check(
            lock=lock, sections=sections, options=options, cache_dir=cache_dir, log=lines.append, forked=True
        )
        if check.all_stored():
            results = check.start().results()
            payload = {"lookups": [_encode(v) for v in results.values()], "log": lines}
        else:
            payload = {"declined": "a locked package is not in the store"}
        view = memoryview(json.dumps(payload).encode())
        while view:
            view = view[os.write(write_end, view) :]
        code = 0
    except BaseException:  # a child says nothing and leaves; its parent checks again
        code = 1
    finally:
        os._exit(code)


def _encode(lookup: Lookup) -> dict[str, Any]:
    return {
        "project": lookup.project,
        "answers": [{"status": a.status.to_json(), "origin": a.origin} for a in lookup.answers],
        "problems": list(lookup.problems),
        "late": lookup.late,
    }


def _decode(data: bytes) -> tuple[dict[str, Lookup], list[str]] | None:
    """The child's answers, or None when they are not what :func:`_child` writes (or it declined)."""
    from pipenv_sync_ext.store.status import ProjectStatus
    from pipenv_sync_ext.store.status_fetch import Answer, Lookup

    try:
        raw = json.loads(data)
        found: dict[str, Lookup] = {}
        for item in raw["lookups"]:
            answers = []
            for answer in item["answers"]:
                status = ProjectStatus.from_json(answer["status"])
                if status is None or not isinstance(answer["origin"], str):
                    return None
                answers.append(Answer(status, answer["origin"]))
            project, problems = item["project"], item["problems"]
            if not isinstance(project, str) or not all(isinstance(p, str) for p in problems):
                return None
            found[project] = Lookup(project, tuple(answers), tuple(problems), late=item["late"] is True)
        lines = [line for line in raw["log"] if isinstance(line, str)]
    except (ValueError, TypeError, KeyError):
        return None
    return found, lines
