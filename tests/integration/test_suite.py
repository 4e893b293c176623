"""The suite and the comparison on the real test cluster: ``kchaos suite`` over a few
experiments (the experiments' own tests run each once), its JUnit XML parsed; a budget
too small runs nothing and says so; two runs with two profiles compared, the
difference marked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from kchaos.profile import Profile
from kchaos.report.compare import compare
from kchaos.session import execute

KCHAOS = [sys.executable, "-m", "kchaos"]
#: What a crash prints: Python's traceback or failed assert, librdkafka's assertion (``*** file:line: fn: assert: ...``).
CRASH_TEXT = re.compile(r"Traceback \(most recent call last\)|AssertionError|\*\*\* \S+:\d+: .*assert")


def test_suite_over_two_experiments_writes_junit_a_summary_and_reports(healthy, tmp_path):
    junit = tmp_path / "out" / "kchaos.xml"
    argv = [*KCHAOS, "suite", "--quick", "--only", "leader-failover,broker-failure", "--backend", "local"]
    done = subprocess.run(
        [*argv, "--junit", str(junit), "--report-dir", str(tmp_path), "--no-live"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(junit).getroot()
    cases = suite.findall("testcase")
    assert suite.tag == "testsuite" and int(suite.get("tests")) == len(cases) >= 2
    assert int(suite.get("failures")) == 0
    assert {c.get("classname") for c in cases} == {"kchaos.leader-failover", "kchaos.broker-failure"}
    # A variant's case carries its share of the run's time; a claim is judged in no time.
    variants = [c for c in cases if not c.get("name").startswith("claim ")]
    assert all(float(c.get("time")) > 0 for c in variants if c.find("skipped") is None)
    assert any(c.get("name").startswith("claim ") for c in cases), "each claim is a testcase of its own"
    (folder,) = tmp_path.glob("*-suite")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["passed"] and [e["verdict"] for e in summary["experiments"]] == ["PASS", "PASS"]
    assert summary["cluster_starts"][0]["reused"], "the running test cluster fits: no cluster of its own"
    for e in summary["experiments"]:
        assert (folder / e["report"]).exists() and e["headline"]
    assert "[1/2]" in done.stdout and "[2/2]" in done.stdout
    # Both experiments run consumers and a group watcher in child processes: whatever a
    # child prints goes to its log in the run folder, so a healthy run shows none of it.
    printed = done.stdout + done.stderr
    assert not CRASH_TEXT.search(printed), printed


def test_a_budget_too_small_runs_nothing_and_says_what_did_not_run(healthy, tmp_path):
    done = subprocess.run(
        [*KCHAOS, "suite", "--only", "durability", "--budget", "0.1", "--backend", "local"]
        + ["--report-dir", str(tmp_path), "--no-live"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NOT RUN durability" in done.stdout and "budget" in done.stdout
    (folder,) = tmp_path.glob("*-suite")
    skipped = ET.parse(folder / "junit.xml").getroot().find("testcase/skipped")
    assert skipped is not None and skipped.get("message").startswith("budget")


def test_two_profiles_compared_with_the_difference_marked(healthy, tmp_path):
    runs = []
    # linger.ms=2000 holds every batch up to 2 s from its first record, so the median
    # record waits about a second more: more than the leader failover adds to eager's.
    for name, linger in (("eager", 0), ("batching", 2000)):
        profile = Profile(name=name, producer={"linger.ms": linger})
        runs.append(
            execute("leader-failover", "quick", seed=5, report_dir=tmp_path / name, cluster=healthy, profile=profile)
        )
    a, b = (r.run_dir for r in runs)
    text = compare(a, b)
    assert "profile `eager`" in text and "profile `batching`" in text
    row = next(line for line in text.splitlines() if line.startswith("| produce_latency_ms.p50 |"))
    assert row.endswith("**Δ** |"), row
    pa, pb = (float(x) for x in row.split("|")[2:4])
    assert pb > pa, f"the batching profile's median latency ({pb} ms) is above the eager one's ({pa} ms)"
    out = subprocess.run(
        [*KCHAOS, "report", "--compare", str(a), str(b), "--out", str(tmp_path / "cmp.md")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and (tmp_path / "cmp.md").read_text() == text
