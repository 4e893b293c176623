"""The replication timings (``kchaos.checker.replication``) on small hand-built histories."""

from __future__ import annotations

from typing import Any

from kchaos.checker import index
from kchaos.checker.measurements import MEASURES
from kchaos.checker.replication import replication_timings
from tests.unit.histories import T, send_event


def leader(t: float, lead: int, isr: list[int]) -> dict[str, Any]:
    return {"op": "leader", "topic": T, "partition": 0, "leader": lead, "isr": isr, "t": t}


def fault(t: float, phase: str, name: str = "kill", target: str = "3") -> dict[str, Any]:
    return {"op": "fault", "name": name, "target": target, "phase": phase, "t": t}


def drain(*ids_offsets: tuple[str, int], t: float) -> list[dict[str, Any]]:
    reads = [
        {
            "op": "read",
            "reader": "d0",
            "group": None,
            "topic": T,
            "partition": 0,
            "offset": o,
            "id": i,
            "key": "k",
            "t": t,
            "isolation": "read_committed",
        }
        for i, o in ids_offsets
    ]
    end = max((o for _, o in ids_offsets), default=-1) + 1
    done = {"op": "drain", "reader": "d0", "topic": T, "partition": 0, "end_offset": end, "start_offset": 0, "t": t}
    return [*reads, {**done, "isolation": "read_committed"}]


def timings(events: list[dict[str, Any]]) -> dict[str, Any]:
    return replication_timings(index.build(events), T)


def test_the_names_are_measurements() -> None:
    out = timings([leader(0.0, 1, [1, 2, 3])])
    assert set(out) <= set(MEASURES)


def test_a_follower_crash_times_the_isr_shrink_and_elects_no_one() -> None:
    out = timings(
        [
            leader(0.0, 2, [1, 2, 3]),
            fault(5.0, "start"),
            leader(9.5, 2, [1, 2]),
            fault(14.0, "end"),
            leader(20.0, 2, [1, 2, 3]),
        ]
    )
    assert out["isr_shrink_after_fault_s"] == 4.5
    assert out["leader_elected_after_fault_s"] is None
    assert out["leaders_outside_isr"] == 0
    assert out["lost_acked_after_election"] is None


def test_a_shrink_before_the_fault_is_not_the_faults() -> None:
    out = timings([leader(0.0, 2, [1, 2, 3]), leader(1.0, 2, [2, 3]), fault(2.0, "start"), leader(3.0, 2, [2, 3])])
    assert out["isr_shrink_after_fault_s"] is None


def test_an_election_from_the_isr_is_not_outside_it() -> None:
    out = timings([leader(0.0, 3, [1, 2, 3]), fault(4.0, "start"), leader(11.0, 1, [1, 2])])
    assert out["leader_elected_after_fault_s"] == 7.0
    assert out["leaders_outside_isr"] == 0


def test_an_elr_or_unclean_election_is_outside_the_last_isr() -> None:
    # The ISR fell to the leader alone, the leader died (offline: -1), and 3 was elected.
    out = timings(
        [
            leader(0.0, 2, [1, 2, 3]),
            fault(3.0, "start", "slow", "2"),
            leader(6.0, 2, [2]),
            fault(7.0, "start", "kill", "2"),
            leader(13.0, -1, []),
            leader(13.5, 3, [3]),
        ]
    )
    assert out["leaders_outside_isr"] == 1
    assert out["leader_elected_after_fault_s"] == 10.5


def test_a_stale_answer_from_a_healed_zombie_is_no_election() -> None:
    out = timings(
        [
            leader(0.0, 1, [1, 2, 3]),
            fault(3.0, "start", "isolate", "1"),
            leader(12.0, 2, [2, 3]),
            leader(17.3, 1, [1, 2, 3]),  # the old leader's metadata, read once at the heal
            leader(17.8, 2, [2, 3]),
            leader(18.8, 2, [1, 2, 3]),
        ]
    )
    assert out["leaders_outside_isr"] == 0
    assert out["leader_elected_after_fault_s"] == 9.0


def test_the_old_leader_returning_is_no_election() -> None:
    out = timings([leader(0.0, 3, [3]), fault(1.0, "start"), leader(9.0, -1, []), leader(12.0, 3, [3])])
    assert out["leaders_outside_isr"] == 0
    assert out["leader_elected_after_fault_s"] is None


def test_an_isolated_leader_that_acks_after_the_election() -> None:
    # Isolated at 1, a new leader at 7, healed at 12. The old leader acked a (kept, before
    # the fault), b (lost, before the election), c and d (lost, after it); the new leader
    # acked nothing before the heal, e after it.
    events = [
        leader(0.0, 3, [1, 2, 3]),
        send_event("p0-0", 0, 0.5),
        fault(1.0, "start", "isolate"),
        send_event("p0-1", 1, 4.0),
        leader(7.0, 1, [1, 2]),
        send_event("p0-2", 2, 8.0),
        send_event("p0-3", 3, 11.0),
        fault(12.0, "end", "isolate"),
        send_event("p0-4", 1, 12.5),
        *drain(("p0-0", 0), ("p0-4", 1), t=15.0),
    ]
    out = timings(events)
    assert out["leader_elected_after_fault_s"] == 6.0
    assert out["lost_acked_after_election"] == 2
    assert out["lost_acks_after_election_s"] == 4.005
    assert out["election_to_heal_s"] == 5.0
    assert out["kept_acks_election_to_heal"] == 0


def test_a_client_that_moved_to_the_new_leader_has_kept_acks_before_the_heal() -> None:
    events = [
        leader(0.0, 3, [1, 2, 3]),
        fault(1.0, "start", "isolate"),
        leader(7.0, 1, [1, 2]),
        send_event("p0-0", 0, 8.0),
        fault(12.0, "end", "isolate"),
        *drain(("p0-0", 0), t=15.0),
    ]
    out = timings(events)
    assert out["kept_acks_election_to_heal"] == 1
    assert out["lost_acked_after_election"] == 0
    assert out["lost_acks_after_election_s"] == 0.0


def test_no_leader_events_measure_nothing() -> None:
    out = timings([fault(1.0, "start"), send_event("p0-0", 0, 2.0)])
    assert all(v is None for v in out.values())
