"""pipenv-sync-ext: make a virtualenv match Pipfile.lock exactly, from a sha256-addressed store.

One folder per stage, data flowing one way (README.rst, "Architecture")::

    lock/      -> target/       -> plan.py -> store/            -> install/            -> cli/report
    (the lock)    (venv, Python,   (pure)     (verified wheels)    (remove, install,      (text, JSON)
                   what is                                          journal, verify)
                   installed)

``pipeline/`` wires the stages together; ``fastpath/`` answers a no-op from the
sync stamp with the standard library alone; ``cli/`` and ``pipenv/`` sit on top.
"""

__version__ = "0.1.0"
