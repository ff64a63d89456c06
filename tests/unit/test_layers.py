"""Unit: the import graph of the package follows the pipeline's layers and has no cycle.

Every ``import`` of a ``rehab`` module counts, inside functions too (a lazy import is still a
dependency); only imports under ``if TYPE_CHECKING:`` are left out (they exist for the type
checker alone). Layers, lowest first:

    base (errors, settings, model, exercises, codec, files) -> capture -> pose
    -> kinematics | calibration -> repetitions -> scoring -> analysis (and the file
    exports of one analysis) -> store (and the FHIR export of a history) -> reports
    -> front ends (the CLIs, live, batch, stream)

A package's ``cli`` module is in its package's layer (``rehab.store.cli`` is the store's:
it may not reach up into reports). A string naming a rehab module counts as importing it
(``rehab.cli`` registers its subcommands through importlib). A module may import its own
layer or lower ones, never a higher one, and the graph of modules has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "rehab"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("rehab._lazy", "rehab.errors", "rehab.fileio", "rehab.settings", "rehab.model",
              "rehab.exercises", "rehab.codec", "rehab.sequence", "rehab.synthetic",
              "rehab.argtypes", "rehab.limits", "rehab.terminal")),
    ("capture", ("rehab.capture",)),
    ("pose", ("rehab.pose",)),
    ("kinematics", ("rehab.kinematics", "rehab.calibration")),
    ("repetitions", ("rehab.reps",)),
    ("scoring", ("rehab.scoring",)),
    ("analysis", ("rehab.analysis", "rehab.counter", "rehab.pipeline", "rehab.overlay",
                  "rehab.validate", "rehab.info", "rehab.sample_data", "rehab.api",
                  "rehab.exports")),
    ("store", ("rehab.store", "rehab.exports.fhir")),
    ("reports", ("rehab.reports", "rehab.validate_report")),
    ("front ends", ("rehab.cli", "rehab.__main__", "rehab.live", "rehab.batch",
                    "rehab.stream")),
)


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    """Rank of a module's layer (the longest prefix in `LAYERS` that names it)."""
    best, rank = "", -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > len(best):
                best, rank = p, i
    if rank < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return rank


def _resolve(name: str) -> str | None:
    """The deepest existing module that ``name`` (a dotted import) refers to."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str) -> set[str]:
    """The rehab modules ``module`` imports (not under TYPE_CHECKING, not the package
    itself: ``from rehab import __version__`` depends on no stage)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value in MODULES:
            names = [node.value]  # a module named for importlib (rehab.cli's extensions)
        for n in names:
            target = _resolve(n) if n.startswith("rehab.") else None
            if target and target != "rehab" and target != module:
                found.add(target)
                found.update(_outside_packages(target, module))
    return found


def _outside_packages(target: str, module: str) -> set[str]:
    """The packages Python runs (their ``__init__``) to import ``target`` from ``module``:
    its parents, except the packages ``module`` itself is in (already running)."""
    parts = target.split(".")
    parents = {".".join(parts[:i]) for i in range(2, len(parts))}
    return {p for p in parents if p in MODULES and not (module + ".").startswith(p + ".")}


def graph() -> dict[str, set[str]]:
    return {m: imports_of(m) for m in MODULES if m != "rehab"}


def upward_imports(g: dict[str, set[str]]) -> list[str]:
    """Edges from a lower layer to a higher one."""
    out = []
    for a, targets in sorted(g.items()):
        for b in sorted(targets):
            if layer_of(a) < layer_of(b):
                out.append(f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} "
                           f"({LAYERS[layer_of(b)][0]})")
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer() -> None:
    for m in MODULES:
        if m != "rehab":
            layer_of(m)


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(graph()) == []


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(graph()) == []


def test_the_package_imports_its_api_lazily() -> None:
    """``import rehab`` loads no stage: the top-level names come from `__getattr__`."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(not (isinstance(n, ast.ImportFrom) and (n.module or "").startswith("rehab")
                    and n.module != "rehab._lazy") for n in top)


@pytest.mark.parametrize("edge", [
    ("rehab.reps.segment", "rehab.scoring"),      # repetitions <-> scoring
    ("rehab.store.store", "rehab.reports.data"),  # the store reaching up into reports
    ("rehab.live.cli", "rehab.cli"),              # the CLI and the live CLI
])
def test_the_checks_catch_the_cycles_this_layering_removed(edge: tuple[str, str]) -> None:
    g = graph()
    a, b = edge
    g[a] = g[a] | {b}
    if layer_of(a) < layer_of(b):
        assert upward_imports(g)
    g[b] = g[b] | {a}
    assert any(a in c and b in c for c in cycles(g))
