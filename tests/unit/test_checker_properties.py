"""Property tests: clean histories of many shapes have no anomaly; planting any kind
into one is found.

A clean history is simulated from a model of Kafka's log: producers append to
partitions (keys stay on one partition), unknown sends may or may not land, failed ones
never do, transactions commit or abort (with a marker offset), consumer groups read the
committed records in order, and drain readers read everything.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kchaos.checker import KINDS, check
from tests.unit.histories import read_event, send_event

TOPIC = "t"


@st.composite
def clean_histories(draw) -> tuple[list[dict[str, Any]], int]:
    """A correct run: Kafka's log model, plus what makes checkers stumble: unknown sends,
    transactions whose outcome the client never learned, at-least-once groups that
    crash and rebalance (re-delivering from their last commit), retention that removed
    the oldest records before the drain, and acks that arrive after the drain."""
    n_part = draw(st.integers(1, 3))
    logs: list[list[dict[str, Any] | None]] = [[] for _ in range(n_part)]  # None = txn marker
    events: list[dict[str, Any]] = []
    txn_status: dict[str, str] = {}
    t = 0.0
    for p in range(draw(st.integers(1, 3))):
        producer = f"p{p}"
        transactional = draw(st.booleans())
        seq = 0
        for b in range(draw(st.integers(0, 4))):
            txn = f"{producer}-x{b}" if transactional else None
            touched, failed = set(), False
            for _ in range(draw(st.integers(1, 4))):
                key = f"k{draw(st.integers(0, 3))}"
                part = int(key[1:]) % n_part
                status = draw(st.sampled_from(["ok", "ok", "ok", "unknown", "fail"]))
                id_ = f"{producer}-{seq}"
                ev = {
                    "op": "send",
                    "id": id_,
                    "producer": producer,
                    "seq": seq,
                    "key": key,
                    "topic": TOPIC,
                    "status": status,
                    "t0": t,
                    "t1": t + 0.01,
                }
                if txn:
                    ev["txn"] = txn
                # In a transaction an unknown send is written (a commit flushes it; a
                # failed one makes the transaction abort).
                lands = status == "ok" or (status == "unknown" and (txn is not None or draw(st.booleans())))
                failed |= status == "fail"
                if lands:
                    logs[part].append({"id": id_, "key": key, "txn": txn})
                    touched.add(part)
                    if status == "ok":
                        ev.update(partition=part, offset=len(logs[part]) - 1)
                events.append(ev)
                seq += 1
                t += 0.01
            if txn:
                outcome = "abort" if failed else draw(st.sampled_from(["commit", "abort"]))
                txn_status[txn] = outcome
                learned = draw(st.sampled_from([outcome, outcome, "unknown"]))
                events.append({"op": "txn", "txn": txn, "producer": producer, "status": learned, "t": t})
                for part in touched:
                    logs[part].append(None)

    def visible(rec: dict[str, Any] | None) -> bool:
        return rec is not None and (rec["txn"] is None or txn_status[rec["txn"]] == "commit")

    def read(reader, group, part, off, rec, iso=None):
        ev = {
            "op": "read",
            "reader": reader,
            "group": group,
            "topic": TOPIC,
            "partition": part,
            "offset": off,
            "id": rec["id"],
            "key": rec["key"],
            "t": t,
        }
        if iso:
            ev["isolation"] = iso
        events.append(ev)

    for g in range(draw(st.integers(0, 2))):
        group = f"g{g}"
        for part in range(n_part):
            t += 0.01
            reader = f"{group}-c{part}"
            events.append({"op": "assign", "reader": reader, "group": group, "partitions": [[TOPIC, part]], "t": t})
            committed, crash_at = 0, draw(st.integers(0, len(logs[part]) + 1))
            every = draw(st.integers(1, 3))
            for off, rec in enumerate(logs[part]):
                if off == crash_at:  # crash: a new member resumes at the last commit
                    reader = f"{reader}'"
                    t += 0.01
                    events.append(
                        {"op": "assign", "reader": reader, "group": group, "partitions": [[TOPIC, part]], "t": t}
                    )
                    for again in range(committed, off):
                        if visible(logs[part][again]):
                            read(reader, group, part, again, logs[part][again])
                if visible(rec):
                    read(reader, group, part, off, rec)
                if (off + 1) % every == 0:
                    t += 0.01
                    committed = off + 1
                    events.append(
                        {
                            "op": "commit",
                            "reader": reader,
                            "group": group,
                            "topic": TOPIC,
                            "partition": part,
                            "offset": committed,
                            "status": "ok",
                            "t": t,
                        }
                    )
    t += 1.0
    for part in range(n_part):
        # Retention removed the oldest records of some partitions before the drain.
        start = draw(st.integers(0, len(logs[part]))) if draw(st.booleans()) else 0
        for iso in ("read_committed", "read_uncommitted"):
            for off, rec in enumerate(logs[part]):
                if off >= start and rec is not None and (iso == "read_uncommitted" or visible(rec)):
                    read(f"d-{iso}", None, part, off, rec, iso)
            events.append(
                {
                    "op": "drain",
                    "reader": f"d-{iso}",
                    "topic": TOPIC,
                    "partition": part,
                    "end_offset": len(logs[part]),
                    "start_offset": start,
                    "isolation": iso,
                    "t": t,
                }
            )
    # Acks that arrive after the drain finished, past its end.
    for i in range(draw(st.integers(0, 2))):
        part = i % n_part
        t += 0.01
        events.append(
            {
                "op": "send",
                "id": f"late-{i}",
                "producer": "late",
                "seq": i,
                "key": None,
                "topic": TOPIC,
                "status": "ok",
                "partition": part,
                "offset": len(logs[part]),
                "t0": t - 2,
                "t1": t,
            }
        )
        logs[part].append({"id": f"late-{i}", "key": None, "txn": None})
    end = max((len(log) for log in logs), default=0) + 100
    return events, end


def S(id_, off, status="ok", key="z", part=0, txn=None):  # noqa: N802 - reads like the table below
    # Acked before any drain: a planted loss is not a late ack.
    return send_event(id_, off, 0.0, status, part, key, txn) | {"t1": 0.001}


def R(id_, off, reader="dz", group=None, key="z", part=0, iso=None):  # noqa: N802
    return read_event(id_, off, 9.5, part, reader, group, iso, key)


def plant(kind: str, e: int) -> list[dict[str, Any]]:
    """A self-contained fragment with one anomaly of ``kind``, at offsets from ``e`` on."""
    return {
        "lost": [S("px-0", e)],
        "duplicate": [S("px-0", e), R("px-0", e), R("px-0", e + 1)],
        "reordered": [S("px-0", e + 1), S("px-1", e), R("px-0", e + 1), R("px-1", e)],
        "key-order-broken": [S("px-0", e, key="m"), S("px-1", e, key="m", part=1), R("px-0", e), R("px-1", e, part=1)],
        "inconsistent-offset": [S("px-0", e), R("px-0", e, reader="cz", group="gz"), S("px-1", e + 1), R("px-1", e)],
        "ack-mismatch": [S("px-0", e), S("px-1", e + 1), R("px-0", e + 1), R("px-1", e + 2)],
        "phantom": [R("ghost-0", e)],
        "failed-visible": [S("px-0", None, status="fail"), R("px-0", e)],
        "nonmonotonic-poll": [S("px-0", e), S("px-1", e + 1), R("px-0", e), R("px-1", e + 1), R("px-0", e)],
        "aborted-read": [
            S("px-0", e, txn="tz"),
            {"op": "txn", "txn": "tz", "producer": "px", "status": "abort", "t": 9.2},
            R("px-0", e, reader="cz", group="gz"),
        ],
        "uncommitted-read": [
            S("px-0", e, txn="tz"),
            R("px-0", e, reader="cz", group="gz"),
            {"op": "drain", "reader": "dz", "topic": TOPIC, "partition": 0, "end_offset": e + 1, "t": 9.9},
        ],
        "ack-conflict": [S("px-0", e), S("px-1", e), R("px-0", e)],
        "truncated-read": [
            S("px-0", e),
            R("px-0", e, reader="cz", group="gz"),
            {"op": "drain", "reader": "dz", "topic": TOPIC, "partition": 0, "end_offset": e, "t": 9.9},
        ],
        "epoch-regression": [
            S("px-0", e),
            S("px-1", e + 1),
            R("px-0", e, reader="cz", group="gz") | {"leader_epoch": 3},
            R("px-1", e + 1, reader="cz", group="gz") | {"leader_epoch": 2},
        ],
        "rewind-past-commit": [
            S("px-0", e),
            R("px-0", e, reader="cz", group="gz"),
            {
                "op": "commit",
                "reader": "cz",
                "group": "gz",
                "topic": TOPIC,
                "partition": 0,
                "offset": e + 1,
                "status": "ok",
                "t": 9.55,
            },
            {"op": "assign", "reader": "cz", "group": "gz", "partitions": [[TOPIC, 0]], "t": 9.6},
            R("px-0", e, reader="cz", group="gz") | {"t": 9.7},
        ],
        "zombie-commit": [
            {"op": "lost", "reader": "cz", "group": "gz", "partitions": [[TOPIC, 0]], "t": 9.6},
            {
                "op": "commit",
                "reader": "cz",
                "group": "gz",
                "topic": TOPIC,
                "partition": 0,
                "offset": e,
                "status": "ok",
                "t": 9.7,
            },
        ],
        "torn-transaction": [
            S("px-0", e, txn="tz"),
            S("px-1", e + 1, txn="tz"),
            {"op": "txn", "txn": "tz", "producer": "px", "status": "commit", "t": 9.2},
            R("px-0", e),
        ],
        "precommitted-read": [
            S("px-0", e, txn="tz") | {"t0": 5.0, "t1": 5.01},
            R("px-0", e, reader="cz", group="gz") | {"t": 1.0},
        ],
        "stuck-lso": [
            S("sx-0", 0, txn="tx") | {"topic": "stuck"},
            {
                "op": "drain",
                "reader": "du",
                "topic": "stuck",
                "partition": 0,
                "end_offset": 2,
                "t": 998.0,
                "isolation": "read_uncommitted",
            },
            {
                "op": "stall",
                "reader": "dz",
                "topic": "stuck",
                "partition": 0,
                "position": 0,
                "end_offset": 2,
                "t": 999.0,
            },
        ],
        "exactly-once-broken": [
            S("px-0", e),
            R("px-0", e),
            S("ox-0", 0, part=9),
            S("ox-1", 1, part=9),
            R("ox-0", 0, part=9) | {"input": "px-0"},
            R("ox-1", 1, part=9) | {"input": "px-0"},
            {
                "op": "process",
                "reader": "pz",
                "group": "pipe",
                "topic": TOPIC,
                "partition": 0,
                "offset": e,
                "id": "px-0",
                "outcome": "ok",
                "output": "ox-0",
                "t": 9.6,
            },
            {
                "op": "commit",
                "reader": "pz",
                "group": "pipe",
                "topic": TOPIC,
                "partition": 0,
                "offset": e + 1,
                "status": "ok",
                "t": 9.7,
            },
        ],
        "skipped": [
            S("px-0", e),
            S("px-1", e + 1),
            S("px-2", e + 2),
            R("px-0", e),
            R("px-1", e + 1),
            R("px-2", e + 2),
            R("px-0", e, reader="cz", group="gz"),
            R("px-2", e + 2, reader="cz", group="gz"),
        ],
    }[kind]


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(clean_histories())
def test_clean_histories_have_no_anomaly(h):
    events, _ = h
    result = check(events)
    assert result["anomalies"] == dict.fromkeys(KINDS, 0), result["examples"]
    # Only the partitions an ack reached after the drain finished are left unjudged.
    late = sorted({(e["topic"], e["partition"]) for e in events if e["op"] == "send" and e["producer"] == "late"})
    assert result["undrained"] == [list(tp) for tp in late]
    assert result["info"]["late_acks"] == sum(1 for e in events if e["op"] == "send" and e["producer"] == "late")


@SETTINGS
@given(clean_histories(), st.sampled_from(KINDS))
def test_planted_anomaly_is_found(h, kind):
    events, end = h
    result = check(events + plant(kind, end))
    assert result["anomalies"][kind] >= 1, (kind, result["anomalies"])
