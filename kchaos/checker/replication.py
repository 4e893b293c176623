"""The replication family: the watched partition's leaders and ISR over the run (changes,
shrinks, time under-replicated, leader epochs) and, timed from the fault, when the ISR
shrank, when a new leader was elected and whether it came from the ISR, and what the old
leader went on acknowledging after the election.

Pure functions over an ``Index``: the ``leader`` events (the watched partition's leader
and ISR, polled twice a second, so each time is up to about half a second late), the
``fault`` events and the sends with what the checker found missing (``Index.absent``).
"""

from __future__ import annotations

from typing import Any

from kchaos.checker.index import Index
from kchaos.events import Leader


def _leaders(ix: Index, topic: str) -> list[Leader]:
    return sorted((e for e in ix.other if isinstance(e, Leader) and e.topic == topic), key=lambda e: e.t)


def _first_fault(ix: Index) -> float | None:
    return ix.fault_start_times[0] if ix.fault_start_times else None


def isr_shrink_after_fault(leaders: list[Leader], fault_t: float | None) -> float | None:
    """Seconds from the first fault to the first ISR shrink seen after it (None: none)."""
    if fault_t is None:
        return None
    for a, b in zip(leaders, leaders[1:], strict=False):
        if b.t >= fault_t and len(b.isr) < len(a.isr):
            return round(b.t - fault_t, 3)
    return None


def election_after_fault(leaders: list[Leader], fault_t: float | None) -> float | None:
    """When the first leader other than the one before the fault was seen (None: none).
    A ``-1`` leader (none) is not an election."""
    if fault_t is None:
        return None
    before = [e.leader for e in leaders if e.t <= fault_t and e.leader >= 0]
    old = before[-1] if before else None
    for e in leaders:
        if e.t > fault_t and e.leader >= 0 and old is not None and e.leader != old:
            return e.t
    return None


def leaders_outside_isr(leaders: list[Leader]) -> int:
    """Leader changes whose new leader was not in the last non-empty ISR seen before it:
    an election from outside the ISR (from the ELR, KIP-966, or an unclean one). A leader
    of ``-1`` (offline) is skipped, so the ISR it reports does not count; so is a state
    seen before that comes back without its leader in the ISR (a stale answer, e.g. from
    a healed zombie's metadata, not an election)."""
    count, last_leader, last_isr = 0, None, None
    seen: set[tuple[int, tuple[int, ...]]] = set()
    for e in leaders:
        if e.leader < 0:
            continue
        state = (e.leader, tuple(e.isr))
        outside = last_leader is not None and e.leader != last_leader and last_isr is not None
        if outside and e.leader not in last_isr:  # type: ignore[operator]
            if state in seen:
                continue
            count += 1
        seen.add(state)
        last_leader = e.leader
        if e.isr:
            last_isr = set(e.isr)
    return count


def replication_timings(ix: Index, topic: str) -> dict[str, Any]:
    """The measurements of this module for one variant (``measurements.all_measurements``)."""
    leaders = _leaders(ix, topic)
    fault_t = _first_fault(ix)
    elected = election_after_fault(leaders, fault_t)
    out: dict[str, Any] = {
        "isr_shrink_after_fault_s": isr_shrink_after_fault(leaders, fault_t),
        "leader_elected_after_fault_s": None if elected is None or fault_t is None else round(elected - fault_t, 3),
        "leaders_outside_isr": leaders_outside_isr(leaders) if leaders else None,
        "lost_acked_after_election": None,
        "lost_acks_after_election_s": None,
        "election_to_heal_s": None,
        "kept_acks_election_to_heal": None,
    }
    if elected is None:
        return out
    absent = ix.absent
    lost_after = [s.t1 for s in ix.sends.values() if absent.get(s.id) == "lost" and s.t1 > elected]
    out["lost_acked_after_election"] = len(lost_after)
    out["lost_acks_after_election_s"] = round(max(lost_after) - elected, 3) if lost_after else 0.0
    heal = ix.heal_t
    if elected < heal < float("inf"):
        out["election_to_heal_s"] = round(heal - elected, 3)
        out["kept_acks_election_to_heal"] = sum(
            1 for s in ix.sends.values() if s.status == "ok" and s.id not in absent and elected < s.t1 < heal
        )
    return out


def leader_timeline(ix: Index) -> list[dict[str, Any]]:
    return [
        {"t": e.t, "topic": e.topic, "partition": e.partition, "leader": e.leader, "isr": e.isr}
        for e in ix.other
        if isinstance(e, Leader)
    ]


def replication_measurements(ix: Index, topic: str) -> dict[str, Any]:
    """Leader changes, ISR size and leader epochs: what replication questions are about."""
    leaders = [e for e in ix.other if isinstance(e, Leader) and e.topic == topic]
    changes = sum(1 for a, b in zip(leaders, leaders[1:], strict=False) if a.leader != b.leader)
    shrinks = sum(1 for a, b in zip(leaders, leaders[1:], strict=False) if len(b.isr) < len(a.isr))
    epochs = {r.leader_epoch for r in ix.reads if r.group is None and r.leader_epoch is not None}
    not_enough = sum(
        1 for s in ix.sends.values() if s.error in ("NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND")
    )
    return {
        "leader_changes": changes,
        "isr_min": min((len(e.isr) for e in leaders), default=None),
        "isr_final": len(leaders[-1].isr) if leaders else None,
        "under_replicated_s": under_replicated_seconds(leaders),
        "isr_shrinks": shrinks,
        "leader_epochs": sorted(epochs),
        "leader_epoch_changes": max(0, len(epochs) - 1),
        "failed_not_enough_replicas": not_enough,
    }


def under_replicated_seconds(leaders: list[Leader]) -> float:
    """Seconds the watched partition spent with fewer in-sync replicas than its most."""
    if not leaders:
        return 0.0
    full = max(len(e.isr) for e in leaders)
    return round(sum(b.t - a.t for a, b in zip(leaders, leaders[1:], strict=False) if len(a.isr) < full), 2)
