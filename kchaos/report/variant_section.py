"""A variant's section of a run's report: its settings, plots, fault timeline,
unavailability windows, what the disk showed, what the steps measured, the rebalances,
and examples of each anomaly found. Pure: reads a VariantResult, writes its plots."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from kchaos.report.sequence import mermaid
from kchaos.report.svg import fault_windows, line_chart
from kchaos.results import VariantResult


def variant_section(run_dir: Path, index: int, v: VariantResult) -> list[str]:
    """The Markdown lines of the variant's section; its plots are written to ``run_dir``."""
    md = [
        f"## {v.name}",
        "",
        f"Producer config `{json.dumps(v.config['producer'])}`, "
        f"topic config `{json.dumps(v.config['topic'])}`, "
        + (f"broker settings `{json.dumps(v.config['broker'])}`, " if v.config.get("broker") else "")
        + f"history [`{v.history.name}`]({v.history.name}).",
        "",
    ]
    md += _plots(run_dir, index, v) + [""]
    md += ["Timeline:", "", *_timeline(v), ""]
    md += _unavailability(v)
    md += _on_disk(v)
    md += _measured(v)
    md += _rebalances(v)
    if v.measurements.get("leader_epochs"):
        md += [f"Leader epochs seen in the drained records: {v.measurements['leader_epochs']}.", ""]
    if v.undrained:
        md += [f"Undrained partitions (loss cannot be proven there): {v.undrained}", ""]
    for kind, examples in v.examples.items():
        md += [
            f"Examples of **{kind}** ({v.anomalies[kind]}):",
            "",
            "```json",
            *[json.dumps(e, default=str) for e in examples],
            "```",
            "",
        ]
    return md


def _unavailability(v: VariantResult) -> list[str]:
    """Per fault, how long each partition took to ack a write sent after it."""
    unavail = v.timelines.get("unavailability", {}).get("after_faults", [])
    if not unavail:
        return []
    md = ["Unavailability (fault → first ack of a write sent after it, per partition):", ""]
    md += [
        f"- {w['fault']} {w['target']} at {w['t']:.2f} s: "
        + (", ".join(f"{p} {s:g} s" for p, s in sorted(w["per_partition_s"].items())) or "no ack after it")
        for w in unavail
    ]
    return md + [""]


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return str(value)


def _rebalances(v: VariantResult) -> list[str]:
    """Per rebalance trigger, what it cost the group; the first one as a sequence diagram."""
    per = v.measurements.get("rebalance") or {}
    if not per:
        return []
    names = {
        "detect_s": "detect (s)",
        "others": "others' callbacks",
        "revoked": "revoked",
        "pause_max_s": "longest pause (s)",
        "stop_the_world_s": "group idle (s)",
        "duration_s": "rebalance (s)",
        "redelivered": "re-delivered",
    }
    md = ["Rebalances per trigger:", "", "| trigger | " + " | ".join(names.values()) + " |"]
    md.append("|---|" + "---|" * len(names))
    md += [f"| {t} | " + " | ".join(fmt(m.get(k)) for k in names) + " |" for t, m in per.items()]
    diagram = mermaid(v.timelines.get("rebalance_steps", []))
    if diagram:
        md += ["", "The first rebalance, step by step (seconds after the trigger):", "", "```mermaid", *diagram, "```"]
    return md + [""]


def _plots(run_dir: Path, index: int, v: VariantResult) -> list[str]:
    end = max([p["t"] for p in v.timelines.get("throughput", [])] + [1.0])
    windows = fault_windows(v.faults, end)
    tp = v.timelines.get("throughput", [])
    lat = v.timelines.get("latency", [])
    leaders = v.timelines.get("leaders", [])
    files = {
        f"throughput-{index}.svg": line_chart(
            f"{v.name}: acks per second",
            {
                "ok": [(p["t"], p["ok"]) for p in tp],
                "unknown": [(p["t"], p["unknown"]) for p in tp],
                "fail": [(p["t"], p["fail"]) for p in tp],
            },
            "records/s",
            windows,
            x_max=end,
        ),
        f"latency-{index}.svg": line_chart(
            f"{v.name}: produce latency",
            {"p50 ms": [(p["t"], p["p50_ms"]) for p in lat], "max ms": [(p["t"], p["max_ms"]) for p in lat]},
            "ms",
            windows,
            x_max=end,
        ),
        f"leaders-{index}.svg": line_chart(
            f"{v.name}: leader and ISR size of the watched partition",
            {
                "leader id": [(p["t"], p["leader"]) for p in leaders],
                "ISR size": [(p["t"], len(p["isr"])) for p in leaders],
            },
            "broker / replicas",
            windows,
            step=True,
            x_max=end,
        ),
    }
    lag = v.timelines.get("lag", [])
    if lag:
        files[f"lag-{index}.svg"] = line_chart(
            f"{v.name}: consumer lag per partition", _lag_series(lag), "records", windows, step=True, x_max=end
        )
    for name, svg in files.items():
        (run_dir / name).write_text(svg)
    return [f"![{name}]({name})" for name in files]


def _lag_series(samples: list[dict[str, Any]], most: int = 8) -> dict[str, list[tuple[float, float]]]:
    """One series per (group, topic, partition), the ``most`` with the largest lag first;
    a group that reads several topics (a pattern's retry topics) names the topic too."""
    topics: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        topics[s.get("name", s["group"])].add(s["topic"])
    series: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        name = s.get("name", s["group"])
        where = f" {_short(s['topic'])}" if len(topics[name]) > 1 else ""
        series.setdefault(f"{name}{where} p{s['partition']}", []).append((s["t"], max(s["lag"], 0)))
    ranked = sorted(series, key=lambda k: -max(v for _, v in series[k]))
    return {k: series[k] for k in sorted(ranked[:most])}


def _short(topic: str) -> str:
    """A run's topic name as the experiment file writes it (``EXP.NAME.vN.TAG`` -> NAME)."""
    found = re.fullmatch(r"(?:dlq\.)?[^.]+\.(.+)\.v\d+\.[0-9a-f]{6}", topic)
    return found.group(1) if found else topic


def _on_disk(v: VariantResult) -> list[str]:
    """Each ``inspect-log`` look: the partition's files, and the decoded oldest segment."""
    md: list[str] = []
    for look in v.timelines.get("disk", []):
        md += [
            f"On disk, **{look['label']}** (node {look['node']}, `{look['folder']}`, at {look['t']:.1f} s):",
            "",
            "| file | bytes |",
            "|---|---|",
            *[f"| `{f['name']}` | {f['size']} |" for f in look["files"]],
            "",
        ]
        for name, d in look.get("decoded", {}).items():
            counts = ", ".join(f"{k} {d[k]}" for k in ("batches", "records", "entries") if k in d)
            md += [f"`{name}` decoded ({counts}):", "", "```", *d.get("excerpt", []), "```", ""]
    return md


def _measured(v: VariantResult) -> list[str]:
    """What steps measured themselves, with the error or setting behind each number, and
    the first records that break "processed once or dead-lettered"."""
    md: list[str] = []
    rows = v.timelines.get("measured", [])
    if rows:
        md += ["Measured by the steps:", "", "| measurement | value | what it came with |", "|---|---|---|"]
        md += [f"| `{r['name']}` | {fmt(r['value'])} {r['unit']} | {r.get('detail') or ''} |" for r in rows]
        md += [""]
    for kind, roots in v.timelines.get("pattern_violations", {}).items():
        md += [f"Inputs that are **{kind}** (first {len(roots)}): {', '.join(f'`{r}`' for r in roots)}", ""]
    return md


def _timeline(v: VariantResult) -> list[str]:
    events = sorted(
        [(p["t"], f"phase **{p['name']}**") for p in v.phases]
        + [(f["t"], f"fault {f['name']} {f['target']} {f['phase']}") for f in v.faults]
        + [(p["t"], f"leader {p['leader']}, ISR {p['isr']}") for p in v.timelines.get("leaders", [])]
    )
    return [f"- {t:7.2f} s — {what}" for t, what in events]
