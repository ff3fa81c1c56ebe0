"""Typed, bounded access to a parsed pylock.toml table: every value is checked before it is used.

Self-contained on purpose (it can adopt the shared ``lock/schema.py`` loaders
later): each getter names the file, the package and the key in its one-line
:class:`LockError`, and says what the value should be. Bounds keep a hostile
or corrupt lock from costing more than a real one: strings up to
:data:`MAX_STRING` characters, lists up to :data:`MAX_ITEMS` items.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipenv_sync_ext.errors import LockError

MAX_STRING = 65_536  # a marker, URL or path longer than this is not a real lock's
MAX_ITEMS = 100_000  # packages, wheels or names in one list


class Table:
    """One TOML table (``where`` says which, for messages)."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise LockError(f"{where}: must be a table, not {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.where = where

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise LockError(f"{self.where}: {key} is missing")
            return None
        if not isinstance(value, str):
            raise LockError(f"{self.where}: {key} must be a string, not {_kind(value)}")
        if len(value) > MAX_STRING:
            raise LockError(f"{self.where}: {key} is longer than {MAX_STRING} characters")
        if "\x00" in value:
            raise LockError(f"{self.where}: {key} holds a NUL character")
        return value

    def boolean(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise LockError(f"{self.where}: {key} must be true or false, not {_kind(value)}")
        return value

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise LockError(f"{self.where}: {key} must be a non-negative integer, not {value!r:.40}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        items = self.items(key)
        for i, item in enumerate(items):
            if not isinstance(item, str) or len(item) > MAX_STRING:
                raise LockError(f"{self.where}: {key}[{i}] must be a string, not {_kind(item)}")
        return tuple(items)

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise LockError(f"{self.where}: {key} must be an array, not {_kind(value)}")
        if len(value) > MAX_ITEMS:
            raise LockError(f"{self.where}: {key} has more than {MAX_ITEMS} items")
        return value

    def table(self, key: str) -> Table | None:
        value = self.data.get(key)
        return None if value is None else Table(value, f"{self.where} {key}")

    def tables(self, key: str) -> list[Table]:
        return [Table(item, f"{self.where} {key}[{i}]") for i, item in enumerate(self.items(key))]


def _kind(value: Any) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}
    return names.get(type(value), type(value).__name__)
