"""The pipeline runs one way: cluster -> faults and workload -> history -> checker ->
experiment spec -> report -> runner -> public API and pytest plugin -> CLI. Each layer
has an allow-list of the layers it may import (the history format sits at the bottom:
every stage writes it; the checker reads nothing but the history). Imports inside
functions count, and so do ``if TYPE_CHECKING`` imports: a type-only arrow is still an
arrow a reader follows. The README's code map is rendered from the same table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kchaos"
#: (layer, module prefixes, what it is, the layers it may import besides its own).
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
        "the history's events and file, errors, paths, installs, input safety, client settings",
        (),
    ),
    (
        "cluster",
        ("kchaos.cluster", "kchaos.disk"),
        "a KRaft cluster behind Toxiproxy (local or docker), inspected",
        ("format",),
    ),
    (
        "faults",
        ("kchaos.faults",),
        "the fault table, the target grammar, the nemesis, named steps",
        ("format", "cluster"),
    ),
    (
        "workload",
        ("kchaos.workload", "kchaos.patterns"),
        "recording clients: producers, groups, pipelines, pattern and Java clients",
        ("format", "cluster"),
    ),
    ("checker", ("kchaos.checker",), "pure functions of a history: anomalies, measurements, findings", ("format",)),
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
        "experiment files (model, resolve, validate, catalog), claims, results, profiles",
        ("format", "cluster", "faults", "workload", "checker"),
    ),
    (
        "report",
        ("kchaos.summaries", "kchaos.report", "kchaos.live", "kchaos.present"),
        "Markdown reports, plots, the suite page, the book, live and presenter views",
        ("format", "checker", "spec"),
    ),
    (
        "runner",
        (
            "kchaos.runner",
            "kchaos.roles",
            "kchaos.variant_topics",
            "kchaos.phases",
            "kchaos.completion",
            "kchaos.session",
            "kchaos.suite",
            "kchaos.demo",
        ),
        "one experiment run end to end: its topics, roles, phase clock and drain; sessions, the suite, the demo order",
        ("format", "cluster", "faults", "workload", "checker", "spec", "report"),
    ),
    (
        "api",
        ("kchaos.api", "kchaos.pytest_plugin"),
        "the public Python API and the pytest plugin",
        ("format", "cluster", "faults", "workload", "checker", "spec"),
    ),
    (
        "cli",
        ("kchaos.cli", "kchaos.__main__"),
        "the kchaos command",
        ("format", "cluster", "faults", "workload", "checker", "spec", "report", "runner", "api"),
    ),
]
NAMES = [layer[0] for layer in LAYERS]


def layer_of(module: str) -> int | None:
    for rank, (_, prefixes, _, _) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kchaos"):
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("kchaos")]
    return out


def test_every_module_has_a_layer():
    unplaced = [module_name(p) for p in PACKAGE.rglob("*.py") if layer_of(module_name(p)) is None]
    assert unplaced in ([], ["kchaos"]), unplaced


def test_no_module_imports_a_layer_outside_its_allow_list():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = layer_of(module_name(path))
        if me is None:
            continue
        for line, target in imports(path):
            theirs = layer_of(target)
            if theirs is not None and theirs != me and NAMES[theirs] not in LAYERS[me][3]:
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} ({NAMES[me]}) imports {target} ({NAMES[theirs]})"
                )
    assert wrong == [], "\n".join(wrong)


def test_the_check_can_fail(tmp_path):
    """The rule above is not vacuous: the checker may not import the workload (a lower
    layer by rank), and a type-only import counts."""
    checker = NAMES.index("checker")
    assert "workload" not in LAYERS[checker][3] and NAMES.index("workload") < checker
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kchaos.workload.consumer import X\n")
    assert {layer_of(t) for _, t in imports(bad)} == {NAMES.index("workload")}


def code_map() -> str:
    """The README's code map: each layer, its folders and modules, what it is, what it may import."""
    rows = ["| layer | modules | what | may import |", "|---|---|---|---|"]
    for name, prefixes, what, allowed in LAYERS:
        shown = ", ".join(f"`{_path(p)}`" for p in prefixes)
        rows.append(f"| {name} | {shown} | {what} | {', '.join(allowed) or '-'} |")
    return "\n".join(rows)


def _path(prefix: str) -> str:
    """``kchaos.checker`` -> ``kchaos/checker/``; ``kchaos.runner`` -> ``kchaos/runner.py``."""
    rel = Path(*prefix.split("."))
    return f"{rel}/" if (ROOT / rel).is_dir() else f"{rel}.py"


def test_the_readme_code_map_is_the_layer_table():
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- code map -->\n(.*?)\n<!-- /code map -->", readme, re.S)
    assert found is not None, "README.md lacks the <!-- code map --> block"
    assert found.group(1) == code_map(), "README code map is stale; it should read:\n" + code_map()


def test_every_package_folder_is_listed_for_the_wheel():
    """A new folder under kchaos/ must be in pyproject's package list, or the wheel
    leaves it out and the installed kchaos fails to import (the wheel test needs a
    cluster; this catches it without one)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert folders <= listed, f"add to pyproject.toml's packages: {sorted(folders - listed)}"
