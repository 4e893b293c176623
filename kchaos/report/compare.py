"""Two runs side by side: ``kchaos report --compare A B``.

A and B are run folders or suite folders (two Kafka versions, two profiles, two
backends). The Markdown lists, per experiment both ran, the verdicts, every anomaly
count that is not zero in either, and every measurement both have, with the
differences marked: **≠** where a verdict or an anomaly count differs, **Δ** where a
measurement moved by more than ``TOLERANCE`` (run-to-run noise stays unmarked).
Pure: reads summary.json files, returns text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kchaos.errors import BadInput

TOLERANCE = 0.10


def load_runs(folder: Path) -> dict[str, dict[str, Any]]:
    """Experiment id -> its run's summary, from a run folder or a suite folder."""
    path = Path(folder) / "summary.json"
    try:
        data = json.loads(path.read_text())
    except OSError:
        raise BadInput(f"{folder}: no summary.json (give a run folder or a suite folder)") from None
    except json.JSONDecodeError as err:
        raise BadInput(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not data.get("suite"):
        return {data["experiment"]: data}
    runs = {}
    for e in data["experiments"]:
        if e.get("report"):
            runs[e["experiment"]] = json.loads((Path(folder) / e["report"]).with_name("summary.json").read_text())
    return runs


def _about(runs: dict[str, dict[str, Any]]) -> str:
    first = next(iter(runs.values()), {})
    profile = (first.get("profile") or {}).get("name")
    return f"Kafka {first.get('kafka_version')}, {first.get('backend')} backend" + (
        f", profile `{profile}`" if profile else ""
    )


def _moved(a: float, b: float) -> bool:
    scale = max(abs(a), abs(b))
    return scale > 0 and abs(a - b) / scale > TOLERANCE


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _flat(measurements: dict[str, Any]) -> dict[str, float]:
    """The numeric measurements, one level of nesting spelled with a dot (``produce_latency_ms.p50``)."""
    out: dict[str, float] = {}
    for name, value in measurements.items():
        inner = value.items() if isinstance(value, dict) else [("", value)]
        for key, v in inner:
            number = _number(v)
            if number is not None:
                out[f"{name}.{key}" if key else name] = number
    return out


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _variant_rows(va: dict[str, Any], vb: dict[str, Any]) -> tuple[list[str], int]:
    """Rows (what, A, B, mark) for one variant both runs have, and how many are marked."""
    rows = []
    pa = all(e["held"] for e in va["expectations"])
    pb = all(e["held"] for e in vb["expectations"])
    rows.append(("expectations", "held" if pa else "failed", "held" if pb else "failed", "**≠**" if pa != pb else ""))
    for kind in sorted(set(va["anomalies"]) | set(vb["anomalies"])):
        a, b = va["anomalies"].get(kind, 0), vb["anomalies"].get(kind, 0)
        if a or b:
            rows.append((f"anomaly {kind}", a, b, "**≠**" if a != b else ""))
    ma, mb = _flat(va["measurements"]), _flat(vb["measurements"])
    for name in sorted(set(ma) & set(mb)):
        rows.append((name, _fmt(ma[name]), _fmt(mb[name]), "**Δ**" if _moved(ma[name], mb[name]) else ""))
    marked = sum(1 for r in rows if r[3])
    return [f"| {w} | {a} | {b} | {m} |" for w, a, b, m in rows], marked


def compare(a_folder: Path, b_folder: Path) -> str:
    """The side-by-side Markdown of two run or suite folders."""
    a, b = load_runs(a_folder), load_runs(b_folder)
    md = [
        "# kchaos: two runs compared",
        "",
        f"- **A**: `{a_folder}` ({_about(a)})",
        f"- **B**: `{b_folder}` ({_about(b)})",
        "",
        f"**≠**: a verdict or an anomaly count differs. **Δ**: a measurement moved by more than {TOLERANCE:.0%}.",
        "",
        "| experiment | A | B | |",
        "|---|---|---|---|",
    ]
    both = [e for e in a if e in b]
    for exp in both:
        va, vb = a[exp]["verdict"], b[exp]["verdict"]
        md.append(f"| {exp} | {va} | {vb} | {'**≠**' if va != vb else ''} |")
    for exp in sorted(set(a) ^ set(b)):
        md.append(
            f"| {exp} | {a[exp]['verdict'] if exp in a else '–'} | {b[exp]['verdict'] if exp in b else '–'} | only one ran it |"
        )
    md.append("")
    for exp in both:
        md += _experiment(exp, a[exp], b[exp])
    return "\n".join(md)


def _experiment(exp: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    md = [f"## {exp}", ""]
    vb = {v["name"]: v for v in b["variants"]}
    for v in a["variants"]:
        if v["name"] not in vb:
            md += [f"Variant `{v['name']}` ran only in A.", ""]
            continue
        rows, marked = _variant_rows(v, vb[v["name"]])
        md += [f"### {v['name']} ({marked} marked)", "", "| | A | B | |", "|---|---|---|---|", *rows, ""]
    return md
