"""Writing a run's report: the question, the answer from measured numbers, the setup,
the fault timeline, a variants table, the verdict, anomaly examples, and how to
reproduce. Pure: takes a RunResult, writes files; knows nothing of Kafka.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kchaos import claims
from kchaos.checker.anomalies import KINDS
from kchaos.checker.measurements import measure
from kchaos.expectations import lookup
from kchaos.report.sequence import mermaid
from kchaos.report.svg import bar_chart, fault_windows, line_chart
from kchaos.results import RunResult, VariantResult


def summary(run: RunResult) -> dict[str, Any]:
    """The stable ``summary.json`` object (shape in ``docs/outputs.md``)."""
    return {
        "experiment": run.experiment.id,
        "verdict": run.verdict,
        "interrupted": run.interrupted,
        "error": run.error,
        "kafka_version": run.kafka_version,
        "backend": run.backend,
        "mode": run.mode,
        "seed": run.seed,
        "started_utc": run.started_utc,
        "command": run.command,
        "profile": run.profile,
        "claims": run.claims,
        "skipped_variants": run.skipped,
        "variants": [
            {
                "name": v.name,
                "id": v.id,
                "config": v.config,
                "topic": v.topic,
                "history": v.history.name,
                "anomalies": v.anomalies,
                "undrained": v.undrained,
                "info": v.info,
                "findings": v.findings,
                "measurements": v.measurements,
                "expectations": v.expectations,
                "unavailability": v.timelines.get("unavailability", {}),
            }
            for v in run.variants
        ],
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return str(value)


def answer(run: RunResult) -> str:
    """The answer is the experiment's claims as this run judged them: the sentences that
    held, with their numbers, in order; then each that did not hold, as what was
    expected against what was measured; then the checker's diagnoses; then background,
    marked as such. Without claims, one measured sentence per variant."""
    held = [c for c in run.claims if c["held"] is True]
    failed = [c for c in run.claims if c["held"] is False]
    skipped = [c for c in run.claims if c["held"] is None]
    parts = [f"- {c['text'] or _condition(c)} <sub>({_condition(c)})</sub>" for c in held]
    parts += [
        f"- ❌ **Did not hold in this run.** Expected: {c['text'] or c['holds']} (`{c['holds']}`); "
        f"measured {_values(c)}."
        for c in failed
    ]
    if skipped:
        parts.append(
            "- Not judged in this run: " + "; ".join(f"`{c['holds']}` ({c['skipped']})" for c in skipped) + "."
        )
    if not run.claims:
        parts += [f"- {_variant_sentence(v)}" for v in run.variants]
    parts += [f"- Not run on this cluster: {v['name']} ({v['why']})." for v in run.skipped]
    if run.skipped and run.claims and not held and not failed:
        parts.append("- No contrast is left: every claim names a variant this cluster cannot run.")
    diagnoses = [f"{v.name}: {f['text']}" for v in run.variants for f in v.findings[:3]]
    if diagnoses:
        parts += ["", "The checker's diagnosis: " + " ".join(diagnoses)]
    if run.experiment.background.strip():
        parts += [
            "",
            f"_Background (how the mechanism works; not measured by this run):_ {run.experiment.background.strip()}",
        ]
    return "\n".join(parts)


def _condition(c: dict[str, Any]) -> str:
    return f"`{c['holds']}`: {_values(c)}"


def _values(c: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {claims.fmt(v)}" for k, v in c.get("values", {}).items()) or "nothing"


def _variant_sentence(v: VariantResult) -> str:
    m, a = v.measurements, v.anomalies
    found = [f"{a[k]} {k}" for k in KINDS if a.get(k)]
    return (
        f"With **{v.name}**, {m.get('sends_ok', 0)} writes were acknowledged and the checker found "
        f"{', '.join(found) if found else 'no anomaly of any kind'}; writes stalled for "
        f"{_fmt(m.get('unavailability_s'))} s after the fault."
    )


def _variant_table(run: RunResult) -> list[str]:
    names = [v.name for v in run.variants]
    rows = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for k in KINDS:
        rows.append(
            f"| {k} | "
            + " | ".join(f"**{v.anomalies.get(k, 0)}**" if v.anomalies.get(k) else "0" for v in run.variants)
            + " |"
        )
    keys = [
        "sends_ok",
        "sends_unknown",
        "sends_failed",
        "throughput_per_s",
        "unavailability_s",
        "longest_ack_gap_s",
        "leader_changes",
        "leader_epoch_changes",
        "isr_min",
        "isr_shrinks",
        "failed_not_enough_replicas",
        "undrained",
    ]
    conditions = [e["what"] for v in run.variants for e in v.expectations] + [c.holds for c in run.experiment.claims]
    asked = [
        *run.experiment.cite,
        *(r.name for text in conditions for r in claims.parse(text).refs() if not r.is_setting),
    ]
    keys += [k for k in dict.fromkeys(asked) if k not in keys and k not in KINDS and measure(k) is not None]
    for k in keys:
        rows.append(f"| {k} | " + " | ".join(_fmt(lookup(k, v.anomalies, v.measurements)) for v in run.variants) + " |")
    for p in ("p50", "p99", "max"):
        rows.append(
            f"| produce latency {p} (ms) | "
            + " | ".join(_fmt(v.measurements.get("produce_latency_ms", {}).get(p)) for v in run.variants)
            + " |"
        )
    rows.append(
        "| expectations | "
        + " | ".join(
            "<br>".join(("✅ " if e["held"] else "❌ ") + e["what"] + f" ({_fmt(e['value'])})" for e in v.expectations)
            or "–"
            for v in run.variants
        )
        + " |"
    )
    return rows


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
    md += [f"| {t} | " + " | ".join(_fmt(m.get(k)) for k in names) + " |" for t, m in per.items()]
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
    """One series per (group, partition), the ``most`` with the largest lag first."""
    series: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        series.setdefault(f"{s.get('name', s['group'])} p{s['partition']}", []).append((s["t"], max(s["lag"], 0)))
    ranked = sorted(series, key=lambda k: -max(v for _, v in series[k]))
    return {k: series[k] for k in sorted(ranked[:most])}


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
        md += [f"| `{r['name']}` | {_fmt(r['value'])} {r['unit']} | {r.get('detail') or ''} |" for r in rows]
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


def _profile(provenance: dict[str, Any] | None) -> list[str]:
    """What a profile set, and which of its keys the experiment or a variant kept its own
    value for (the contrast depends on them). The verdict does not depend on this."""
    if not provenance:
        return []
    md = [f"## Profile `{provenance['name']}`", ""]
    used, kept = provenance["from_profile"], provenance["overridden"]
    if used:
        md += ["Values from the profile:", "", "| key | value | applied to |", "|---|---|---|"]
        md += [f"| `{u['key']}` | `{u['value']}` | {u['where']} |" for u in used] + [""]
    if kept:
        md += ["Profile keys overridden (the experiment's own value was kept):", ""]
        md += ["| key | profile | kept | by |", "|---|---|---|---|"]
        md += [f"| `{k['key']}` | `{k['profile']}` | `{k['kept']}` | {k['where']} |" for k in kept] + [""]
    if not used and not kept:
        md += ["The profile set nothing this experiment uses.", ""]
    return md


def _compared(run_dir: Path, run: RunResult) -> list[str]:
    """One bar chart per measurement the experiment compares across its variants, and
    which variant did best on it (where the measurement has a better direction)."""
    md: list[str] = []
    for name in run.experiment.compare:
        m = measure(name)
        unit = m.unit if m else ""
        bars = [(v.name, _number(lookup(name, v.anomalies, v.measurements))) for v in run.variants]
        file = f"compare-{name.replace('.', '-')}.svg"
        (run_dir / file).write_text(bar_chart(f"{name} per variant", bars, unit))
        md += [f"![{name} per variant]({file})", "", *_best(name, unit, m.direction if m else None, bars), ""]
    return ["## Compared", "", *md] if md else []


def _best(name: str, unit: str, direction: str | None, bars: list[tuple[str, float | None]]) -> list[str]:
    """``Best on NAME: VARIANT (value unit, against the worst)``; nothing without a direction."""
    measured = [(value, variant) for variant, value in bars if value is not None]
    if direction is None or len(measured) < 2:
        return []
    lower = direction == "lower"
    value, variant = min(measured) if lower else max(measured)
    worst = max(measured)[0] if lower else min(measured)[0]
    against = ""
    if value and worst:
        against = f", the worst {worst / value:.1f}× as much" if lower else f", {value / worst:.1f}× the worst"
    return [f"Best on {name} ({'lowest' if lower else 'highest'}): **{variant}** ({value:g} {unit}{against})."]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def write_report(run: RunResult) -> Path:
    """Write report.md, summary.json and the plots; update reports/index.md. Returns report.md."""
    d = run.run_dir
    d.mkdir(parents=True, exist_ok=True)
    s = summary(run)
    (d / "summary.json").write_text(json.dumps(s, indent=1, default=str))
    exp = run.experiment
    md = [
        f"# {(exp.number + ' ') if exp.number else ''}{exp.question}",
        "",
        f"`{exp.id}` · verdict **{run.verdict}**"
        + (" (interrupted)" if run.interrupted else "")
        + f" · Kafka {run.kafka_version} · {run.backend} backend · {run.mode} mode · seed {run.seed} · {run.started_utc}",
        "",
        "## Answer",
        "",
        answer(run),
        "",
    ]
    if run.error:
        md += [f"> The run stopped with an error: {run.error}", ""]
    md += ["## Variants", "", *_variant_table(run), ""]
    md += _compared(d, run)
    cluster = exp.cluster
    md += [
        "## Setup",
        "",
        f"- cluster: {cluster.brokers} brokers, {cluster.controllers} KRaft controllers, broker config "
        f"`{json.dumps(cluster.broker_config)}`; every link through Toxiproxy",
        "- topics: "
        + ", ".join(
            f"`{t.name}` ({t.partitions} partitions, RF {t.replication_factor}, `{json.dumps(t.config)}`)"
            for t in exp.topics
        ),
        f"- workload: {exp.workload.producers} producer(s) at {exp.workload.rate:g} records/s each, keys "
        f"{exp.workload.keys}; consumers: "
        + (
            f"{exp.workload.consumers.groups} group(s) × {exp.workload.consumers.members}, commit "
            f"{exp.workload.consumers.commit}"
            if exp.workload.consumers
            else "none"
        ),
        f"- phases ({run.mode}): steady {getattr(exp, run.mode).steady:g} s → fault {getattr(exp, run.mode).fault:g} s "
        "→ heal → recovery → drain",
        "",
    ]
    md += _profile(run.profile)
    for i, v in enumerate(run.variants):
        md += [
            f"## {v.name}",
            "",
            f"Producer config `{json.dumps(v.config['producer'])}`, "
            f"topic config `{json.dumps(v.config['topic'])}`, "
            + (f"broker settings `{json.dumps(v.config['broker'])}`, " if v.config.get("broker") else "")
            + f"history [`{v.history.name}`]({v.history.name}).",
            "",
        ]
        md += _plots(d, i, v) + [""]
        md += ["Timeline:", "", *_timeline(v), ""]
        unavail = v.timelines.get("unavailability", {}).get("after_faults", [])
        if unavail:
            md += ["Unavailability (fault → first ack of a write sent after it, per partition):", ""]
            md += [
                f"- {w['fault']} {w['target']} at {w['t']:.2f} s: "
                + (", ".join(f"{p} {s:g} s" for p, s in sorted(w["per_partition_s"].items())) or "no ack after it")
                for w in unavail
            ]
            md += [""]
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
    md += [
        "## Reproduce",
        "",
        "```",
        run.command,
        "```",
        "",
        f"`kchaos check {d.name}/<history file>` re-checks any variant's history.",
        "",
    ]
    report = d / "report.md"
    report.write_text("\n".join(md))
    update_index(d.parent)
    return report


def update_index(reports: Path) -> None:
    """reports/index.md: every run, newest first."""
    rows = []
    for s in sorted(reports.glob("*/summary.json"), reverse=True):
        try:
            data = json.loads(s.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if data.get("suite"):  # a suite folder: its summary, its runs listed in it
            verdict = "PASS" if data.get("passed") else "FAIL"
            rows.append(
                f"| [{s.parent.name}]({s.parent.name}/summary.md) | suite of {len(data.get('experiments', []))} | "
                f"{verdict} | | |"
            )
            continue
        rows.append(
            f"| [{s.parent.name}]({s.parent.name}/report.md) | {data.get('experiment')} | "
            f"{data.get('verdict')} | {data.get('backend')} | {data.get('kafka_version')} |"
        )
    text = ["# kchaos runs", "", "| run | experiment | verdict | backend | Kafka |", "|---|---|---|---|---|", *rows, ""]
    (reports / "index.md").write_text("\n".join(text))
