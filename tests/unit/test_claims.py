"""Claims: the grammar, the evaluator, what the loader refuses (one line, exit 2), how a
run judges claims across variants and how the report prints them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kchaos import claims
from kchaos import experiment as experiments
from kchaos.errors import BadInput
from kchaos.expectations import judge

TWO = """\
id: mine
question: "Does it hold?"
number: "2.4"
cluster:
  broker_config: {broker.session.timeout.ms: 6000}
topics:
  - name: t
workload:
  topic: t
  consumers: {members: 1}
variants:
  - id: one
    name: acks=1
    producer: {acks: 1}
    expect: [lost >= 1]
  - id: all
    name: acks=all
    producer: {acks: all}
    expect: [lost == 0]
  - id: late
    name: later
    nightly_only: true
    expect: [lost == 0]
claims:
  - say: "acks=1 lost {lost@one} acknowledged writes, acks=all {lost@all}."
    holds: "lost@one > lost@all"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


def test_conditions_parse_one_way():
    cond = claims.parse("rebalance.join.revoked@coop < rebalance.join.revoked@eager")
    assert cond.op == "<"
    assert cond.left == claims.Ref("rebalance.join.revoked", "coop")
    assert claims.parse("failed-visible == 0").left == claims.Ref("failed-visible")
    cond = claims.parse("unavailability_s <= 2 * broker:broker.session.timeout.ms / 1000 + 1")
    assert [r.text() for r in cond.refs()] == ["unavailability_s", "broker:broker.session.timeout.ms"]
    assert claims.constant(claims.parse("lost == (2 + 4) * 3").right) == 18


@pytest.mark.parametrize(
    "text, words",
    [
        ("lost is zero", "write one comparison"),
        ("lost == 0 == 1", "write one comparison"),
        ("lost ==", "a value is missing"),
        ("lost == 1 2", "where an operator"),
        ("Lost! == 0", "is not a name"),
        ("lost == (1 + 2", "without its ')'"),
        ("lost == 1e999", "not a finite number"),
    ],
)
def test_bad_conditions_say_what_to_write(text, words):
    with pytest.raises(claims.ClaimError, match=re.escape(words)):
        claims.parse(text)


def test_evaluation_with_settings_and_missing_values():
    values = {claims.Ref("x", "a"): 3.0, claims.Ref("x", "b"): 1.0, claims.Ref("t", "a", "broker"): 2000}.get
    assert claims.evaluate(claims.parse("x@a > 2 * x@b"), values)["held"] is True
    assert claims.evaluate(claims.parse("x@a <= broker:t@a / 1000"), values)["held"] is False
    # A name that was not measured is no evidence: the claim fails.
    assert claims.evaluate(claims.parse("y@a == 0"), values)["held"] is False
    assert claims.evaluate(claims.parse("x@a / 0 == 0"), values)["held"] is False


def test_sentences_quote_measured_values():
    values = {claims.Ref("lost", "one"): 1201, claims.Ref("p", "one"): 0.25}.get
    assert claims.render("lost {lost@one} at {p}", values, "one") == "lost 1,201 at 0.25"


def test_a_good_file_with_claims_loads_and_the_plan_shows_them(tmp_path):
    exp = experiments.load(write(tmp_path, TWO))
    assert [v.id for v in exp.variants] == ["one", "all", "late"]
    plan = experiments.plan(exp)
    assert "claim 1: lost@one > lost@all" in plan and "2.4 Does it hold?" in plan


def test_a_variant_without_id_gets_one_from_its_name(tmp_path):
    exp = experiments.load(write(tmp_path, TWO.replace("  - id: all\n", "  -\n").replace("@all", "@acks-all")))
    assert exp.variants[1].id == "acks-all"


REFUSED = {
    "unknown measurement": (('holds: "lost@one > lost@all"', 'holds: "lots@one > lost@all"'), "unknown name 'lots'"),
    "unknown variant id": (
        ('holds: "lost@one > lost@all"', 'holds: "lost@one > lost@al"'),
        "no variant has the id 'al'",
    ),
    "a claim without its variant": (('holds: "lost@one > lost@all"', 'holds: "lost > lost@all"'), "say which variant"),
    "a name the variant cannot measure": (
        ('holds: "lost@one > lost@all"', 'holds: "aborted-read@one == 0"'),
        "could never be measured: variant 'one' has no txn",
    ),
    "a bound a count always meets": (("expect: [lost >= 1]", "expect: [lost >= 0]"), "could never fail"),
    "a comparison of a value with itself": (
        ('holds: "lost@one > lost@all"', 'holds: "lost@one >= lost@one"'),
        "both sides are the same value",
    ),
    "only settings, no measurement": (
        ('holds: "lost@one > lost@all"', 'holds: "broker:broker.session.timeout.ms@one > 1000"'),
        "compares no measurement",
    ),
    "an absolute time": (
        ("expect: [lost == 0]\n  - id: late", "expect: [unavailability_s <= 30]\n  - id: late"),
        "quiet machine",
    ),
    "a setting the file does not state": (
        ('holds: "lost@one > lost@all"', 'holds: "unavailability_s@one <= producer:linger.ms@one"'),
        "states no number for producer setting 'linger.ms'",
    ),
    "a number in the background": (('number: "2.4"\n', 'number: "2.4"\nbackground: "acks=1 is quick"\n'), "found '1'"),
    "a contrast in the narration": (
        ('number: "2.4"\n', 'number: "2.4"\nnarration: {fault: "acks all is slower"}\n'),
        "found 'slower'",
    ),
    "two variants with one id": (("  - id: late\n", "  - id: all\n"), "variant ids must differ"),
    "an id that is not short": (("  - id: late\n", "  - id: Late.Variant\n"), "lowercase letters"),
    "not the article's numbering": (('number: "2.4"', 'number: "two"'), "CLUSTER.QUESTION"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_loader_refuses_a_claim_that_cannot_stand(tmp_path, case):
    edit, words = REFUSED[case]
    text = TWO.replace(*edit)
    assert text != TWO, case
    with pytest.raises(BadInput) as err:
        experiments.load(write(tmp_path, text))
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("case", ["unknown measurement", "unknown variant id", "a name the variant cannot measure"])
def test_validate_refuses_in_one_line_with_exit_2(tmp_path, case):
    edit, words = REFUSED[case]
    path = write(tmp_path, TWO.replace(*edit))
    out = subprocess.run([sys.executable, "-m", "kchaos", "validate", str(path)], capture_output=True, text=True)
    assert out.returncode == 2, out
    errors = [line for line in out.stderr.splitlines() + out.stdout.splitlines() if "mine.yaml:" in line]
    assert len(errors) == 1 and words in errors[0], out


def _ran(**lost: int) -> dict:
    return {k: SimpleNamespace(id=k, anomalies={"lost": v}, measurements={}, settings={}) for k, v in lost.items()}


def test_a_claim_is_judged_across_variants_and_skipped_when_one_did_not_run(tmp_path):
    exp = experiments.load(write(tmp_path, TWO))
    claim = exp.claims[0]
    held = judge(claim, _ran(one=12, all=0), {"late"})
    assert held["held"] is True and held["text"] == "acks=1 lost 12 acknowledged writes, acks=all 0."
    assert judge(claim, _ran(one=0, all=0), {"late"})["held"] is False
    late = experiments.Claim(say="", holds="lost@late == 0")
    skipped = judge(late, _ran(one=0, all=0), {"late"})
    assert skipped["held"] is None and "nightly only" in skipped["skipped"]


def test_every_shipped_text_states_no_number_or_contrast():
    for path in experiments.catalog().values():
        exp = experiments.load(path)
        for text in [exp.background, *exp.narration.values()]:
            found = experiments.NUMBER_OR_COMPARISON.search(text)
            assert found is None, f"{path.name}: {found.group(0)!r} in {text!r}"


def test_every_shipped_experiment_answers_with_claims_in_the_articles_words():
    rows = [experiments.load(p) for p in experiments.catalog().values()]
    numbered = sorted((e.number, e.id) for e in rows if e.number)
    assert len(numbered) == 30 and len({n for n, _ in numbered}) == 30
    article = Path(__file__).resolve().parents[2] / "docs" / "questions.md"
    table = dict(re.findall(r"^\| (\d\.\d) \| (.+?) \| [a-z-]+ \|$", article.read_text(), re.MULTILINE))
    for e in rows:
        assert e.claims, f"{e.id}: its answer is claims"
        assert table[e.number] == e.question, f"{e.id}: the article's wording, word for word"


def test_the_answer_is_the_claims_as_judged_and_a_failed_one_fails_the_verdict(tmp_path):
    from kchaos.report.writer import answer
    from kchaos.results import RunResult, VariantResult

    exp = experiments.load(
        write(tmp_path, TWO.replace('number: "2.4"\n', 'number: "2.4"\nbackground: "Leaders hold no lease."\n'))
    )
    run = RunResult(exp, "quick", 1, "local", "4.4.0", tmp_path / "run", "kchaos run mine")
    run.variants = [
        VariantResult("acks=1", {}, "t", tmp_path / "h", id="one"),
        VariantResult("acks=all", {}, "t", tmp_path / "h", id="all"),
    ]
    ran = _ran(one=12, all=0)
    run.claims = [judge(exp.claims[0], ran, {"late"}), judge(experiments.Claim(holds="lost@late == 0"), ran, {"late"})]
    text = answer(run)
    assert text.startswith("- acks=1 lost 12 acknowledged writes, acks=all 0.")
    assert "Not judged in this run: `lost@late == 0` (late: nightly only)" in text
    assert "_Background (how the mechanism works; not measured by this run):_ Leaders hold no lease." in text
    assert run.verdict == "PASS"
    run.claims = [judge(exp.claims[0], _ran(one=0, all=0), {"late"})]
    assert run.verdict == "FAIL"
    assert "❌ **Did not hold in this run.** Expected: acks=1 lost 0 acknowledged writes, acks=all 0." in answer(run)
    assert "lost@one = 0, lost@all = 0" in answer(run)


def test_each_claim_is_a_junit_testcase(tmp_path):
    from kchaos.report.suite import junit
    from kchaos.results import RunResult, SuiteEntry, SuiteResult, VariantResult

    exp = experiments.load(write(tmp_path, TWO))
    run = RunResult(exp, "quick", 1, "local", "4.4.0", tmp_path / "run", "kchaos run mine")
    run.variants = [VariantResult("acks=1", {}, "t", tmp_path / "h", id="one")]
    ran = _ran(one=0, all=0)
    run.claims = [judge(exp.claims[0], ran, {"late"}), judge(experiments.Claim(holds="lost@late == 0"), ran, {"late"})]
    result = SuiteResult(mode="quick", suite_dir=tmp_path, started_utc="now")
    result.entries = [SuiteEntry("mine", exp.question, run.verdict, run=run, seconds=3.0)]
    xml = junit(result)
    assert 'name="claim 1: lost@one &gt; lost@all"' in xml and "claim did not hold: lost@one &gt; lost@all" in xml
    assert 'name="claim 2: lost@late == 0"' in xml and "late: nightly only" in xml


def test_the_readme_table_of_experiments_is_made_from_the_files():
    from kchaos.report import catalog

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert catalog.block() in readme, "regenerate it: python -m kchaos.report.catalog --write README.md"


def test_an_expectation_names_only_its_own_variant(tmp_path):
    text = TWO.replace("expect: [lost >= 1]", "expect: [lost@all == 0]")
    with pytest.raises(BadInput, match="an expectation is judged on its own variant"):
        experiments.load(write(tmp_path, text))


def test_a_setting_that_is_no_finite_number_is_not_one(tmp_path):
    assert experiments.number("1" + "0" * 400) is None and experiments.number("nan") is None
    text = TWO.replace("{broker.session.timeout.ms: 6000}", '{broker.session.timeout.ms: "inf"}').replace(
        "expect: [lost == 0]\n  - id: late",
        "expect: [unavailability_s <= broker:broker.session.timeout.ms]\n  - id: late",
    )
    with pytest.raises(BadInput, match="states no number"):
        experiments.load(write(tmp_path, text))


def test_merge_keys_still_load(tmp_path):
    text = TWO.replace(
        "  - id: all\n    name: acks=all\n    producer: {acks: all}",
        "  - id: all\n    name: acks=all\n    producer: {<<: {acks: all}, linger.ms: 5}",
    )
    exp = experiments.load(write(tmp_path, text))
    assert exp.variants[1].producer == {"acks": "all", "linger.ms": 5}
