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

TOPIC = "t"


@st.composite
def clean_histories(draw) -> tuple[list[dict[str, Any]], int]:
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
            touched = set()
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
                lands = status == "ok" or (status == "unknown" and draw(st.booleans()))
                if lands:
                    logs[part].append({"id": id_, "key": key, "txn": txn})
                    touched.add(part)
                    if status == "ok":
                        ev.update(partition=part, offset=len(logs[part]) - 1)
                events.append(ev)
                seq += 1
                t += 0.01
            if txn:
                outcome = draw(st.sampled_from(["commit", "abort"]))
                txn_status[txn] = outcome
                events.append({"op": "txn", "txn": txn, "producer": producer, "status": outcome, "t": t})
                for part in touched:
                    logs[part].append(None)

    def visible(rec: dict[str, Any] | None) -> bool:
        return rec is not None and (rec["txn"] is None or txn_status[rec["txn"]] == "commit")

    for g in range(draw(st.integers(0, 2))):
        members = draw(st.integers(1, 2))
        for part in range(n_part):
            reader = f"g{g}-c{part % members}"
            events.append({"op": "assign", "reader": reader, "group": f"g{g}", "partitions": [[TOPIC, part]], "t": t})
            for off, rec in enumerate(logs[part]):
                if visible(rec):
                    events.append(
                        {
                            "op": "read",
                            "reader": reader,
                            "group": f"g{g}",
                            "topic": TOPIC,
                            "partition": part,
                            "offset": off,
                            "id": rec["id"],
                            "key": rec["key"],
                            "t": t,
                        }
                    )
    for iso in ("read_committed", "read_uncommitted"):
        for part in range(n_part):
            for off, rec in enumerate(logs[part]):
                if rec is not None and (iso == "read_uncommitted" or visible(rec)):
                    events.append(
                        {
                            "op": "read",
                            "reader": f"d-{iso}",
                            "group": None,
                            "topic": TOPIC,
                            "partition": part,
                            "offset": off,
                            "id": rec["id"],
                            "key": rec["key"],
                            "t": t,
                            "isolation": iso,
                        }
                    )
            events.append(
                {
                    "op": "drain",
                    "reader": f"d-{iso}",
                    "topic": TOPIC,
                    "partition": part,
                    "end_offset": len(logs[part]),
                    "t": t,
                }
            )
    end = max((len(log) for log in logs), default=0) + 100
    return events, end


def S(id_, off, status="ok", key="z", part=0, txn=None):  # noqa: N802 - reads like the table below
    producer, seq = id_.rsplit("-", 1)
    ev = {
        "op": "send",
        "id": id_,
        "producer": producer,
        "seq": int(seq),
        "key": key,
        "topic": TOPIC,
        "status": status,
        "t0": 9.0,
        "t1": 9.01,
    }
    if status == "ok":
        ev.update(partition=part, offset=off)
    if txn:
        ev["txn"] = txn
    return ev


def R(id_, off, reader="dz", group=None, key="z", part=0, iso=None):  # noqa: N802
    ev = {
        "op": "read",
        "reader": reader,
        "group": group,
        "topic": TOPIC,
        "partition": part,
        "offset": off,
        "id": id_,
        "key": key,
        "t": 9.5,
    }
    if iso:
        ev["isolation"] = iso
    return ev


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
        "uncommitted-read": [S("px-0", e, txn="tz"), R("px-0", e, reader="cz", group="gz")],
        "reprocessed": [
            S("px-0", e),
            R("px-0", e),
            R("px-0", e, reader="cz", group="gz"),
            {"op": "assign", "reader": "cz", "group": "gz", "partitions": [[TOPIC, 0]], "t": 9.6},
            R("px-0", e, reader="cz", group="gz"),
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
    assert result["undrained"] == []


@SETTINGS
@given(clean_histories(), st.sampled_from(KINDS))
def test_planted_anomaly_is_found(h, kind):
    events, end = h
    result = check(events + plant(kind, end))
    assert result["anomalies"][kind] >= 1, (kind, result["anomalies"])
