"""The layers of actbench/: every import (those inside functions and under TYPE_CHECKING
included) points down the allowed directions, no import cycle, and the house stays small.

docs/architecture.md draws the same table; change both together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "actbench"

# stage -> the stages it may import, or single modules of them ("results.keys": that module
# alone). A stage may always import itself, errors and _version (__version__); the package root
# imports only the Python API (api) and _version.
ALLOWED: dict[str, set[str]] = {
    "api": {"config", "run", "training", "results", "analysis"},  # the Python API: run, load, compare
    "cli": {"api", "config", "activations", "datasets", "training", "run", "results", "analysis", "display", "report"},
    "run": {"config", "activations", "datasets", "training", "results", "analysis"},
    "report": {"activations", "results", "analysis", "display"},
    "display": {"results", "analysis"},
    "analysis": {"results"},
    "training": {"activations", "datasets"},
    "config": {"activations", "datasets", "results.keys", "training.backends"},  # run keys; adapter names
    "results": {"datasets"},
    "activations": set(),
    "datasets": set(),
    "errors": set(),
    "_version": set(),
}
# Third-party imports a stage must never make: the result readers start fast and run where no
# deep-learning stack is installed; only report draws, only display prints.
DEEP_LEARNING = {"keras", "tensorflow", "jax", "jaxlib", "torch"}
FORBIDDEN_EXTERNAL: dict[str, set[str]] = {
    "api": {"matplotlib", "rich"},
    "analysis": DEEP_LEARNING | {"matplotlib", "rich"},
    "results": DEEP_LEARNING | {"matplotlib", "rich"},
    "display": DEEP_LEARNING | {"matplotlib"},
    "report": DEEP_LEARNING | {"rich"},
    "config": DEEP_LEARNING | {"matplotlib", "rich", "pandas"},
    "run": {"matplotlib", "rich"},
    "training": {"matplotlib", "rich"},
    "activations": {"matplotlib", "rich", "pandas"},
    "datasets": {"matplotlib", "rich", "pandas"},
}
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "_version.py", "api.py", "errors.py"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file, at any depth; `from X import Y` is X.Y
    where Y is a module of actbench, else X."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                yield node.lineno, sub if source.startswith("actbench") and is_module(sub) else source


def stage_of(module: str) -> str | None:
    """The stage of an actbench module ('actbench.results.io' -> 'results'); None for the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in sources():
        edges[module_name(path)] = {m for _, m in imports_of(path) if m.startswith("actbench.") or m == "actbench"}
    return edges


def allowed(stage: str, target: str) -> bool:
    """May a module of `stage` import the actbench module `target`?"""
    to = stage_of(target)
    if to is None or to in (stage, "errors", "_version"):
        return True
    inner = target.removeprefix("actbench.")
    return any(inner == a or ("." not in a and inner.startswith(a + ".")) for a in ALLOWED[stage])


def violations() -> list[str]:
    found = []
    for path in sources():
        stage = stage_of(module_name(path))
        rel = path.relative_to(ROOT)
        for line, target in imports_of(path):
            top = target.split(".")[0]
            if stage is None:  # actbench/__init__.py: it exposes the Python API, nothing else
                if top == "actbench" and target not in ("actbench.api", "actbench._version"):
                    found.append(f"{rel}:{line}: the package root imports {target}")
            elif top == "actbench":
                if not allowed(stage, target):
                    found.append(f"{rel}:{line}: {stage} imports {target} (allowed: {sorted(ALLOWED[stage])})")
            elif top in FORBIDDEN_EXTERNAL.get(stage, set()):
                found.append(f"{rel}:{line}: {stage} imports {target}, which it must never import")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in edges:
                continue
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
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_stage_is_in_the_table():
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    stages |= {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py" and p.name != "__main__.py"}
    assert stages == set(ALLOWED), "a stage is missing from ALLOWED (or ALLOWED names one that is gone)"


def test_imports_point_the_allowed_way():
    found = violations()
    assert not found, "imports against the layers:\n" + "\n".join(found)


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_stage_packages_and_a_few_modules_at_the_top():
    loose = {p.name for p in PACKAGE.glob("*.py")} - TOP_LEVEL_MODULES
    assert not loose, f"modules outside a stage package: {sorted(loose)}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name}: over {MAX_MODULE_LINES} lines: split it"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
