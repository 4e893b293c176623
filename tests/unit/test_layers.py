"""The pipeline runs one way: cluster -> faults -> workload -> checker (and measurements)
-> experiment spec and results -> report -> runner -> public API and pytest plugin -> CLI. A module may import its own
layer and the layers below it, never a later one (the history format sits at the bottom:
every stage writes it). Imports inside functions count too; only ``if TYPE_CHECKING``
blocks are left out (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kchaos"
LAYERS = [
    (
        "format",
        (
            "kchaos.errors",
            "kchaos.features",
            "kchaos.paths",
            "kchaos.events",
            "kchaos.history",
            "kchaos.clients",
            "kchaos.procs",
            "kchaos.percentiles",
            "kchaos.toxiproxy",
            "kchaos.install",
            "kchaos.release",
            "kchaos.safety",
            "kchaos.yamlsafe",
        ),
    ),
    ("cluster", ("kchaos.cluster", "kchaos.disk")),
    ("faults", ("kchaos.faults",)),
    ("workload", ("kchaos.workload", "kchaos.patterns")),
    ("checker", ("kchaos.checker",)),
    (
        "spec",
        (
            "kchaos.claims",
            "kchaos.filechecks",
            "kchaos.spec",
            "kchaos.experiment",
            "kchaos.expectations",
            "kchaos.results",
            "kchaos.profile",
        ),
    ),
    ("report", ("kchaos.summaries", "kchaos.report", "kchaos.live", "kchaos.present")),
    ("runner", ("kchaos.runner", "kchaos.session", "kchaos.suite", "kchaos.demo")),
    ("api", ("kchaos.api", "kchaos.pytest_plugin")),
    ("cli", ("kchaos.cli", "kchaos.__main__")),
]


def layer_of(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kchaos"):
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("kchaos")]
    return out


def test_every_module_has_a_layer():
    unplaced = [module_name(p) for p in PACKAGE.rglob("*.py") if layer_of(module_name(p)) is None]
    assert unplaced in ([], ["kchaos"]), unplaced


def test_no_module_imports_a_later_stage():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = layer_of(module_name(path))
        if me is None:
            continue
        for line, target in imports(path):
            theirs = layer_of(target)
            if theirs is not None and theirs > me:
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} ({LAYERS[me][0]}) imports {target} ({LAYERS[theirs][0]})"
                )
    assert wrong == [], "\n".join(wrong)


def test_the_check_can_fail(tmp_path):
    """The rule above is not vacuous: a checker module importing the runner is caught."""
    fake = PACKAGE / "checker" / "anomalies.py"
    found = [t for _, t in imports(fake)]
    assert any(layer_of(t) == layer_of("kchaos.checker") for t in found)
    bad = tmp_path / "bad.py"
    bad.write_text("from kchaos.runner import Runner\n")
    assert [layer_of(t) for _, t in imports(bad)] == [layer_of("kchaos.runner")] * 2
