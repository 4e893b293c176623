"""The one table of a variant's consumer-group ids (``roles.group_ids``): every group the
file declares gets exactly one id of its own run and variant, named as the file names it,
and a group that reads another topic carries that topic's name."""

from __future__ import annotations

from kchaos import experiment as experiments
from kchaos.roles import group_ids
from kchaos.spec.resolve import resolve


def test_every_declared_group_has_one_id_of_its_own():
    checked = 0
    for path in experiments.catalog().values():
        exp = experiments.load(path)
        names = {t.name: f"{t.name}-run1" for t in exp.topics}
        for i, v in enumerate(exp.variants):
            rv = resolve(exp, v)
            table = group_ids(i, rv, names)
            expected = {f"g{g}" for g in range(rv.groups.groups)} if rv.groups is not None else set()
            expected |= ({"pipe"} if rv.pipeline else set()) | ({"pattern"} if rv.pattern else set())
            expected |= {f"reader:{r}" for r in rv.schemas.readers} if rv.schemas is not None else set()
            assert set(table) == expected, (exp.id, v.id)
            assert len(set(table.values())) == len(table), (exp.id, v.id)
            assert all(gid.startswith(f"kchaos-v{i}-") for gid in table.values()), (exp.id, v.id)
            if rv.groups is not None and rv.groups.topic:  # a group reading another topic names it
                assert table["g0"].endswith(names[rv.groups.topic]), (exp.id, v.id)
            checked += len(table)
    assert checked > 50  # the shipped experiments declare many groups: the loop ran


def _table(exp_id: str, variant: str) -> tuple[dict[str, str], dict[str, str]]:
    from kchaos.roles import group_topics

    exp = experiments.load(experiments.find(exp_id))
    v = next(v for v in exp.variants if v.id == variant)
    rv, names = resolve(exp, v), {t.name: f"{t.name}-run1" for t in exp.topics}
    ids = group_ids(0, rv, names)
    return ids, group_topics(rv, names, ids)


def test_the_group_watcher_reads_each_group_on_the_topic_it_consumes():
    """A group that reads another topic (eos-tradeoffs' read_committed reader reads the
    pipeline's output) has its lag read there, the pipeline's group on its input."""
    ids, topics = _table("eos-tradeoffs", "plain")
    assert topics[ids["g0"]] == ["output-run1"]
    assert topics[ids["pipe"]] == ["input-run1"]


def test_a_share_group_is_described_but_its_offsets_are_not_read():
    """A share group commits no offsets: reading them would only ever find none."""
    ids, topics = _table("dead-letter-topic", "share")
    assert topics[ids["pattern"]] == []
    ids, topics = _table("dead-letter-topic", "dedupe")
    assert topics[ids["pattern"]] == ["payments-run1"]


def test_a_pattern_group_is_watched_on_its_retry_topics_too():
    """Retry topics are the pattern group's too: its commits there count as much."""
    ids, topics = _table("retry-architecture", "topics")
    assert len(topics[ids["pattern"]]) > 1 and topics[ids["pattern"]][0] == "orders-run1"
