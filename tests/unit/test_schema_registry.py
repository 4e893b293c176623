"""The embedded schema registry against confluent-kafka's own client, serializer and deserializer
(loopback only, no Kafka), and the schema-evolution building blocks in kchaos.patterns.schema."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.schema_registry_client import ConfigCompatibilityLevel, ServerConfig
from fastavro import parse_schema
from fastavro.validation import validate
from hypothesis import given, settings
from hypothesis import strategies as st

from kchaos.errors import BadInput
from kchaos.patterns import schema as schema_module
from kchaos.patterns.registry import CONTENT_TYPE, EmbeddedRegistry
from kchaos.patterns.schema import (
    AvroReader,
    AvroWriter,
    DecodeFailed,
    SchemaRefused,
    compatibility,
    connect,
    load_schema,
    sample,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "experiments" / "schemas"
V1, V2, V3, V4 = (
    load_schema(SCHEMAS / f"{name}.avsc")
    for name in ("order-v1", "order-v2-add-default", "order-v3-remove-no-default", "order-v4-change-type")
)
CANDIDATES = {"v2": V2, "v3": V3, "v4": V4}

# What avro.compatibility decided (measured; the table in kchaos.patterns.schema's docstring).
MEASURED = {
    ("v2", "BACKWARD"): True,
    ("v2", "FORWARD"): True,
    ("v3", "BACKWARD"): True,
    ("v3", "FORWARD"): False,
    ("v4", "BACKWARD"): False,
    ("v4", "FORWARD"): False,
}

RICH = json.dumps(
    {
        "type": "record",
        "name": "Rich",
        "namespace": "kchaos.test",
        "fields": [
            {"name": "order_id", "type": "string"},
            {"name": "flag", "type": "boolean"},
            {"name": "n", "type": "int"},
            {"name": "big", "type": "long"},
            {"name": "ratio", "type": "double"},
            {"name": "f", "type": "float"},
            {"name": "raw", "type": "bytes"},
            {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
            {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["NEW", "PAID", "SHIPPED"]}},
            {"name": "maybe", "type": ["null", "string"]},
            {"name": "either", "type": ["int", "string"]},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "attrs", "type": {"type": "map", "values": "long"}},
            {
                "name": "address",
                "type": {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]},
            },
            {"name": "priority", "type": "int", "default": 5},
            {"name": "state2", "type": "State", "default": "SHIPPED"},
        ],
    }
)


@pytest.fixture
def registry() -> Iterator[EmbeddedRegistry]:
    with EmbeddedRegistry() as reg:
        yield reg


@pytest.fixture
def client(registry: EmbeddedRegistry) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": registry.url})


def fresh(registry: EmbeddedRegistry) -> SchemaRegistryClient:
    """A second client: its cache is empty, so its answers come from the registry itself."""
    return SchemaRegistryClient({"url": registry.url})


def http(registry: EmbeddedRegistry, method: str, path: str, body: dict | None = None) -> tuple[int, object, str]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"} if data is not None else {}
    request = urllib.request.Request(registry.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers["Content-Type"]


def sr_error(call) -> SchemaRegistryError:
    with pytest.raises(SchemaRegistryError) as info:
        call()
    return info.value


# -- the registry, through the client's own calls ------------------------------------------


def test_register_again_returns_the_same_id_and_ids_are_global(client, registry):
    first = client.register_schema("orders-value", Schema(V1))
    again = fresh(registry).register_schema("orders-value", Schema(" " + V1.replace("\n", " ")))
    other_subject = client.register_schema("audit-value", Schema(V1))
    v2 = client.register_schema("orders-value", Schema(V2))
    assert first == again == other_subject
    assert v2 != first
    assert fresh(registry).get_versions("orders-value") == [1, 2]


def test_get_schema_by_id_returns_the_registered_text(client, registry):
    schema_id = client.register_schema("orders-value", Schema(V2))
    fetched = fresh(registry).get_schema(schema_id)
    assert fetched.schema_type == "AVRO"
    assert json.loads(fetched.schema_str) == json.loads(V2)


def test_latest_version_follows_registrations(client, registry):
    client.register_schema("orders-value", Schema(V1))
    id2 = client.register_schema("orders-value", Schema(V2))
    latest = fresh(registry).get_latest_version("orders-value")
    assert (latest.version, latest.schema_id, latest.subject) == (2, id2, "orders-value")
    assert json.loads(fresh(registry).get_version("orders-value", 1).schema.schema_str) == json.loads(V1)
    assert fresh(registry).get_subjects() == ["orders-value"]


def test_lookup_finds_a_registered_schema_and_not_another(client, registry):
    schema_id = client.register_schema("orders-value", Schema(V1))
    found = fresh(registry).lookup_schema("orders-value", Schema(V1))
    assert (found.schema_id, found.version) == (schema_id, 1)
    assert sr_error(lambda: fresh(registry).lookup_schema("orders-value", Schema(V2))).error_code == 40403


def test_unknown_subject_version_and_id_answer_the_registry_error_codes(client):
    client.register_schema("orders-value", Schema(V1))
    assert sr_error(lambda: client.get_latest_version("nosuch-value")).error_code == 40401
    assert sr_error(lambda: client.get_versions("nosuch-value")).error_code == 40401
    missing_version = sr_error(lambda: client.get_version("orders-value", 7))
    assert (missing_version.http_status_code, missing_version.error_code) == (404, 40402)
    missing_id = sr_error(lambda: client.get_schema(999))
    assert (missing_id.http_status_code, missing_id.error_code) == (404, 40403)


@pytest.mark.parametrize("level", ["BACKWARD", "FORWARD"])
@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_compatibility_answers_equal_avro_compatibility(client, registry, name, level):
    client.register_schema("orders-value", Schema(V1))
    client.set_compatibility("orders-value", level)
    candidate = CANDIDATES[name]
    reader, writer = (candidate, V1) if level == "BACKWARD" else (V1, candidate)
    avro_says, _ = compatibility(reader, writer)
    assert fresh(registry).test_compatibility("orders-value", Schema(candidate)) is avro_says
    assert avro_says is MEASURED[(name, level)]


def test_full_needs_both_directions(client, registry):
    client.register_schema("orders-value", Schema(V1))
    client.set_compatibility("orders-value", "FULL")
    assert sr_error(lambda: fresh(registry).register_schema("orders-value", Schema(V3))).error_code == 409
    fresh(registry).register_schema("orders-value", Schema(V2))
    assert fresh(registry).get_versions("orders-value") == [1, 2]


@pytest.mark.parametrize(
    ("reader", "writer"), [(V1, V3), (V4, V1), (V1, V4)], ids=["v3-forward", "v4-backward", "v4-forward"]
)
def test_the_docstring_quotes_avros_messages_verbatim(reader, writer):
    ok, why = compatibility(reader, writer)
    doc = " ".join((schema_module.__doc__ or "").split())
    assert not ok and f'"{why}"' in doc


def test_v4_differs_from_v3_only_by_the_type_change_and_avro_refuses_only_that():
    """A BACKWARD registry compares v4 with v3, the latest version: the refusal must be the
    int -> string change alone (no field added or removed beside it), in both directions."""
    v3, v4 = json.loads(V3)["fields"], json.loads(V4)["fields"]
    assert [f["name"] for f in v3] == [f["name"] for f in v4]
    assert [(a["name"], a["type"], b["type"]) for a, b in zip(v3, v4, strict=True) if a != b] == [
        ("amount", "int", "string")
    ]
    for reader, writer in ((V4, V3), (V3, V4)):
        ok, why = compatibility(reader, writer)
        assert not ok and why.startswith("type_mismatch at /fields/1/type:"), why


def test_verbose_compatibility_carries_avros_reason(client, registry):
    client.register_schema("orders-value", Schema(V1))
    client.set_compatibility("orders-value", "FORWARD")
    path = "/compatibility/subjects/orders-value/versions/latest?verbose=true"
    status, answer, content_type = http(registry, "POST", path, {"schema": V3})
    assert (status, content_type) == (200, CONTENT_TYPE)
    assert answer["is_compatible"] is False
    assert any("reader_field_missing_default_value" in m and "currency" in m for m in answer["messages"])
    _, quiet, _ = http(registry, "POST", path.replace("true", "false"), {"schema": V3})
    assert quiet == {"is_compatible": False}


def test_incompatible_registration_is_refused_under_backward_and_accepted_under_none(client, registry):
    client.register_schema("orders-value", Schema(V1))
    refused = sr_error(lambda: fresh(registry).register_schema("orders-value", Schema(V4)))
    assert (refused.http_status_code, refused.error_code) == (409, 409)
    assert "type_mismatch" in refused.error_message and "\n" not in refused.error_message
    client.set_config("orders-value", ServerConfig(compatibility=ConfigCompatibilityLevel.NONE))
    fresh(registry).register_schema("orders-value", Schema(V4))
    assert fresh(registry).get_latest_version("orders-value").version == 2


def test_global_none_accepts_what_backward_refuses(client, registry):
    client.register_schema("orders-value", Schema(V1))
    assert client.get_compatibility() == "BACKWARD"
    client.set_compatibility(level="NONE")
    assert fresh(registry).get_compatibility() == "NONE"
    fresh(registry).register_schema("orders-value", Schema(V4))
    assert fresh(registry).get_versions("orders-value") == [1, 2]


def test_transitive_levels_check_every_version_not_only_the_latest(client, registry):
    client.set_compatibility("orders-value", "NONE")
    client.register_schema("orders-value", Schema(V1))
    client.register_schema("orders-value", Schema(V4))
    later = json.loads(V4)
    later["fields"].append({"name": "channel", "type": "string", "default": "web"})
    candidate = Schema(json.dumps(later))
    client.set_compatibility("orders-value", "BACKWARD")
    assert fresh(registry).test_compatibility_all_versions("orders-value", candidate) is True
    client.set_compatibility("orders-value", "BACKWARD_TRANSITIVE")
    assert fresh(registry).test_compatibility_all_versions("orders-value", candidate) is False
    assert sr_error(lambda: fresh(registry).register_schema("orders-value", candidate)).error_code == 409


def test_invalid_and_non_avro_schemas_are_refused_with_422(client):
    invalid = sr_error(lambda: client.register_schema("x-value", Schema('{"type": "nosuch"}')))
    assert (invalid.http_status_code, invalid.error_code) == (422, 42201)
    assert "nosuch" in invalid.error_message
    protobuf = sr_error(lambda: client.register_schema("x-value", Schema("syntax = 'proto3';", "PROTOBUF")))
    assert (protobuf.http_status_code, protobuf.error_code) == (422, 42201)


def test_subject_config_is_unset_until_put_and_bad_levels_are_refused(client, registry):
    assert sr_error(lambda: client.get_compatibility("orders-value")).error_code == 40408
    assert client.set_compatibility("orders-value", "full_transitive") == {"compatibility": "FULL_TRANSITIVE"}
    assert fresh(registry).get_compatibility("orders-value") == "FULL_TRANSITIVE"
    assert fresh(registry).get_compatibility() == "BACKWARD"
    status, answer, _ = http(registry, "PUT", "/config", {"compatibility": "SIDEWAYS"})
    assert (status, answer["error_code"]) == (422, 42203)


def test_delete_subject_soft_then_permanent(client, registry):
    client.register_schema("orders-value", Schema(V1))
    client.register_schema("orders-value", Schema(V2))
    assert sr_error(lambda: client.delete_subject("orders-value", permanent=True)).error_code == 40405
    assert client.delete_subject("orders-value") == [1, 2]
    assert fresh(registry).get_subjects() == []
    assert fresh(registry).get_subjects(deleted=True) == ["orders-value"]
    assert client.delete_subject("orders-value", permanent=True) == [1, 2]
    assert fresh(registry).get_subjects(deleted=True) == []


def test_unknown_paths_answer_json_errors(registry):
    status, answer, content_type = http(registry, "GET", "/no/such/path")
    assert (status, answer["error_code"], content_type) == (404, 404, CONTENT_TYPE)
    assert http(registry, "PUT", "/subjects")[0] == 405


def test_registry_listens_on_loopback_and_stops(registry):
    assert registry.url.startswith("http://127.0.0.1:")
    url = registry.url
    registry.stop()
    with pytest.raises(BadInput):
        connect(url, timeout=1)


# -- AvroWriter / AvroReader ------------------------------------------------------------------


def test_v1_written_v1_read_round_trips(client):
    record = sample(V1, 3)
    payload = AvroWriter(client, "orders", V1).encode(record)
    assert payload[0] == 0  # Confluent framing: magic byte, then the schema id
    assert AvroReader(client, V1).decode(payload, "orders") == record


def test_v2_written_v1_reader_ignores_the_added_field(client):
    record = sample(V2, 4) | {"note": "gift"}
    payload = AvroWriter(client, "orders", V2).encode(record)
    assert AvroReader(client, V1).decode(payload, "orders") == {"id": "r4", "amount": 4, "currency": "s4"}
    assert AvroReader(client, None).decode(payload, "orders") == record


def test_v3_written_v1_reader_cannot_resolve_the_removed_field(client):
    AvroWriter(client, "orders", V1).encode(sample(V1, 1))
    payload = AvroWriter(client, "orders", V3).encode(sample(V3, 5))  # BACKWARD lets v3 in
    with pytest.raises(DecodeFailed) as info:
        AvroReader(client, V1).decode(payload, "orders")
    assert info.value.kind == "incompatible-schema"
    assert "currency" in info.value.detail and "\n" not in str(info.value)
    assert AvroReader(client, V3).decode(payload, "orders") == sample(V3, 5)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"not avro", "not-avro"),
        (b"\x00\x00\x00", "not-avro"),
        (b"\x00\x00\x00\x03\xe7\x02a", "unknown-schema"),
    ],
)
def test_undecodable_payloads_fail_with_a_stable_kind(client, payload, kind):
    with pytest.raises(DecodeFailed) as info:
        AvroReader(client, V1).decode(payload, "orders")
    assert info.value.kind == kind
    assert info.value.detail and "\n" not in info.value.detail


def test_truncated_avro_body_is_not_avro(client):
    payload = AvroWriter(client, "orders", V1).encode(sample(V1, 1))
    with pytest.raises(DecodeFailed) as info:
        AvroReader(client, V1).decode(payload[:-2], "orders")
    assert info.value.kind == "not-avro"


def test_refused_registration_raises_schema_refused_with_the_registrys_reason(client):
    AvroWriter(client, "orders", V1).encode(sample(V1, 1))
    with pytest.raises(SchemaRefused) as info:
        AvroWriter(client, "orders", V4).encode(sample(V4, 2))
    assert info.value.error_code == 409
    assert "incompatible" in info.value.reason and "type_mismatch" in info.value.reason
    assert "\n" not in str(info.value)


# -- load_schema / connect ----------------------------------------------------------------------


def test_load_schema_returns_the_text(tmp_path):
    path = tmp_path / "ok.avsc"
    path.write_text(V1)
    assert load_schema(path) == V1


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "not found"),
        ('{"type": "record", "name": "X",', "not JSON"),
        ('{"type": "record", "name": "X"}', "fields"),
        ('{"type": "nosuch"}', "nosuch"),
        ('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nosuch"}]}', "nosuch"),
    ],
)
def test_load_schema_errors_are_one_line_naming_the_file(tmp_path, content, words):
    path = tmp_path / "bad.avsc"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BadInput) as info:
        load_schema(path)
    message = str(info.value)
    assert message.startswith(f"schema file {path}: ")
    assert words in message and "\n" not in message
    if content is None:
        assert message == f"schema file {path}: not found"


def test_connect_to_a_closed_port_fails_quickly_in_one_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(BadInput) as info:
        connect(url, timeout=1)
    assert time.monotonic() - started < 2
    assert str(info.value).startswith(f"schema registry {url}: unreachable (")
    assert "\n" not in str(info.value)


def test_connect_to_the_registry_returns_a_working_client(registry):
    connect(registry.url).register_schema("orders-value", Schema(V1))
    assert SchemaRegistryClient({"url": registry.url}).get_subjects() == ["orders-value"]


# -- sample -----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seq=st.integers(min_value=0, max_value=2**62), schema=st.sampled_from([V1, V2, V3, V4, RICH]))
def test_sample_always_fits_its_schema(seq, schema):
    record = sample(schema, seq)
    assert validate(record, parse_schema(json.loads(schema)), raise_errors=True)
    id_field = "id" if "order_id" not in record else "order_id"
    assert record[id_field] == f"r{seq}"


def test_sample_takes_defaults_and_nulls():
    record = sample(RICH, 7)
    assert (record["priority"], record["state2"], record["maybe"]) == (5, "SHIPPED", None)
    assert (record["n"], record["tags"], record["attrs"]) == (7, [], {})
    assert record["address"] == {"city": "s7"}
