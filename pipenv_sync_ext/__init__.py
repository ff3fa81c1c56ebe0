"""pipenv-sync-ext: make a virtualenv match Pipfile.lock exactly, from a sha256-addressed store.

Pipeline, one module per stage, data flowing one way::

    lockfile  -> project/interpreter -> inventory -> plan -> store/artifacts/fetch -> execute -> report
    (Pipfile.lock) (which venv, what      (installed)  (pure)  (verified wheels)        (remove, install)
                    Python, its tags)
"""

__version__ = "0.1.0"
