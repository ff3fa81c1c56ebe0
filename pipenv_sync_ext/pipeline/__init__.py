"""The stages wired together: a sync (stamp, or the full pipeline) and a fetch."""
