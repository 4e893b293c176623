"""``kchaos demo``: a running order for a 20-minute talk.

A curated sequence (the story builds: a leader dies, acks decide what survives, a
partition makes a zombie leader, unclean election trades loss for availability,
transactions hide aborted writes, a rebalance pauses consumers), each with its quick-run
time (the suite's estimate) plus time to talk, cut to fit the minutes asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from kchaos import experiment as experiments
from kchaos.suite import estimate

#: Minutes of talking around each experiment (setting it up, reading the report).
TALK_MIN = 1.5
ORDER = (
    ("leader-failover", "The leader dies: how long are writes unavailable, and is anything lost?"),
    ("durability", "acks=1 loses acknowledged writes; acks=all with min.insync=2 does not."),
    ("network-partition", "An isolated leader keeps acknowledging acks=1 writes that are then thrown away."),
    ("unclean-election", "Unclean election: availability bought with lost, acknowledged data."),
    ("transactions", "A producer crashes mid-transaction: read_committed consumers never see its writes."),
    ("rebalance-protocol", "Eager vs cooperative rebalancing: who stops consuming, and for how long."),
    ("isr", "How the ISR shrinks and grows, and what min.insync.replicas does with it."),
)


@dataclass(frozen=True)
class Slot:
    experiment: str
    minutes: float
    say: str
    command: str


def running_order(minutes: float = 20.0) -> list[Slot]:
    """The curated experiments that exist, in order, while they fit in ``minutes``."""
    known = experiments.catalog()
    out: list[Slot] = []
    used = 0.0
    for exp_id, say in ORDER:
        if exp_id not in known:
            continue
        need = estimate(experiments.load(known[exp_id]), "quick") / 60 + TALK_MIN
        if used + need > minutes:
            break
        used += need
        out.append(Slot(exp_id, round(need, 1), say, f"kchaos run {exp_id} --quick --present --step"))
    return out
