"""A suite's outputs: ``summary.md`` and ``summary.json`` (per experiment its verdict,
duration and headline numbers) and JUnit XML (one testcase per experiment and variant,
the failed expectations as the failure message), which CI systems read. Pure: takes a
SuiteResult, writes files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from kchaos.results import RunResult, SuiteEntry, SuiteResult

HEADLINES = 3


def headline(run: RunResult | None) -> dict[str, list[str]]:
    """Per variant, a few measured numbers: the expectations with their values."""
    if run is None:
        return {}
    return {v.name: [f"{e['what']} ({_num(e.get('value'))})" for e in v.expectations[:HEADLINES]] for v in run.variants}


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _failed(run: RunResult, variant: Any) -> list[str]:
    return [f"{e['what']} (measured {_num(e.get('value'))})" for e in variant.expectations if not e["held"]]


def entry_json(e: SuiteEntry, suite_dir: Path) -> dict[str, Any]:
    run = e.run
    return {
        "experiment": e.experiment,
        "question": e.question,
        "verdict": e.verdict,
        "seconds": e.seconds,
        "report": str(run.run_dir.relative_to(suite_dir) / "report.md") if run else None,
        "why_not_run": e.why_not_run or (run.error if run else None),
        "headline": headline(run),
        "variants": {v.name: "PASS" if v.passed else "FAIL" for v in run.variants} if run else {},
        "claims": run.claims if run else [],
    }


def summary(result: SuiteResult) -> dict[str, Any]:
    """The stable ``summary.json`` of a suite (``docs/outputs.md``)."""
    counts: dict[str, int] = {}
    for e in result.entries:
        counts[e.verdict] = counts.get(e.verdict, 0) + 1
    return {
        "suite": True,
        "mode": result.mode,
        "started_utc": result.started_utc,
        "seconds": result.seconds,
        "passed": result.passed,
        "interrupted": result.interrupted,
        "profile": result.profile,
        "counts": counts,
        "cluster_starts": result.cluster_starts,
        "experiments": [entry_json(e, result.suite_dir) for e in result.entries],
    }


def markdown(result: SuiteResult) -> str:
    s = summary(result)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(s["counts"].items()))
    md = [
        f"# kchaos suite ({result.mode}) — {'PASS' if result.passed else 'FAIL'}",
        "",
        f"{result.started_utc} · {len(result.entries)} experiments: {counts} · {result.seconds / 60:.1f} min"
        + (f" · profile `{result.profile}`" if result.profile else "")
        + (" · **interrupted**" if result.interrupted else ""),
        "",
        "| experiment | verdict | seconds | headline numbers |",
        "|---|---|---|---|",
    ]
    for e in s["experiments"]:
        name = f"[{e['experiment']}]({e['report']})" if e["report"] else e["experiment"]
        numbers = "; ".join(f"{v}: {', '.join(h)}" for v, h in e["headline"].items()) or (e["why_not_run"] or "")
        md.append(f"| {name} | {e['verdict']} | {e['seconds']:g} | {numbers} |")
    starts = [c for c in result.cluster_starts if not c["reused"]]
    md += ["", f"Cluster starts: {len(starts)} ({sum(c['seconds'] for c in starts):.0f} s)", ""]
    return "\n".join(md)


def junit(result: SuiteResult) -> str:
    """JUnit XML: a testcase per experiment and variant; failures carry the failed
    expectations (and the findings), a run that did not happen is skipped."""
    suite = ET.Element("testsuite", name=f"kchaos {result.mode}", timestamp=result.started_utc)
    tests = failures = skipped = 0
    for e in result.entries:
        for case, problem, kind in _cases(e):
            tests += 1
            el = ET.SubElement(suite, "testcase", classname=f"kchaos.{e.experiment}", name=case["name"])
            el.set("time", f"{case['seconds']:.1f}")
            if kind == "failure":
                failures += 1
                ET.SubElement(el, "failure", message=problem[0]).text = "\n".join(problem)
            elif kind == "skipped":
                skipped += 1
                ET.SubElement(el, "skipped", message=problem[0])
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suite.set("time", f"{result.seconds:.1f}")
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode", xml_declaration=True)


def _cases(e: SuiteEntry) -> list[tuple[dict[str, Any], list[str], str]]:
    run = e.run
    if run is None or not (run.variants or run.skipped):
        why = e.why_not_run or (run.error if run else "") or "did not run"
        kind = "skipped" if e.verdict == "NOT RUN" else "failure"
        return [({"name": "(run)", "seconds": e.seconds}, [why], kind)]
    each = e.seconds / max(len(run.variants), 1)
    out = []
    for v in run.variants:
        failed = _failed(run, v)
        detail = failed + [f"finding: {f['text']}" for f in v.findings]
        out.append(({"name": v.name, "seconds": each}, detail, "failure" if failed else "passed"))
    if run.interrupted or run.error:  # the variants that finished are judged above; the run itself failed
        out.append(({"name": "(run)", "seconds": 0.0}, [run.error or "interrupted"], "failure"))
    ran = {v.name for v in run.variants}
    for v in run.experiment.variants:
        if v.name not in ran and v.nightly_only and run.mode == "quick":
            out.append(({"name": v.name, "seconds": 0.0}, ["nightly only"], "skipped"))
    out += [({"name": v["name"], "seconds": 0.0}, [v["why"]], "skipped") for v in run.skipped]
    for i, c in enumerate(run.claims, 1):
        case = {"name": f"claim {i}: {c['holds']}", "seconds": 0.0}
        if c["held"] is None:
            out.append((case, [c.get("skipped") or "not judged"], "skipped"))
        elif c["held"]:
            out.append((case, [], "passed"))
        else:
            measured = ", ".join(f"{k} = {v}" for k, v in c.get("values", {}).items())
            out.append(
                (case, [f"claim did not hold: {c['holds']} (measured {measured})", c.get("text") or ""], "failure")
            )
    return out


def write_suite(result: SuiteResult) -> Path:
    """Write summary.json, summary.md and junit.xml into the suite folder; returns summary.md."""
    d = result.suite_dir
    d.mkdir(parents=True, exist_ok=True)
    (d / "summary.json").write_text(json.dumps(summary(result), indent=1, default=str))
    (d / "junit.xml").write_text(junit(result))
    (d / "summary.md").write_text(markdown(result))
    return d / "summary.md"
