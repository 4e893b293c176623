"""Metadata from one chosen broker: a raw Metadata request (v4) over a plain socket.

Why not the Admin API: librdkafka sends a metadata request to whichever broker it likes,
and during a partition a broker cut off from the controller keeps serving the leaders
and ISRs it had before the cut (an isolated leader still believes it leads). To watch
the cluster from the majority side, kchaos must choose the broker that answers, so it
speaks the protocol itself for this one request. v4 is the oldest version Kafka 4 still
serves (KIP-896) and the newest before the flexible encoding, so it is short to parse.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from kchaos.errors import ClusterError

API_METADATA, VERSION = 3, 4


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        value = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return value

    def ints(self) -> list[int]:
        return [self.take(">i") for _ in range(self.take(">i"))]


def _request(topics: list[str] | None, correlation: int) -> bytes:
    client = b"kchaos"
    body = struct.pack(">hhih", API_METADATA, VERSION, correlation, len(client)) + client
    if topics is None:
        body += struct.pack(">i", -1)
    else:
        body += struct.pack(">i", len(topics))
        for t in topics:
            raw = t.encode()
            body += struct.pack(">h", len(raw)) + raw
    body += struct.pack(">?", False)  # allow_auto_topic_creation
    return struct.pack(">i", len(body)) + body


def parse_response(data: bytes) -> dict[str, Any]:
    """A Metadata v4 response body (after size and correlation id) as plain dicts."""
    r = _Reader(data)
    r.take(">i")  # throttle_time_ms
    brokers = []
    for _ in range(r.take(">i")):
        node, host, port, _rack = r.take(">i"), r.string(), r.take(">i"), r.string()
        brokers.append({"id": node, "host": host, "port": port})
    r.string()  # cluster_id
    controller = r.take(">i")
    topics: dict[str, Any] = {}
    for _ in range(r.take(">i")):
        error, name, internal = r.take(">h"), r.string(), r.take(">?")
        parts = []
        for _ in range(r.take(">i")):
            p_error, index, leader = r.take(">h"), r.take(">i"), r.take(">i")
            replicas, isr = r.ints(), r.ints()
            parts.append({"partition": index, "leader": leader, "replicas": replicas, "isr": isr, "error": p_error})
        topics[name or ""] = {
            "error": error,
            "internal": internal,
            "partitions": sorted(parts, key=lambda p: p["partition"]),
        }
    return {"brokers": brokers, "controller": controller, "topics": topics}


def fetch(address: str, topics: list[str] | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Ask the broker at ``host:port`` (and only it) for metadata of ``topics`` (None: all)."""
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            s.sendall(_request(topics, 1))
            size = struct.unpack(">i", _recv(s, 4))[0]
            payload = _recv(s, size)
    except (OSError, struct.error) as err:
        raise ClusterError(f"no metadata from {address}: {err}") from None
    if struct.unpack_from(">i", payload)[0] != 1:
        raise ClusterError(f"no metadata from {address}: wrong correlation id")
    return parse_response(payload[4:])


def _recv(s: socket.socket, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = s.recv(left)
        if not chunk:
            raise OSError("connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
