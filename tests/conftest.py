from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import Index


@pytest.fixture
def index() -> Iterator[Index]:
    server = Index().start()
    yield server
    server.stop()
