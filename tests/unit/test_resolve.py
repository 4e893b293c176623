"""A variant resolved once: the file's blocks with the variant's overrides over them, its
own fault schedule when it has one, and the features it needs."""

from __future__ import annotations

from kchaos import experiment as experiments
from kchaos.spec.resolve import resolve


def _exp() -> experiments.Experiment:
    return experiments.Experiment.model_validate(
        {
            "id": "mine",
            "question": "q",
            "topics": [{"name": "t"}],
            "workload": {"topic": "t", "rate": 100, "consumers": {"groups": 1, "members": 2}},
            "faults": [{"at": 1, "do": "kill", "target": "leader-of:t:0"}],
            "variants": [
                {"name": "plain"},
                {
                    "name": "own",
                    "workload": {"rate": 7},
                    "consumer": {"group.protocol": "consumer"},
                    "faults": [{"at": 2, "do": "pause", "target": "controller"}],
                },
            ],
        }
    )


def test_a_variant_gets_its_overrides_and_its_own_schedule_and_the_other_the_files():
    exp = _exp()
    plain, own = (resolve(exp, v) for v in exp.variants)
    assert (plain.workload.rate, own.workload.rate) == (100, 7)
    assert [s.do for s in plain.schedule] == ["kill"] and [s.do for s in own.schedule] == ["pause"]
    assert plain.groups is not None and plain.groups.members == 2
    assert plain.features == [] and own.features == ["kip-848"]
    assert own.settings["consumer"]["group.protocol"] == "consumer"


def test_every_shipped_variant_resolves():
    for path in experiments.catalog().values():
        exp = experiments.load(path)
        for v in exp.variants:
            rv = resolve(exp, v)
            assert rv.workload.topic == exp.workload.topic, (exp.id, v.id)
            assert set(v.requires) <= set(rv.features), (exp.id, v.id)


def test_validate_prints_each_variants_resolved_roles_and_settings():
    """``kchaos validate`` shows what each variant runs after the merges: the roles, and
    the settings by what they set (a pipeline's producer apart from the workload's)."""
    from kchaos import experiment as experiments

    plan = experiments.plan(experiments.load(experiments.find("eos-tradeoffs")))
    lines = plan.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  variant plain "))
    assert (
        lines[at + 1].startswith("    roles: 1 producer(s) at ")
        and "pipeline: 2 worker(s), at-least-once" in lines[at + 1]
    )
    assert "producer enable.idempotence=True" in lines[at + 2]
    assert "workers' producer acks=all, enable.idempotence=False" in lines[at + 2]
