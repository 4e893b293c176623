"""docs/anomalies.md keeps up with the checker's families: its generated tables (each
kind with its family and definition; what each kind needs) are the code's, and every
kind has a section, in the order the checker lists the kinds."""

from __future__ import annotations

import re
from pathlib import Path

from kchaos.checker.anomalies import CHECKS, FAMILIES, KINDS, NEEDS
from kchaos.checker.anomalies.docs import NEED_MEANINGS, kinds_table, needs_table

DOC = (Path(__file__).resolve().parents[2] / "docs" / "anomalies.md").read_text()
HINT = "regenerate with python -m kchaos.checker.anomalies.docs"


def _block(name: str) -> str:
    found = re.search(rf"<!-- {name}[^\n]*-->\n(.*?)\n<!-- /{name} -->", DOC, re.S)
    assert found is not None, f"docs/anomalies.md lacks the <!-- {name} --> block"
    return found.group(1)


def test_the_kinds_table_is_generated_from_the_families():
    assert _block("kinds") == kinds_table(), HINT


def test_the_needs_table_is_generated_from_the_families():
    assert _block("needs") == needs_table(), HINT
    assert set().union(*NEEDS.values()) <= set(NEED_MEANINGS), "a need without a meaning in the docs"


def test_every_kind_has_a_section_in_the_checkers_order():
    sections = re.findall(r"^### ([a-z-]+)$", DOC, re.M)
    assert [s for s in sections if s in CHECKS] == list(KINDS)


def test_each_kind_belongs_to_exactly_one_family():
    owned = [k for m in FAMILIES for k in m.CHECKS]
    assert sorted(owned) == sorted(KINDS) and len(owned) == len(set(owned))


def test_the_readme_counts_the_kinds_and_families():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    words = {4: "four"}
    assert f"{len(KINDS)} anomaly kinds in {words[len(FAMILIES)]} families" in readme
