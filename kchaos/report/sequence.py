"""A rebalance drawn as a Mermaid sequence diagram (GitHub renders it in the report).

The steps come from the checker (``rebalances.steps``): who told whom what, and when,
seconds after the trigger. Participants are declared in order of first appearance with
short aliases, since member names and ``coordinator`` are not all valid Mermaid ids.
"""

from __future__ import annotations

import re
from typing import Any

#: One diagram line: a participant declaration, a message, or a note.
LINE = re.compile(
    r"^\s*(sequenceDiagram|participant [A-Za-z][A-Za-z0-9]* as [^\n]+|"
    r"[A-Za-z][A-Za-z0-9]*->>[A-Za-z][A-Za-z0-9]*: [^\n]+|Note over [A-Za-z][A-Za-z0-9]*: [^\n]+)$"
)


def mermaid(steps: list[dict[str, Any]]) -> list[str]:
    """The diagram's lines, without the code fence; [] for no steps."""
    if not steps:
        return []
    alias: dict[str, str] = {}
    for s in steps:
        for who in (s["who"], s["to"]):
            alias.setdefault(who, f"P{len(alias)}")
    lines = ["sequenceDiagram"]
    lines += [f"    participant {a} as {_text(name)}" for name, a in alias.items()]
    for s in steps:
        label = f"+{s['t']:.2f} s {_text(s['what'])}"
        if s["who"] == s["to"]:
            lines.append(f"    Note over {alias[s['who']]}: {label}")
        else:
            lines.append(f"    {alias[s['who']]}->>{alias[s['to']]}: {label}")
    return lines


def _text(value: str) -> str:
    """Mermaid message text: no characters that end a message or start a comment."""
    return re.sub(r"[;#\n:]", " ", str(value)).strip()
