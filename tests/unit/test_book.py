"""The book of thirty answers: built from run folders (the newest run of each
experiment), histories left out, every link resolving; regenerated from its own copies
it is unchanged; the committed book is one kchaos book made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kchaos.report.book import CLUSTERS, answer_paragraph, links, newest_runs, questions, write_book

COMMITTED = Path(__file__).resolve().parents[2] / "reports" / "book"


def _run(reports: Path, name: str, exp: str, started: str, answer: str) -> Path:
    d = reports / name
    d.mkdir(parents=True)
    summary = {"experiment": exp, "verdict": "PASS", "kafka_version": "4.4.0", "backend": "local", "mode": "quick"}
    summary |= {
        "started_utc": started,
        "variants": [{"name": "v", "expectations": [{"what": "lost == 0", "value": 0}]}],
    }
    (d / "summary.json").write_text(json.dumps(summary))
    (d / "report.md").write_text(
        f"# q\n\n## Answer\n\n{answer}\n\n## Variants\n\nhistory [`history.0-v.jsonl`](history.0-v.jsonl).\n"
    )
    (d / "history.0-v.jsonl").write_text("{}\n")
    (d / "throughput-0.svg").write_text("<svg></svg>")
    return d


def test_the_catalog_has_thirty_questions_in_six_clusters():
    catalog = questions()
    assert len(catalog) == 30 and len({exp for _, _, exp in catalog}) == 30
    assert {n.split(".")[0] for n, _, _ in catalog} == set(CLUSTERS)


def test_the_book_takes_the_newest_run_leaves_histories_out_and_links_resolve(tmp_path):
    reports = tmp_path / "reports"
    _run(reports, "old", "leader-failover", "2026-11-01 10:00:00Z", "Old answer.")
    _run(reports, "x-suite/new", "leader-failover", "2026-11-02 10:00:00Z", "New answer: 6.9 s unavailable.")
    assert newest_runs(reports)["leader-failover"].name == "new"
    readme = write_book(reports)
    text = readme.read_text()
    assert "New answer: 6.9 s unavailable." in text and "Old answer." not in text
    assert "_Not answered yet: no whole quick run of `why-fast` was found._" in text
    book = readme.parent
    assert not list(book.rglob("*.jsonl"))
    assert "(history.0-v.jsonl)" not in (book / "leader-failover" / "report.md").read_text()
    for target in links(text):
        assert (book / target).exists(), target
    again = write_book(reports)
    assert again.read_text() == text


def test_answer_paragraph_is_the_answer_section():
    assert answer_paragraph("# q\n\n## Answer\n\nOne.\nTwo.\n\n## Setup\n\nx") == "One.\nTwo."


def test_the_committed_book_is_what_kchaos_book_makes_and_its_links_resolve(tmp_path):
    readme = COMMITTED / "README.md"
    text = readme.read_text()
    for target in links(text):
        assert (COMMITTED / target).exists(), f"broken link in reports/book/README.md: {target}"
    for folder in (p for p in COMMITTED.iterdir() if p.is_dir()):
        for target in links((folder / "report.md").read_text()):
            assert (folder / target).exists(), f"broken link in {folder.name}/report.md: {target}"
    copy = tmp_path / "reports" / "book"
    shutil.copytree(COMMITTED, copy)
    results = COMMITTED.parents[1] / "bench" / "results"
    assert write_book(tmp_path / "reports", results=results).read_text() == text
