"""The layout is the design: stages import only downwards, never in a cycle; the fast path stays stdlib-only.

Every import counts, including those inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipenv_sync_ext"
ROOT = "pipenv_sync_ext"

#: The stages, bottom to top: a module may import its own layer (without a cycle) and the ones below.
LAYERS: list[tuple[str, ...]] = [
    (
        "pipenv_sync_ext",
        "pipenv_sync_ext.errors",
        "pipenv_sync_ext.fsutil",
        "pipenv_sync_ext.feedback",
        "pipenv_sync_ext.confine",
        "pipenv_sync_ext.redact",
    ),
    ("pipenv_sync_ext.fastpath",),
    ("pipenv_sync_ext.lock",),
    ("pipenv_sync_ext.target",),
    ("pipenv_sync_ext.plan",),
    ("pipenv_sync_ext.store",),
    ("pipenv_sync_ext.install",),
    ("pipenv_sync_ext.pipeline",),
    ("pipenv_sync_ext.cli", "pipenv_sync_ext.pipenv"),
    ("pipenv_sync_ext.main", "pipenv_sync_ext.__main__"),
]
MAX_LINES = 400


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every module of the package that ``name`` imports, anywhere in its body."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the submodule pkg.mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target.startswith(ROOT) and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imports_of(name, path, known)) for name, path in found.items()}


def layer_of(name: str) -> int:
    best = -1
    best_len = -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best >= 0, f"{name} is in no layer of test_architecture.LAYERS"
    return best


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    # a test that cannot fail is a defect: the detector must see a planted cycle
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_package_modules() -> None:
    assert cycles(graph()) == []


def test_stages_import_only_their_own_layer_and_below() -> None:
    wrong = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]
    assert wrong == []


def test_the_fast_path_imports_only_the_standard_library() -> None:
    allowed_own = {ROOT, f"{ROOT}.fsutil"}
    found = modules()
    bad = []
    for name, path in found.items():
        if not (name.startswith(f"{ROOT}.fastpath") or name in allowed_own):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for imported in names:
                top = imported.split(".")[0]
                own = imported.startswith(f"{ROOT}.fastpath") or imported in allowed_own
                if (top == ROOT and not own) or (top != ROOT and top not in sys.stdlib_module_names):
                    bad.append(f"{name} imports {imported}")
    assert bad == []


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def _public_functions() -> Iterator[tuple[str, ast.FunctionDef]]:
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                yield name, node


def test_functions_of_many_parameters_take_them_by_keyword() -> None:
    """Calls across stages read without opening the callee: with more than three parameters, all but the
    first two (the subject and what it acts on) are keyword-only."""
    loose = []
    for module, fn in _public_functions():
        positional = [a.arg for a in fn.args.posonlyargs + fn.args.args]
        total = len(positional) + len(fn.args.kwonlyargs)
        if total > 3 and len(positional) > 2:
            loose.append(f"{module}.{fn.name}({', '.join(positional)}, ...)")
    assert loose == []


@pytest.mark.parametrize("entry", ["pipenv_sync_ext.main:main"])
def test_the_console_script_names_an_existing_function(entry: str) -> None:
    text = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert f'pipenv-sync = "{entry}"' in text
    module, _, attr = entry.partition(":")
    path = modules()[module]
    assert any(isinstance(n, ast.FunctionDef) and n.name == attr for n in ast.parse(path.read_text()).body)
