"""4. Artifacts: the content-addressed store, where verified artifacts come from, wheel builds."""
