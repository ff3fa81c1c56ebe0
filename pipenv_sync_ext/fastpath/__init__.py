"""The no-op fast path: answers "already in sync" from the sync stamp, importing only the standard library."""
