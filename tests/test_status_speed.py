"""The status check's cost (issue 17): one fetch per page per run (store/pagememo.py).

Its wall time is measured by ``bench/run.py`` (no timing here); the CLI tests that a cold
sync asks each page once are in test_status.py and test_status_limits.py.
"""

from __future__ import annotations

import pytest


def test_a_page_is_kept_only_for_the_reader_expected_and_given_once() -> None:
    """store/pagememo.py: what a status check keeps, a listing takes once; nothing else is held."""
    import http.client
    import threading
    import urllib.error

    from pipenv_sync_ext.store.http import Page
    from pipenv_sync_ext.store.pagememo import PageMemo

    fetched: list[str] = []

    def fetch(status: int = 200, body: bytes = b"page") -> Page:
        fetched.append("x")
        return Page("u", status, http.client.HTTPMessage(), body)

    memo = PageMemo(limit=10)
    memo.page("a", verify=True, fetch=fetch)  # not kept: nobody else is expected
    memo.page("a", verify=True, fetch=fetch)
    assert len(fetched) == 2
    first = memo.page("b", verify=True, fetch=fetch, keep=True)
    assert memo.page("b", verify=True, fetch=fetch) is first and len(fetched) == 3  # taken without a request
    memo.page("b", verify=True, fetch=fetch)  # and given once
    assert len(fetched) == 4
    memo.page("c", verify=True, fetch=lambda: fetch(body=b"x" * 11), keep=True)  # over the bound: not kept
    memo.page("c", verify=True, fetch=fetch)
    assert len(fetched) == 6

    def not_modified() -> Page:
        raise urllib.error.HTTPError("u", 304, "Not Modified", http.client.HTTPMessage(), None)

    with pytest.raises(urllib.error.HTTPError):
        memo.page("d", verify=True, fetch=not_modified, keep=True)
    memo.page("d", verify=True, fetch=fetch)  # a 304 leaves nothing: the listing fetches the page
    assert len(fetched) == 7

    # a reader asking while the page is in flight waits for that fetch and takes it
    started, release = threading.Event(), threading.Event()

    def slow() -> Page:
        started.set()
        release.wait(10)
        return fetch()

    got: list[Page] = []
    first_reader = threading.Thread(target=lambda: got.append(memo.page("e", verify=True, fetch=slow)))
    first_reader.start()
    started.wait(10)
    second = threading.Thread(target=lambda: got.append(memo.page("e", verify=True, fetch=fetch)))
    second.start()
    while not memo._waiting.get(("e", True)):  # the second reader is waiting (no timing: its own state)
        threading.Event().wait(0.01)
    release.set()
    first_reader.join(10)
    second.join(10)
    assert len(got) == 2 and got[0] is got[1] and len(fetched) == 8
