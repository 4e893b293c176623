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

#: The article's six clusters (docs/questions.md).
CLUSTERS = {
    "1": "Core internals",
    "2": "Replication and fault tolerance",
    "3": "Consumer mechanics",
    "4": "Delivery semantics",
    "5": "Scaling and performance",
    "6": "Real-world system design",
}


def questions() -> tuple[tuple[str, str, str], ...]:
    """(number, the article's question, experiment id) of every numbered experiment file,
    in the article's order: the files are the one source of the wording."""
    from kchaos import experiment

    rows = []
    for path in experiment.catalog().values():
        exp = experiment.load(path)
        if exp.number:
            rows.append((exp.number, exp.question, exp.id))
    return tuple(sorted(rows, key=lambda r: experiment.number_key(r[0])))


HISTORY_LINK = re.compile(r"\[`(history\.[^`]+)`\]\(history\.[^)]+\)")


def newest_runs(reports: Path) -> dict[str, Path]:
    """Experiment id -> the folder of its newest whole quick run (by start time) under
    ``reports``: not interrupted, not stopped by an error, every variant run (a cluster
    that lacked a feature some variant needs answers only part of the question)."""
    best: dict[str, tuple[str, Path]] = {}
    for summary in Path(reports).rglob("summary.json"):
        try:
            data = json.loads(summary.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        exp, started = data.get("experiment"), data.get("started_utc") or ""
        whole = (
            not data.get("interrupted")
            and not data.get("error")
            and data.get("mode") == "quick"
            and not data.get("skipped_variants")
        )
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
    """The first checks of each variant with their numbers."""
    return [
        f"- {v['name']}: " + ", ".join(f"{e['what']} (measured {e.get('value')})" for e in v["expectations"][:3])
        for v in summary.get("variants", [])
    ]


def reproducibility(results: Path | None, exp: str) -> str:
    """How often this experiment's checks held in repeated quick runs, from the counts
    ``bench/repeat.py --save`` committed; absent data is said, not invented."""
    files = sorted(results.glob(f"{exp}.*.json")) if results is not None and results.is_dir() else []
    said = []
    for f in files:
        try:
            data = json.loads(f.read_text())
            checks = data["checks"]
            runs = int(data["runs"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        worst = min((c["held"] for c in checks), default=runs)
        said.append(
            f"every check held in {worst} of {runs} quick runs or more, {data.get('load', '?')}"
            f" ({data.get('passed', '?')} of {runs} runs passed whole); Kafka {data.get('kafka_version', '?')}; "
            f"{data.get('backend', '?')}"
        )
    if not said:
        return "Reproducibility: not measured yet (no repeated runs of this experiment are committed)."
    return "Reproducibility: " + "; ".join(said) + "."


def _plot(folder: Path) -> str | None:
    for name in ("throughput-0.svg", "lag-0.svg", "latency-0.svg"):
        if (folder / name).exists():
            return name
    svgs = sorted(p.name for p in folder.glob("*.svg"))
    return svgs[0] if svgs else None


def write_book(reports: Path, out: Path | None = None, results: Path | None = None) -> Path:
    """Gather the newest run of every experiment into ``out`` (default reports/book);
    ``results`` holds ``bench/repeat.py``'s saved counts. Returns the book's README.md."""
    reports = Path(reports)
    out = Path(out) if out is not None else reports / "book"
    runs = newest_runs(reports)
    catalog = questions()
    out.mkdir(parents=True, exist_ok=True)
    answered = sum(1 for _, _, exp in catalog if exp in runs)
    dates = sorted(json.loads((f / "summary.json").read_text()).get("started_utc", "") for f in runs.values())
    md = [
        "# The book of thirty answers",
        "",
        f"Kafka's architecture questions, answered by real runs: {answered} of {len(catalog)} answered so far, "
        f"each from the newest quick run of its experiment (runs from {dates[0] if dates else '–'} to "
        f"{dates[-1] if dates else '–'}). Generated by `kchaos book` from the reports of `kchaos suite --quick`; "
        "every answer links to its full report (histories are not kept here: `kchaos run ID` makes one).",
        "",
    ]
    for cluster, title in CLUSTERS.items():
        md += [f"## {cluster}. {title}", ""]
        for number, question, exp in catalog:
            if number.split(".")[0] != cluster:
                continue
            md += [f"### {number} {question}", ""]
            if exp not in runs:
                md += [f"_Not answered yet: no whole quick run of `{exp}` was found._", ""]
                continue
            _copy_run(runs[exp], out / exp)
            summary = json.loads((out / exp / "summary.json").read_text())
            md += [answer_paragraph((out / exp / "report.md").read_text()), ""]
            md += [
                f"Verdict **{summary['verdict']}** · Kafka {summary['kafka_version']} · {summary['backend']} backend · "
                f"{summary['started_utc']} · [full report]({exp}/report.md)",
                "",
                reproducibility(results, exp),
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
