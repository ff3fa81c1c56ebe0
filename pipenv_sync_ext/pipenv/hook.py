"""The startup half of the ``pipenv sync`` integration: a finder that waits for pipenv's CLI.

pipenv has no plugin system, so the integration works the way
virtualenv's ``_virtualenv.pth`` does: the wheel ships
``pipenv_sync_ext_hook.pth`` at the root of site-packages, and its one line
imports this module and calls :func:`install` at every start of every
interpreter of that environment. Hence this module is as small as it can be:
it imports only ``sys`` (annotations are strings, no ``__future__``, no
``typing``), and the finder it installs does one string comparison per import
and nothing else. Measured with ``python -X importtime -c pass``: 0.6 to 0.9 ms,
within the noise of an interpreter start.

When ``pipenv.cli.command`` is imported (pipenv's CLI is starting), the finder
lets the normal import run, then hands the module to
:func:`pipenv_sync_ext.pipenv.integration.hook_pipenv_cli`, which holds all the
logic and is never imported by any other program.
"""

import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing at every startup costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

#: The module whose import means "pipenv's CLI is starting".
PIPENV_CLI_MODULE = "pipenv.cli.command"


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once); called by the ``.pth`` file."""
    if not any(getattr(finder, "_pipenv_sync_ext", False) for finder in sys.meta_path):
        sys.meta_path.insert(0, PipenvCliFinder())


class PipenvCliFinder:
    """A meta-path finder that finds nothing itself.

    For pipenv's CLI module it asks the finders behind it for the real spec and
    wraps its loader, so the hook runs right after the module's own code.
    Every other import costs one string comparison.
    """

    _pipenv_sync_ext = True

    def find_spec(
        self, fullname: "str", path: "Sequence[str] | None", target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if fullname != PIPENV_CLI_MODULE:
            return None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None) if finder is not self else None
            spec: ModuleSpec | None = find_spec(fullname, path, target) if find_spec is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    # A wrapper rather than a patched loader: a loader may be shared (zipimporter).
                    # Duck-typed, not an importlib.abc.Loader: that import would cost every startup.
                    spec.loader = _HookingLoader(spec.loader)  # type: ignore[assignment]
                return spec
        return None


class _HookingLoader:
    """Runs the real loader, then the integration on the loaded module."""

    def __init__(self, loader: "Any") -> None:
        self._loader = loader

    def create_module(self, spec: "ModuleSpec") -> "ModuleType | None":
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: "ModuleType") -> None:
        self._loader.exec_module(module)
        try:
            from pipenv_sync_ext.pipenv.integration import hook_pipenv_cli
        except Exception as exc:  # a broken install of this package must not break pipenv
            if {"-v", "--verbose"} & set(sys.argv[1:]):
                print(f"pipenv-sync-ext: not hooked into pipenv ({type(exc).__name__}: {exc})", file=sys.stderr)
            return
        hook_pipenv_cli(module)

    def __getattr__(self, name: "str") -> "Any":  # get_source, is_package, get_resource_reader...
        return getattr(self._loader, name)
