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
from kchaos.report.svg import bar_chart
from kchaos.report.variant_section import fmt, variant_section
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
        f"{fmt(m.get('unavailability_s'))} s after the fault."
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
        rows.append(f"| {k} | " + " | ".join(fmt(lookup(k, v.anomalies, v.measurements)) for v in run.variants) + " |")
    for p in ("p50", "p99", "max"):
        rows.append(
            f"| produce latency {p} (ms) | "
            + " | ".join(fmt(v.measurements.get("produce_latency_ms", {}).get(p)) for v in run.variants)
            + " |"
        )
    rows.append(
        "| expectations | "
        + " | ".join(
            "<br>".join(("✅ " if e["held"] else "❌ ") + e["what"] + f" ({fmt(e['value'])})" for e in v.expectations)
            or "–"
            for v in run.variants
        )
        + " |"
    )
    return rows


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


def _setup(run: RunResult) -> list[str]:
    """The cluster, topics, workload and phases the run used, as the file declares them."""
    exp = run.experiment
    cluster, durations = exp.cluster, getattr(exp, run.mode)
    consumers = exp.workload.consumers
    return [
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
        + (f"{consumers.groups} group(s) × {consumers.members}, commit {consumers.commit}" if consumers else "none"),
        f"- phases ({run.mode}): steady {durations.steady:g} s → fault {durations.fault:g} s → heal → recovery → drain",
        "",
    ]


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
    md += _setup(run)
    md += _profile(run.profile)
    for i, v in enumerate(run.variants):
        md += variant_section(d, i, v)
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
