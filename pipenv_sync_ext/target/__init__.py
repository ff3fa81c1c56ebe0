"""2. The target: which project and venv, its interpreter, drift, venv creation, what is installed."""
