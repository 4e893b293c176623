"""The book of thirty answers: ``kchaos book``.

The catalog's thirty questions in their six clusters, each with the answer paragraph of
the newest run of its experiment, its headline numbers, its plot and a link to the full
report. The newest run of every experiment is copied into ``reports/book/<id>/``
(report.md, summary.json, the plots; histories are left out, they are large and the
report says how to make one). Runs are found anywhere under the reports folder, the
book's own copies included, so a book regenerated from itself is unchanged. A question
whose experiment does not exist yet says so. Pure: reads and writes files.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

CLUSTERS = {
    "1": "How Kafka works inside",
    "2": "Replication and broker failure",
    "3": "Consumer groups",
    "4": "Delivery semantics",
    "5": "Scaling and performance",
    "6": "Designing applications under faults",
}
#: (number, question, experiment id): one experiment per question.
CATALOG = (
    ("1.1", "Why is Kafka so fast?", "why-fast"),
    ("1.2", "What happens when a producer sends a record?", "producer-send-path"),
    ("1.3", "How is the data stored on disk?", "log-on-disk"),
    ("1.4", "Why do consumers pull instead of brokers pushing?", "pull-vs-push"),
    ("1.5", "What is the ISR?", "isr"),
    ("2.1", "What happens when a broker fails?", "broker-failure"),
    ("2.2", "How do leader election and failover work?", "leader-failover"),
    ("2.3", "What if leader and follower are out of sync?", "unclean-election"),
    ("2.4", "What do acks and min.insync.replicas guarantee?", "durability"),
    ("2.5", "What does a network partition do?", "network-partition"),
    ("3.1", "How does rebalancing work?", "rebalance-protocol"),
    ("3.2", "What triggers a rebalance, and what does each cost?", "rebalance-triggers"),
    ("3.3", "What does a rebalance look like step by step?", "rebalance-steps"),
    ("3.4", "How do offset commits work?", "offset-commit"),
    ("3.5", "Why do consumers process records again?", "reprocessing"),
    ("4.1", "At-most-once, at-least-once, exactly-once: what do they mean in practice?", "delivery-semantics"),
    ("4.2", "Is Kafka really exactly-once?", "exactly-once-scope"),
    ("4.3", "What does the idempotent producer prevent?", "idempotent-producer"),
    ("4.4", "What do transactions guarantee?", "transactions"),
    ("4.5", "What does exactly-once cost?", "eos-tradeoffs"),
    ("5.1", "How many partitions?", "partition-count"),
    ("5.2", "What breaks when partitions are added later?", "partition-increase"),
    ("5.3", "How much throughput can a cluster take?", "high-throughput"),
    ("5.4", "Where does consumer lag come from?", "consumer-lag"),
    ("5.5", "Which settings matter for throughput and for latency?", "tuning"),
    ("6.1", "How should retries be built?", "retry-architecture"),
    ("6.2", "Ordering or scaling: where does per-key order break?", "ordering-vs-scaling"),
    ("6.3", "How do dead-letter topics work under faults?", "dead-letter-topic"),
    ("6.4", "What happens when a schema evolves?", "schema-evolution"),
    ("6.5", "When should you not use Kafka?", "when-not-kafka"),
)
HISTORY_LINK = re.compile(r"\[`(history\.[^`]+)`\]\(history\.[^)]+\)")


def newest_runs(reports: Path) -> dict[str, Path]:
    """Experiment id -> the folder of its newest whole quick run (by start time) under
    ``reports``: not interrupted, not stopped by an error."""
    best: dict[str, tuple[str, Path]] = {}
    for summary in Path(reports).rglob("summary.json"):
        try:
            data = json.loads(summary.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        exp, started = data.get("experiment"), data.get("started_utc") or ""
        whole = not data.get("interrupted") and not data.get("error") and data.get("mode") == "quick"
        if not exp or not whole or not (summary.parent / "report.md").exists():
            continue
        if exp not in best or started > best[exp][0]:
            best[exp] = (started, summary.parent)
    return {exp: folder for exp, (_, folder) in best.items()}


def answer_paragraph(report_md: str) -> str:
    """The text of a report's ``## Answer`` section."""
    m = re.search(r"^## Answer\n\n(.*?)(?=^## |\Z)", report_md, re.MULTILINE | re.DOTALL)
    return m.group(1).strip() if m else ""


def _copy_run(source: Path, target: Path) -> None:
    """The run's report (history links made plain), summary and plots into the book."""
    if source.resolve() == target.resolve():
        return
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    text = (source / "report.md").read_text()
    (target / "report.md").write_text(HISTORY_LINK.sub(r"`\1` (not kept in the book)", text))
    shutil.copy(source / "summary.json", target / "summary.json")
    for svg in source.glob("*.svg"):
        shutil.copy(svg, target / svg.name)


def _headline(summary: dict[str, Any]) -> list[str]:
    return [
        f"- {v['name']}: " + ", ".join(f"{e['what']} (measured {e.get('value')})" for e in v["expectations"][:3])
        for v in summary.get("variants", [])
    ]


def _plot(folder: Path) -> str | None:
    for name in ("throughput-0.svg", "lag-0.svg", "latency-0.svg"):
        if (folder / name).exists():
            return name
    svgs = sorted(p.name for p in folder.glob("*.svg"))
    return svgs[0] if svgs else None


def write_book(reports: Path, out: Path | None = None) -> Path:
    """Gather the newest run of every experiment into ``out`` (default reports/book);
    returns the book's README.md."""
    reports = Path(reports)
    out = Path(out) if out is not None else reports / "book"
    runs = newest_runs(reports)
    out.mkdir(parents=True, exist_ok=True)
    answered = sum(1 for _, _, exp in CATALOG if exp in runs)
    dates = sorted(json.loads((f / "summary.json").read_text()).get("started_utc", "") for f in runs.values())
    md = [
        "# The book of thirty answers",
        "",
        f"Kafka's architecture questions, answered by real runs: {answered} of {len(CATALOG)} answered so far, "
        f"each from the newest quick run of its experiment (runs from {dates[0] if dates else '–'} to "
        f"{dates[-1] if dates else '–'}). Generated by `kchaos book` from the reports of `kchaos suite --quick`; "
        "every answer links to its full report (histories are not kept here: `kchaos run ID` makes one).",
        "",
    ]
    for cluster, title in CLUSTERS.items():
        md += [f"## {cluster}. {title}", ""]
        for number, question, exp in CATALOG:
            if number.split(".")[0] != cluster:
                continue
            md += [f"### {number} {question}", ""]
            if exp not in runs:
                md += [f"_Not answered yet: the experiment `{exp}` is not built._", ""]
                continue
            _copy_run(runs[exp], out / exp)
            summary = json.loads((out / exp / "summary.json").read_text())
            md += [answer_paragraph((out / exp / "report.md").read_text()), ""]
            md += [
                f"Verdict **{summary['verdict']}** · Kafka {summary['kafka_version']} · {summary['backend']} backend · "
                f"{summary['started_utc']} · [full report]({exp}/report.md)",
                "",
                *_headline(summary),
                "",
            ]
            plot = _plot(out / exp)
            if plot:
                md += [f"![{exp}]({exp}/{plot})", ""]
    readme = out / "README.md"
    readme.write_text("\n".join(md))
    return readme


def links(markdown: str) -> list[str]:
    """The relative link targets of a Markdown text (for checking they resolve)."""
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", markdown) if not re.match(r"[a-z]+://", t)]
