"""The raw Metadata v4 request and response, byte for byte (the protocol's layout)."""

from __future__ import annotations

import struct

from kchaos.cluster.metadata import _request, parse_response


def s(text: str | None) -> bytes:
    return struct.pack(">h", -1) if text is None else struct.pack(">h", len(text)) + text.encode()


def ints(values: list[int]) -> bytes:
    return struct.pack(">i", len(values)) + b"".join(struct.pack(">i", v) for v in values)


def test_request_layout():
    raw = _request(["t"], 7)
    size, api, version, correlation = struct.unpack_from(">ihhi", raw)
    assert (size, api, version, correlation) == (len(raw) - 4, 3, 4, 7)
    assert raw.endswith(struct.pack(">i", 1) + s("t") + b"\x00")
    assert _request(None, 1).endswith(struct.pack(">i", -1) + b"\x00")  # all topics


def test_response_is_parsed_with_leader_replicas_and_isr():
    body = struct.pack(">i", 0)  # throttle
    body += struct.pack(">i", 2) + struct.pack(">i", 1) + s("127.0.0.1") + struct.pack(">i", 9001) + s(None)
    body += struct.pack(">i", 2) + s("127.0.0.1") + struct.pack(">i", 9002) + s("rack-b")
    body += s("cid") + struct.pack(">i", 2)  # cluster id, controller
    body += struct.pack(">i", 2)
    body += struct.pack(">h", 0) + s("events") + b"\x00" + struct.pack(">i", 2)
    body += struct.pack(">hii", 0, 1, 2) + ints([2, 1]) + ints([2])
    body += struct.pack(">hii", 0, 0, 1) + ints([1, 2]) + ints([1, 2])
    body += struct.pack(">h", 3) + s("missing") + b"\x00" + struct.pack(">i", 0)
    md = parse_response(body)
    assert md["controller"] == 2 and [b["port"] for b in md["brokers"]] == [9001, 9002]
    parts = md["topics"]["events"]["partitions"]
    assert [(p["partition"], p["leader"], p["replicas"], p["isr"]) for p in parts] == [
        (0, 1, [1, 2], [1, 2]),
        (1, 2, [2, 1], [2]),
    ]
    assert md["topics"]["missing"]["error"] == 3
