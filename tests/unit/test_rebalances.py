"""Rebalance measurements per trigger, the committed-offset check and the sequence
diagram, on hand-made histories (pure code: no cluster)."""

from __future__ import annotations

from typing import Any

from kchaos.checker import check_index
from kchaos.checker.index import build
from kchaos.checker.measurements import all_measurements, committed_not_next, measure, timelines
from kchaos.checker.rebalances import by_trigger, episodes
from kchaos.events import Lag
from kchaos.report.sequence import LINE, mermaid

G, T = "g", "t"


def fault(name: str, target: str, t: float, phase: str = "start", **args: Any) -> dict[str, Any]:
    return {"op": "fault", "name": name, "target": target, "phase": phase, "t": t, "args": args or None}


def reb(op: str, reader: str, parts: list[int], t: float) -> dict[str, Any]:
    return {"op": op, "reader": reader, "group": G, "partitions": [[T, p] for p in parts], "t": t}


def rd(reader: str, partition: int, offset: int, t: float) -> dict[str, Any]:
    return {"op": "read", "reader": reader, "group": G, "topic": T, "partition": partition, "offset": offset,
            "id": f"p0-{partition * 100 + offset}", "key": None, "t": t}  # fmt: skip


def processed(n: int) -> list[dict[str, Any]]:
    """``process`` events of c0 for offsets 0..n-1 of partition 0."""
    return [
        {"op": "process", "reader": "c0", "group": G, "topic": T, "partition": 0, "offset": o, "id": f"p0-{o}",
         "outcome": "ok", "t": 1.0 + o}
        for o in range(n)
    ]  # fmt: skip


def eager_join() -> list[dict[str, Any]]:
    """c0 and c1 hold p0..p3; c2 joins at 10: both revoke everything, then all are assigned."""
    evs = [reb("assign", "c0", [0, 1], 0.0), reb("assign", "c1", [2, 3], 0.0)]
    evs += [rd("c0", p, o, 1.0 + o) for p in (0, 1) for o in range(9)]
    evs += [rd("c1", p, o, 1.0 + o) for p in (2, 3) for o in range(9)]
    evs += [fault("start-client", "c2", 10.0, **{"as": "join"}), fault("start-client", "c2", 10.0, "end")]
    evs += [reb("revoke", "c0", [0, 1], 11.0), reb("revoke", "c1", [2, 3], 11.1)]
    evs += [reb("assign", "c0", [0], 12.0), reb("assign", "c1", [1, 2], 12.0), reb("assign", "c2", [3], 12.2)]
    evs += [rd("c0", 0, 9, 12.5), rd("c1", 1, 9, 12.6), rd("c1", 2, 9, 12.7), rd("c2", 3, 9, 13.0)]
    return evs


def test_an_eager_join_revokes_every_partition_and_pauses_the_group():
    ep = episodes(build(eager_join()))
    assert len(ep) == 1
    e = ep[0]
    assert e["trigger"] == "join" and e["action"] == "start-client"
    assert e["detect_s"] == 1.0  # c0's revoke, 1 s after the trigger
    assert e["others"] == 4 and e["revoked"] == 4
    assert e["duration_s"] == 1.2
    # p3: last read at 9.0 (offset 8), next at 13.0 by its new owner
    assert e["pause_max_s"] == 4.0
    assert e["stop_the_world_s"] == 3.5  # 9.0 -> 12.5: nobody read anything


def test_a_quiet_restart_has_no_other_member_rebalancing():
    evs = [reb("assign", "c0", [0], 0.0), reb("assign", "c1", [1], 0.0)]
    evs += [rd("c0", 0, o, 1.0 + o) for o in range(6)] + [rd("c1", 1, o, 1.0 + o) for o in range(6)]
    evs += [fault("kill-client", "c1", 2.0, **{"as": "static-kill"})]
    # a restart ends the kill: the nemesis records the end with the step that made it
    evs += [fault("kill-client", "c1", 4.0, "end", by="restart-client", **{"as": "static-restart"})]
    evs += [reb("assign", "c1", [1], 4.8), rd("c1", 1, 6, 5.0)]
    per = by_trigger(episodes(build(evs)))
    assert per["static-kill"]["others"] == 0 and per["static-kill"]["detect_s"] is None
    assert per["static-restart"]["others"] == 0 and per["static-restart"]["duration_s"] == 0.0


def test_triggers_of_one_kind_sum_counts_and_keep_the_longest_time():
    eps = [
        {"trigger": "kill-client", "detect_s": 6.0, "others": 2, "revoked": 2, "pause_max_s": 7.0,
         "stop_the_world_s": 1.0, "duration_s": 0.5, "redelivered": 3},
        {"trigger": "kill-client", "detect_s": 6.5, "others": 1, "revoked": 1, "pause_max_s": None,
         "stop_the_world_s": 0.5, "duration_s": 0.2, "redelivered": 0},
    ]  # fmt: skip
    k = by_trigger(eps)["kill-client"]
    assert k == {"detect_s": 6.5, "others": 3, "revoked": 3, "pause_max_s": 7.0, "stop_the_world_s": 1.0,
                 "duration_s": 0.5, "redelivered": 3}  # fmt: skip


def test_rebalance_measurements_are_in_the_summary_and_named_by_expectations():
    ix = build(eager_join())
    m = all_measurements(ix, T, check_index(ix))
    assert m["rebalance"]["join"]["revoked"] == 4 and m["rebalances"] == 1 and m["revoked_partitions"] == 4
    assert measure("rebalance.join.revoked") is not None and measure("rebalance.static-kill.others") is not None
    assert measure("rebalance.join.nonsense") is None and measure("rebalance..revoked") is None


def test_committed_offset_must_be_the_next_one_to_read():
    evs = processed(5)
    ix = build(evs)
    assert committed_not_next(ix, [Lag(G, T, 0, 0, 9.0, committed=5, end=5)]) == 0
    assert committed_not_next(ix, [Lag(G, T, 0, 1, 9.0, committed=4, end=5)]) == 1, "the last processed, not the next"
    # the last sample counts, not an earlier one
    assert (
        committed_not_next(ix, [Lag(G, T, 0, 3, 5.0, committed=2, end=5), Lag(G, T, 0, 0, 9.0, committed=5, end=5)])
        == 0
    )


def test_the_sequence_diagram_is_valid_mermaid_and_names_every_step():
    steps = timelines(build(eager_join()))["rebalance_steps"]
    assert steps[0] == {"t": 0.0, "who": "kchaos", "to": "c2", "what": "join"}
    whats = [s["what"] for s in steps]
    assert "revoke p0,p1" in whats and "assign p3" in whats and "first record p3@9" in whats
    lines = mermaid(steps)
    assert lines[0] == "sequenceDiagram"
    bad = [line for line in lines if not LINE.match(line)]
    assert bad == []
    declared = {line.split()[1] for line in lines if line.strip().startswith("participant")}
    used = set()
    for line in lines[1:]:
        body = line.strip()
        if "->>" in body:
            a, rest = body.split("->>", 1)
            used |= {a, rest.split(":", 1)[0]}
        elif body.startswith("Note over"):
            used.add(body.split()[2].rstrip(":"))
    assert used <= declared
    assert mermaid([]) == []
    odd = mermaid([{"t": 0.0, "who": "a;b", "to": "x", "what": "c:d#e"}])
    assert all(LINE.match(line) for line in odd), odd


def test_the_live_view_shows_the_first_groups_state_members_and_lag(tmp_path):
    from kchaos.history import HistoryWriter
    from kchaos.workload.groupwatch import STATES, GroupWatcher

    watcher = GroupWatcher("127.0.0.1:1", {"g": [T]}, HistoryWriter(tmp_path / "h.jsonl"), 1.0, "unit")
    assert watcher.snapshot() == "-", "nothing sampled yet"
    watcher._live[:] = [STATES.index("stable"), 3, 120]
    assert watcher.snapshot() == "stable, 3 members, lag 120"
    watcher._live[:] = [STATES.index("preparing_rebalancing"), 2, -1]
    assert watcher.snapshot() == "preparing_rebalancing, 2 members, lag ?"


def test_a_committed_offset_past_a_transaction_marker_is_still_the_next():
    procs = processed(3)
    drained = [{**rd("drain", 0, o, 9.0), "group": None} for o in (0, 1, 2, 4)]  # offset 3: a commit marker
    ix = build(procs + drained)
    assert committed_not_next(ix, [Lag(G, T, 0, 0, 9.0, committed=4, end=5)]) == 0
    assert committed_not_next(ix, [Lag(G, T, 0, 0, 9.0, committed=5, end=5)]) == 1, "record 4 was skipped over"


def test_a_restarted_members_late_assignment_is_not_the_next_trigger_noticed():
    """Seen in a loaded run of rebalance-triggers: the static member c1 came back 3.3 s
    after its restart, 0.3 s after c0 was SIGKILLed; its assignment completes its own
    join and says nothing about when the others noticed the crash (6 s later)."""
    evs = [reb("assign", "c0", [0], 0.0), reb("assign", "c1", [1], 0.0), reb("assign", "c2", [2], 0.0)]
    evs += [fault("kill-client", "c1", 2.0, **{"as": "static-kill"})]
    evs += [fault("kill-client", "c1", 4.0, "end", by="restart-client", **{"as": "static-restart"})]
    evs += [fault("kill-client", "c0", 7.0, **{"as": "crash"})]
    evs += [reb("assign", "c1", [1], 7.3)]  # c1's own join, late
    evs += [reb("revoke", "c2", [2], 13.2), reb("assign", "c2", [0, 2], 13.3), reb("revoke", "c1", [1], 13.2)]
    evs += [reb("revoke", "c1", [], 4.1)]  # a callback before its join (an empty revoke) is no join
    per = by_trigger(episodes(build(evs)))
    assert per["crash"]["detect_s"] == 6.2 and per["crash"]["others"] == 3
    assert per["static-restart"]["others"] == 0  # the empty revoke is its own member's


def test_a_quick_stop_and_start_are_two_episodes():
    evs = [reb("assign", "c0", [0, 1], 0.0), reb("assign", "c1", [2, 3], 0.0)]
    evs += [fault("stop-client", "c1", 5.0, **{"as": "leave"})]
    evs += [fault("stop-client", "c1", 5.2, "end", by="start-client", **{"as": "back"})]
    evs += [reb("revoke", "c0", [0, 1], 5.1), reb("assign", "c0", [0, 1, 2, 3], 5.15)]
    evs += [reb("revoke", "c0", [0, 1, 2, 3], 6.0), reb("assign", "c0", [0, 1], 6.1), reb("assign", "c1", [2, 3], 6.1)]
    per = by_trigger(episodes(build(evs)))
    assert per["leave"]["others"] == 2 and per["leave"]["revoked"] == 2
    assert per["back"]["others"] == 2 and per["back"]["revoked"] == 4
