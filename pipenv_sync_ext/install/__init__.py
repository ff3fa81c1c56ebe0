"""5. Execute: apply a plan to the venv (remove, install, journal, verify), crash-safely."""
