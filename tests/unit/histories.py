"""A tiny builder of hand-made histories for checker tests (4 to 12 events each)."""

from __future__ import annotations

from typing import Any

T = "t"


def send_event(
    id: str,
    offset: int | None,
    t: float,
    status: str = "ok",
    partition: int = 0,
    key: Any = "k",
    txn: str | None = None,
    topic: str = T,
) -> dict[str, Any]:
    """One ``send`` event (producer and seq from the id, ``p0-17``); acked 5 ms after ``t``."""
    producer, seq = id.rsplit("-", 1)
    ev = {
        "op": "send",
        "id": id,
        "producer": producer,
        "seq": int(seq),
        "key": key,
        "topic": topic,
        "status": status,
        "t0": t,
        "t1": round(t + 0.005, 6),
    }
    if status == "ok":
        ev.update(partition=partition, offset=offset)
    if txn:
        ev["txn"] = txn
    return ev


def read_event(
    id: str,
    offset: int,
    t: float,
    partition: int = 0,
    reader: str = "c0",
    group: str | None = "g",
    isolation: str | None = None,
    key: Any = "k",
    topic: str = T,
) -> dict[str, Any]:
    """One ``read`` event."""
    ev = {
        "op": "read",
        "reader": reader,
        "group": group,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "id": id,
        "key": key,
        "t": t,
    }
    if isolation:
        ev["isolation"] = isolation
    return ev


class H:
    """Builds a list of events; times advance by 0.01 s per event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _t(self) -> float:
        return round(len(self.events) * 0.01, 3)

    def send(
        self,
        id: str,
        offset: int | None = None,
        status: str = "ok",
        partition: int = 0,
        key: Any = "k",
        txn: str | None = None,
        topic: str = T,
    ) -> H:
        self.events.append(send_event(id, offset, self._t(), status, partition, key, txn, topic))
        return self

    def read(
        self,
        id: str,
        offset: int,
        partition: int = 0,
        reader: str = "c0",
        group: str | None = "g",
        isolation: str | None = None,
        key: Any = "k",
        topic: str = T,
        leader_epoch: int | None = None,
        input: str | None = None,
    ) -> H:
        ev = read_event(id, offset, self._t(), partition, reader, group, isolation, key, topic)
        if leader_epoch is not None:
            ev["leader_epoch"] = leader_epoch
        if input is not None:
            ev["input"] = input
        self.events.append(ev)
        return self

    def drained(
        self,
        *ids_offsets: tuple[str, int],
        partition: int = 0,
        isolation: str = "read_committed",
        reader: str = "d0",
        end: int | None = None,
        topic: str = T,
        start: int = 0,
        inputs: dict[str, str] | None = None,
    ) -> H:
        """Drain reads of (id, offset) pairs, then the drain event for the partition
        (``inputs``: id -> the input id that output record carries)."""
        for id_, off in ids_offsets:
            self.read(
                id_,
                off,
                partition=partition,
                reader=reader,
                group=None,
                isolation=isolation,
                topic=topic,
                input=(inputs or {}).get(id_),
            )
        last = max((o for _, o in ids_offsets), default=-1)
        self.events.append(
            {
                "op": "drain",
                "reader": reader,
                "topic": topic,
                "partition": partition,
                "end_offset": end if end is not None else last + 1,
                "start_offset": start,
                "isolation": isolation,
                "t": self._t(),
            }
        )
        return self

    def commit(
        self, offset: int, group: str = "g", reader: str = "c0", partition: int = 0, status: str = "ok", topic: str = T
    ) -> H:
        self.events.append(
            {
                "op": "commit",
                "reader": reader,
                "group": group,
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "status": status,
                "t": self._t(),
            }
        )
        return self

    def process(
        self, id: str, offset: int, group: str = "g", reader: str = "c0", topic: str = T, output: str | None = None
    ) -> H:
        ev = {
            "op": "process",
            "reader": reader,
            "group": group,
            "topic": topic,
            "partition": 0,
            "offset": offset,
            "id": id,
            "outcome": "ok",
            "t": self._t(),
        }
        if output:
            ev["output"] = output
        self.events.append(ev)
        return self

    def stall(self, position: int, end: int, t: float, partition: int = 0) -> H:
        """A read_committed drain gave up at ``position`` below ``end``, at time ``t``."""
        self.events.append(
            {
                "op": "stall",
                "reader": "d0",
                "topic": T,
                "partition": partition,
                "position": position,
                "end_offset": end,
                "isolation": "read_committed",
                "t": t,
            }
        )
        return self

    def meta(self, txn_timeout_s: float) -> H:
        self.events.append({"op": "meta", "t": self._t(), "txn_timeout_s": txn_timeout_s})
        return self

    def txn(self, txn: str, status: str, producer: str = "p0") -> H:
        self.events.append({"op": "txn", "txn": txn, "producer": producer, "status": status, "t": self._t()})
        return self

    def rebalance(self, op: str, reader: str = "c0", group: str = "g", partitions: Any = ((T, 0),)) -> H:
        self.events.append(
            {"op": op, "reader": reader, "group": group, "partitions": [list(p) for p in partitions], "t": self._t()}
        )
        return self

    def fault(self, name: str, phase: str, target: str = "1") -> H:
        self.events.append({"op": "fault", "name": name, "target": target, "phase": phase, "t": self._t()})
        return self

    def seek(self, offset: int, reader: str = "c0", group: str = "g", partition: int = 0) -> H:
        """The reader moved its own position on the partition to ``offset``."""
        self.events.append(
            {
                "op": "seek",
                "reader": reader,
                "group": group,
                "topic": T,
                "partition": partition,
                "offset": offset,
                "t": self._t(),
            }
        )
        return self

    def at(self, t: float, **event: Any) -> H:
        """Any event, at the time given (the others' times go on from the count)."""
        self.events.append({**event, "t": t})
        return self
