"""``pipenv sync --prune``, ``--offline``, ...: this engine inside the real ``pipenv`` command.

Imported only when pipenv's CLI module loads (see :mod:`pipenv_sync_ext.pipenv.hook`).
pipenv's CLI is one argparse parser made by ``build_parser()`` (defined in
``pipenv/cli/options.py``, imported by name into ``pipenv/cli/command.py``),
and ``cli()`` sends each subcommand to a handler through the ``_DISPATCH``
table of ``pipenv/cli/command.py``. :func:`hook_pipenv_cli` wraps both:
``build_parser`` (so ``pipenv sync`` gets every option of
:func:`pipenv_sync_ext.cli.add_sync_arguments` except those pipenv already
has) and ``_DISPATCH["sync"]`` (so ``pipenv sync`` with any of them runs this
engine; without them, pipenv's own handler runs, untouched).

The options are read from ``add_sync_arguments`` every time: an option added
there appears in ``pipenv sync`` with nothing to change here. Their ``dest`` is
renamed under :data:`PREFIX` and their default is ``SUPPRESS``, so that (1) an
attribute is in pipenv's namespace only when the user typed the option, which
is exactly how "was an extension option given?" is answered; (2) pipenv's
``apply_env_vars``, which fills every ``None`` attribute from ``PIPENV_<DEST>``,
cannot inject ``PIPENV_CACHE_DIR`` (pipenv's own cache) as our ``--cache-dir``;
(3) no name of ours clobbers one of pipenv's (its root parser has a ``--venv``
flag with the dest of our ``--venv DIR``).

If pipenv's internals moved (no ``_DISPATCH``, no ``sync`` subparser, selection
options under other names), nothing is changed and one line says so on
stderr, only under ``--verbose`` / ``PIPENV_VERBOSE``; ``pipenv-sync`` itself
does not depend on any of this.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from pipenv_sync_ext.cli.arguments import add_sync_arguments
from pipenv_sync_ext.errors import EXIT_USAGE, SyncError

#: Where the extension's options live in pipenv's parsed namespace.
PREFIX = "pipenv_sync_ext:"
#: pipenv's own ``sync`` options the engine reads, with the dest they must have.
#: If one has moved, the extension's options are not added at all: a sync that
#: silently ignored ``--dev`` would install the wrong sections.
SELECTION = {
    "--dev": "dev",
    "--categories": "categories",
    "--all": "all_categories",
    "--python": "python",
    "--system": "system",
}
#: pipenv ``sync`` flags this engine cannot honour, with the reason; refused when true. (``--pre``,
#: ``--resolver`` and ``--extras`` are ignored, as pipenv's own sync ignores them.)
REFUSED = {
    "clean": "--clean is pipenv's own removal (--prune is this one's)",
    "site_packages": "--site-packages (PIPENV_SITE_PACKAGES): pipenv-sync-ext makes isolated virtualenvs",
    "clear": "--clear (PIPENV_CLEAR) clears pipenv's caches, not pipenv-sync-ext's store",
}
#: pipenv ``sync`` options with a value this engine cannot honour: refused whatever the value.
REFUSED_VALUES = {
    "extra_pip_args": "--extra-pip-args (PIPENV_EXTRA_PIP_ARGS): pipenv-sync-ext installs wheels without pip, "
    "so there is no pip to pass them to",
}
#: Options of ``add_sync_arguments`` that stay pipenv's even where pipenv's ``sync`` lacks the flag
#: (older pipenv has ``--pypi-mirror`` on the root parser only): never a reason to run the engine.
PIPENV_OWNED = {"pypi_mirror": "pypi_mirror"}
GROUP_TITLE = "pipenv-sync-ext options"
GROUP_DESCRIPTION = (
    "Any of these makes `pipenv sync` run pipenv-sync-ext: the virtualenv is made to match "
    "Pipfile.lock exactly, from a sha256-addressed store. --dev, --categories, --all, --python, "
    "--system, --pypi-mirror, --verbose and --quiet keep their meaning. See `pipenv-sync --help`."
)
_TRUE = ("1", "true", "yes", "on", "y")
_PIPENV_TRUE, _PIPENV_FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")  # pipenv's env_to_bool


def hook_pipenv_cli(module: ModuleType) -> None:
    """Wrap ``build_parser`` and ``_DISPATCH["sync"]`` of pipenv's CLI module.

    Never raises: whatever goes wrong, pipenv runs as if the extension were absent.
    """
    hook = Hook()
    try:
        build_parser = getattr(module, "build_parser", None)
        dispatch = getattr(module, "_DISPATCH", None)
        if not callable(build_parser):
            raise Moved(f"{module.__name__}.build_parser is missing")
        if not isinstance(dispatch, dict) or not callable(dispatch.get("sync")):
            raise Moved(f"{module.__name__}._DISPATCH['sync'] is missing")
        setattr(module, "build_parser", hook.wrap_build_parser(build_parser))  # noqa: B010 - a foreign module
        dispatch["sync"] = hook.wrap_sync(dispatch["sync"])
    except Exception as exc:
        hook.report_moved(exc)


class Moved(Exception):
    """pipenv's CLI is not shaped as in the pipenv versions this hook is tested with."""


class UsageError(Exception):
    """pipenv options that cannot be combined with the extension's: exit code 2."""


class Hook:
    """State shared by the two wrappers of one pipenv CLI."""

    def __init__(self) -> None:
        self.active = False  # the extension's options are on the sync parser
        self.owned: dict[str, str] = {}  # our dest -> dest of pipenv's option with the same flag
        self.reported = False

    def report_moved(self, exc: BaseException) -> None:
        """One line, once, and only when the user asked pipenv to be verbose."""
        if self.reported or not verbose_requested():
            return
        self.reported = True
        version = getattr(sys.modules.get("pipenv.__version__"), "__version__", "?")
        detail = str(exc) if isinstance(exc, Moved) else f"{type(exc).__name__}: {exc}"
        print(
            f"pipenv-sync-ext: not hooked into pipenv {version} ({detail}); "
            "`pipenv sync` runs unchanged, use `pipenv-sync` for --prune/--offline",
            file=sys.stderr,
        )

    def wrap_build_parser(self, build_parser: Callable[..., Any]) -> Callable[..., Any]:
        def build_parser_with_sync_ext(*args: Any, **kwargs: Any) -> Any:
            parser = build_parser(*args, **kwargs)
            try:
                self.extend(parser)
            except Exception as exc:
                self.report_moved(exc)
            return parser

        return build_parser_with_sync_ext

    def extend(self, parser: argparse.ArgumentParser) -> None:
        """Add the extension's options to the ``sync`` subparser, skipping flags pipenv has.

        An option whose long flag pipenv's ``sync`` already has (``--verbose``,
        ``--quiet``; ``--deploy`` if a later pipenv adds it) stays pipenv's: its
        value is read from pipenv's dest. A clashing short alias alone is
        dropped and the long flag kept. Nothing is added unless every check
        passes, so a half-hooked parser cannot happen.
        """
        sync = None
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                sync = action.choices.get("sync")
        if not isinstance(sync, argparse.ArgumentParser):
            raise Moved("no `sync` subparser in pipenv's build_parser()")
        taken = sync._option_string_actions
        for flag, dest in SELECTION.items():
            if flag not in taken or taken[flag].dest != dest:
                raise Moved(f"`pipenv sync {flag}` is not stored as {dest!r}")

        ours = argparse.ArgumentParser(add_help=False)
        add_sync_arguments(ours, pipenv_owns_selection=True)
        adding: list[argparse.Action] = []
        owned: dict[str, str] = {}
        for action in ours._actions:
            if not action.option_strings or action.dest == argparse.SUPPRESS:
                continue  # a positional, or help/version: pipenv sync has its own -h
            if action.dest in PIPENV_OWNED:
                owned[action.dest] = PIPENV_OWNED[action.dest]
                continue
            owner = next((taken[f] for f in action.option_strings if f.startswith("--") and f in taken), None)
            flags = [f for f in action.option_strings if f not in taken]
            if owner is not None or not flags:
                owned[action.dest] = (owner or taken[action.option_strings[0]]).dest
                continue
            if action.metavar is None and action.nargs != 0 and action.choices is None:
                action.metavar = action.dest.upper()  # what argparse showed before the rename
            action.option_strings = flags
            action.dest = PREFIX + action.dest
            action.default = argparse.SUPPRESS
            action.required = False
            if action.help:
                action.help = escape_markup(action.help)
            adding.append(action)

        group = sync.add_argument_group(GROUP_TITLE, escape_markup(GROUP_DESCRIPTION))
        exclusive: dict[int, Any] = {}
        for mutex in ours._mutually_exclusive_groups:
            copy = group.add_mutually_exclusive_group(required=False)
            exclusive.update((id(member), copy) for member in mutex._group_actions)
        for action in adding:
            exclusive.get(id(action), group)._add_action(action)
        prefer_pipenv_abbreviations(sync, adding)
        self.owned = owned
        self.active = True

    def wrap_sync(self, cmd_sync: Callable[..., Any]) -> Callable[..., Any]:
        # Any signature: pipenv's handlers take (args, state) today, and a changed
        # signature must reach pipenv's handler as it was given.
        def cmd_sync_with_sync_ext(args: argparse.Namespace, *rest: Any, **kwargs: Any) -> Any:
            given = {k[len(PREFIX) :]: v for k, v in vars(args).items() if k.startswith(PREFIX)}
            if not (self.active and given):
                return cmd_sync(args, *rest, **kwargs)
            code = run_engine(args, given, self.owned)
            if code:
                sys.exit(code)
            return None

        return cmd_sync_with_sync_ext


def prefer_pipenv_abbreviations(parser: argparse.ArgumentParser, added: list[argparse.Action]) -> None:
    """An abbreviation that matches one of pipenv's own options means pipenv's options only.

    Plain pipenv takes ``sync --de`` for ``--dev`` and ``--pr`` for ``--pre``;
    with ``--deploy`` and ``--prune`` added they would become ambiguous. So when a
    prefix matches any option pipenv defined, the extension's are not
    candidates: every prefix plain pipenv accepts (or rejects as ambiguous)
    means the same with the extension, and the extension's options are reached
    by prefixes no pipenv option has (``--pru``, ``--of``), or in full.
    argparse's ``_get_option_tuples`` is the one place prefixes are matched
    (Python 3.10 to 3.14); it is wrapped on this parser instance only.
    """
    ours = {id(action) for action in added}
    original = parser._get_option_tuples

    def _get_option_tuples(option_string: str) -> Any:
        found = original(option_string)
        theirs = [t for t in found if id(t[0]) not in ours]
        return theirs if theirs else found

    parser._get_option_tuples = _get_option_tuples  # type: ignore[method-assign]


def run_engine(args: argparse.Namespace, given: dict[str, Any], owned: dict[str, str]) -> int:
    """Run :func:`pipenv_sync_ext.cli.run` with pipenv's parsed selection; returns the exit code."""
    from pipenv_sync_ext.cli.app import run

    try:
        engine_args = engine_namespace(args, given, owned)
    except UsageError as exc:
        print(f"pipenv-sync: error: {exc}", file=sys.stderr)  # one prefix for every error of the engine
        return EXIT_USAGE
    except SyncError as exc:  # --system --python X: no such interpreter
        from pipenv_sync_ext.cli.errortext import error_lines

        # the engine's shape too: headline, details, hint
        for line in error_lines(str(exc), hint=exc.hint, details=exc.details, verbose=verbosity(args) >= 1):
            print(line, file=sys.stderr)
        return exc.exit_code
    say_lock(engine_args)
    return run(engine_args)


def say_lock(ns: argparse.Namespace) -> None:
    """One line naming the lock the engine installs (and prunes) from.

    A ``use_pylock`` project has Pipfile.lock and pylock.toml side by side,
    and pipenv's own ``clean`` reads the one its install does not; the engine
    reads one file for both, and this says which.
    """
    from pipenv_sync_ext.target.project import find_project

    if ns.quiet:
        return
    try:
        lockfile = find_project(ns.project, lockfile=ns.lockfile).lockfile
    except SyncError:
        return  # the engine reports it, with its exit code
    verb = "installing and pruning against" if ns.prune else "installing from"
    print(f"pipenv-sync-ext: {verb} {lockfile}", file=sys.stderr)


def engine_namespace(args: argparse.Namespace, given: dict[str, Any], owned: dict[str, str]) -> argparse.Namespace:
    """The namespace ``pipenv-sync`` would have parsed, from pipenv's.

    Defaults come from :func:`add_sync_arguments` itself (so options added
    later get theirs), then the extension options the user gave, then the
    options pipenv owns (``--verbose``/``--quiet``, and pipenv's selection,
    after pipenv has applied its ``PIPENV_*`` variables to them).
    """
    for dest, reason in REFUSED.items():
        if flag(getattr(args, dest, None)):
            raise UsageError(f"{reason}; it cannot be combined with pipenv-sync-ext's options")
    for dest, reason in REFUSED_VALUES.items():
        if getattr(args, dest, None) is not None:
            raise UsageError(f"{reason}; it cannot be combined with pipenv-sync-ext's options (unset it)")
    parser = argparse.ArgumentParser(add_help=False)
    add_sync_arguments(parser)  # the full option set: the selection's defaults too
    ns = parser.parse_args([])
    for dest, value in given.items():
        setattr(ns, dest, value)
    if ns.seed is None:  # a venv made through pipenv has pip, as pipenv's own do (`pipenv run pip`); --no-seed not
        ns.seed = True
    for dest, pipenv_dest in owned.items():
        value = getattr(args, pipenv_dest, None)
        if value is not None:
            setattr(ns, dest, value)
    ns.dev = flag(getattr(args, "dev", None))
    ns.categories = getattr(args, "categories", None) or None
    ns.all_sections = flag(getattr(args, "all_categories", None))
    ns.python = getattr(args, "python", None) or None
    level = verbosity(args)
    ns.verbose, ns.quiet = level >= 1, level <= -1 or flag(getattr(args, "bare", None))
    ns.pypi_mirror = getattr(args, "pypi_mirror", None) or None  # pipenv applied PIPENV_PYPI_MIRROR already
    if flag(getattr(args, "system", None)):
        if given.get("venv") is not None:
            raise UsageError("--system and --venv name two different targets; give one")
        ns.venv = system_prefix(ns.python)
        ns.python = None
    return ns


def system_prefix(python: str | None) -> Path:
    """``--system``: the prefix of the interpreter pipenv would install into.

    Like pipenv: ``--python`` (a path or a version) when given, else ``python3``
    or ``python`` on PATH. The engine only changes virtualenvs, so a global
    interpreter is refused there, with the engine's own message.
    """
    import shutil
    import subprocess

    from pipenv_sync_ext.target.discovery import find_python

    interpreter = find_python(python, {}) if python else shutil.which("python3") or shutil.which("python")
    if not interpreter:
        raise UsageError("--system: no python3 or python on PATH")
    proc = subprocess.run(
        [interpreter, "-I", "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise UsageError(f"--system: could not ask {interpreter} for its prefix")
    return Path(proc.stdout.strip())


def flag(value: object) -> bool:
    """A pipenv namespace value as a boolean: ``apply_env_vars`` leaves some as raw strings."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def verbosity(args: argparse.Namespace) -> int:
    """pipenv's verbosity level (``environments.py``): ``PIPENV_VERBOSITY`` (an integer, or a boolean
    word), else ``PIPENV_VERBOSE``/``PIPENV_QUIET``; then ``--verbose``/``--quiet`` (which pipenv has
    already filled from those two variables, and refused together) override it."""
    if flag(getattr(args, "verbose", None)):
        return 1
    if flag(getattr(args, "quiet", None)):
        return -1
    raw = os.environ.get("PIPENV_VERBOSITY")
    if raw is not None:
        word = raw.strip().lower()
        if word in _PIPENV_TRUE or word in _PIPENV_FALSE:
            return int(word in _PIPENV_TRUE)
        try:
            return int(word)
        except ValueError:
            pass
    if flag(os.environ.get("PIPENV_VERBOSE")):
        return 1
    return -1 if flag(os.environ.get("PIPENV_QUIET")) else 0


def verbose_requested() -> bool:
    """``--verbose``/``-v`` anywhere in the command line, or pipenv's verbosity variables."""
    if any(a in ("--verbose", "-v") for a in sys.argv[1:]) or flag(os.environ.get("PIPENV_VERBOSE")):
        return True
    try:
        return int(os.environ.get("PIPENV_VERBOSITY", "0")) > 0
    except ValueError:
        return False


def escape_markup(text: str) -> str:
    """pipenv prints help through rich markup, which silently eats ``[default: x]``-like text.

    The rule of ``rich.markup.escape``: a backslash before brackets that look like a tag.
    """
    return re.sub(r"(\\*)(\[[a-z#/@][^[]*?])", r"\1\1\\\2", text)
