"""The embedded schema registry against malformed, oversized, cross-site and idle
requests (issue 24: S9). Every request gets an answer; none reaches a traceback."""

from __future__ import annotations

import json
import socket
import time

import avro.schema
import pytest

from kchaos.patterns import registry as reg
from kchaos.patterns.registry import EmbeddedRegistry

SCHEMA = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})


@pytest.fixture
def server():
    with EmbeddedRegistry() as r:
        yield r


def _raw(server: EmbeddedRegistry, request: bytes, timeout: float = 5.0) -> tuple[int | None, bytes]:
    """Send raw bytes; the status and body of the answer (None: closed without one)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    if not data.startswith(b"HTTP/"):
        return None, data
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _post(server, body: bytes, length: str | None = None, ctype: str = "application/json", host: str | None = None):
    port = server.url.rsplit(":", 1)[1]
    lines = [
        "POST /subjects/t-value/versions HTTP/1.0",
        f"Host: {host or '127.0.0.1:' + port}",
        f"Content-Type: {ctype}",
        f"Content-Length: {length if length is not None else len(body)}",
    ]
    return _raw(server, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def test_a_good_registration_still_works(server):
    status, body = _post(server, json.dumps({"schema": SCHEMA}).encode())
    assert status == 200 and json.loads(body)["id"] == 1


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "99999999999999999999"])
def test_a_malformed_or_huge_content_length_is_answered_4xx(server, length):
    status, body = _post(server, b"{}", length=length)
    assert status in (400, 413), body
    assert len(body) < 1000


def test_a_body_over_the_cap_is_413_and_not_echoed(server):
    big = json.dumps({"schema": "x" * (2 * 1024 * 1024)}).encode()
    status, body = _post(server, big)
    assert status == 413 and len(body) < 1000


def test_deeply_nested_json_is_400(server):
    status, body = _post(server, b"[" * 100_000 + b"]" * 100_000)
    assert status in (400, 413), body


def test_a_deeply_nested_avro_schema_is_422(server):
    schema = '"int"'
    for _ in range(3000):
        schema = '{"type": "array", "items": ' + schema + "}"
    status, body = _post(server, json.dumps({"schema": schema}).encode())
    assert status == 422, body


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_that_is_not_json_typed_is_refused(server, ctype):
    """A browser can send these cross-origin without a preflight (DNS rebinding)."""
    status, _ = _post(server, json.dumps({"schema": SCHEMA}).encode(), ctype=ctype)
    assert status == 415
    assert server.state.subjects == {}


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example"])
def test_a_foreign_host_header_is_refused(server, host):
    status, _ = _post(server, json.dumps({"schema": SCHEMA}).encode(), host=host)
    assert status in (400, 403)
    assert server.state.subjects == {}


def test_localhost_host_header_is_accepted(server):
    port = server.url.rsplit(":", 1)[1]
    status, _ = _post(server, json.dumps({"schema": SCHEMA}).encode(), host=f"localhost:{port}")
    assert status == 200


def test_an_idle_connection_is_closed(server, monkeypatch):
    assert reg._Handler.timeout is not None and reg._Handler.timeout <= 30  # 300 idle sockets kept 300 threads
    monkeypatch.setattr(reg._Handler, "timeout", 0.5)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /subjects/x/versions HTTP/1.0\r\n")  # and then nothing
        started = time.monotonic()
        try:
            s.recv(100)
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 5


def test_a_schema_is_parsed_outside_the_global_lock(server, monkeypatch):
    held: list[bool] = []
    real = avro.schema.parse

    def parse(text, *args, **kwargs):
        held.append(server.state.lock.locked())
        return real(text, *args, **kwargs)

    monkeypatch.setattr(avro.schema, "parse", parse)
    status, _ = _post(server, json.dumps({"schema": SCHEMA}).encode())
    assert status == 200 and held == [False]
