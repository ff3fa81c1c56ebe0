"""The status check in a forked child (pipeline/statusfork.py): used when nothing is to be downloaded, same verdicts.

Every sync is the real CLI against the loopback index; ``-v`` says which way the check ran.
"""

from __future__ import annotations

from . import test_status
from .support import installed
from .test_status import World

world = test_status.world  # the fixture, with its JSON and HTML params

CHILD = "status check: asked from a child process"


def _page_requests(world: World) -> list[str]:
    return [r for r in world.index.requests if r.startswith("/simple/")]


def test_a_warm_store_is_checked_from_a_child_with_the_verdicts_of_the_threads(world: World) -> None:
    # cold: downloads share the pages with the check, so it runs in this process's threads
    code, out, _venv = world.sync("cold", "-v")
    assert code == 0, out
    assert CHILD not in out
    cold_pages = _page_requests(world)
    assert sorted(cold_pages) == sorted(set(cold_pages))  # one fetch per page

    world.index.yanked[world.wheels["alpha"].name] = "broken build"
    world.index.requests.clear()
    code, out, venv = world.sync("warm", "-v")
    assert code == 0, out
    assert CHILD in out
    assert "alpha==1.0 is yanked by" in out and "broken build" in out
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}
    assert sorted(_page_requests(world)) == sorted(set(cold_pages))  # every page asked once, by the child

    # the same sync with the child turned off: the same warning, from the threads
    code, threads_out, _venv = world.sync("threads", "-v", env={**world.env, "PIPENV_SYNC_STATUS_FORK": "0"})
    assert code == 0, threads_out
    assert CHILD not in threads_out and "alpha==1.0 is yanked by" in threads_out

    # and the child's refusal under --deploy changes nothing, as the threads' does
    code, out, venv = world.sync("deploy", "--deploy", "-v")
    assert code == 1, out
    assert CHILD in out and "refused under --deploy" in out and not venv.exists()


def test_the_child_is_not_used_offline_and_makes_no_request(world: World) -> None:
    code, out, _venv = world.sync("first")
    assert code == 0, out
    world.index.requests.clear()
    code, out, _venv = world.sync("offline", "--offline", "-v")
    assert code == 0, out
    assert CHILD not in out and world.index.requests == []


def test_a_child_past_its_deadline_leaves_the_cached_status_and_one_warning(world: World) -> None:
    world.index.yanked[world.wheels["alpha"].name] = "broken build"
    code, out, _venv = world.sync("first")
    assert code == 0, out
    assert "alpha==1.0 is yanked by" in out
    # the index stops answering in time: the child's deadline passes, the cached answer stands
    world.index.page_delay = 3.0
    env = {**world.env, "PIPENV_SYNC_STATUS_TIMEOUT": "0.5"}
    code, out, venv = world.sync("slow", "-v", env=env)
    assert code == 0, out
    assert CHILD in out and "did not answer the status check" in out
    assert "alpha==1.0 is yanked by" in out  # known from the cache
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}
