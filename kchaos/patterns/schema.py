"""Schema-aware producing and consuming for the schema-evolution experiment (6.4).

The producer side (``AvroWriter``) and the consumer side (``AvroReader``) are thin wrappers
over confluent-kafka's own ``AvroSerializer`` and ``AvroDeserializer``: the wire format
(magic byte, 4-byte schema id, Avro binary) and the writer-to-reader resolution (fastavro) are
theirs, so what an experiment observes is what an application using those clients would see.
The wrappers only turn the libraries' many exception types into two stable, one-line outcomes
an experiment can count: ``SchemaRefused`` (the registry said no) and ``DecodeFailed`` (a
consumer could not read a record, with a short ``kind``).

What Avro's ``avro.compatibility`` decided for the example schemas in experiments/schemas,
measured by running ``compatibility()`` against order-v1 (the same verdicts hold against
order-v2). BACKWARD: the new schema as reader of v1 data; FORWARD: v1 as reader of the new
schema's data.

==========================  ==================  =============================================
new schema                  BACKWARD            FORWARD
==========================  ==================  =============================================
order-v2-add-default        compatible          compatible
order-v3-remove-no-default  compatible          reader_field_missing_default_value
order-v4-change-type        type_mismatch       reader_field_missing_default_value,type_mismatch
==========================  ==================  =============================================

Avro's messages, verbatim: v3 FORWARD "reader_field_missing_default_value at /fields/2:
currency"; v4 BACKWARD "type_mismatch at /fields/1/type: reader type: string not compatible
with writer type: int"; v4 FORWARD "reader_field_missing_default_value,type_mismatch at
/fields/1/type,/fields/2: currency; reader type: int not compatible with writer type: string".

So v2 is FULL-compatible, v3 passes BACKWARD but breaks FORWARD (a v1 consumer cannot
resolve ``currency``, which v3 no longer writes and v1 gives no default), and v4 breaks both
(Avro promotes int to long, float and double, never to string). v4 is v3 with ``amount``
changed from int to string and nothing else, so against v3 (the version a BACKWARD registry
compares it with) the type change is its only difference and Avro's only reason, in both
directions: "type_mismatch at /fields/1/type: ...". The verdicts are asserted in
tests/unit/test_schema_registry.py.
"""

from __future__ import annotations

import json
import struct
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import avro.errors
import avro.schema
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError
from fastavro.read import SchemaResolutionError

from kchaos.errors import BadInput, one_line
from kchaos.patterns.registry import incompatibility

_PARSE_ERRORS = (avro.errors.AvroException, ValueError, TypeError, AttributeError, KeyError)


class SchemaRefused(Exception):
    """The registry refused a schema (incompatible under the subject's level, or invalid); one line."""

    def __init__(self, reason: str, error_code: int | None = None) -> None:
        super().__init__(one_line(reason))
        self.reason, self.error_code = one_line(reason), error_code


class DecodeFailed(Exception):
    """A consumer could not read a record: ``kind`` is stable for counting, ``detail`` one line for reports.

    Kinds: ``not-avro`` (no Confluent framing, or bytes that are not Avro), ``unknown-schema``
    (the registry has no schema with that id), ``incompatible-schema`` (fastavro could not
    resolve the writer's schema to the reader's), ``decode-error`` (anything else).
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {one_line(detail)}")
        self.kind, self.detail = kind, one_line(detail)


def load_schema(path: Path) -> str:
    """The schema file's text, checked by Avro's own parser so a typo fails before anything starts."""
    from kchaos import yamlsafe  # a regular file, size-capped, UTF-8: not a FIFO or /dev/zero

    if not Path(path).exists():
        raise BadInput(f"schema file {path}: not found")
    try:
        text = yamlsafe.read_text(Path(path), "schema file")
    except BadInput as exc:
        raise BadInput(f"schema file {exc}") from None
    try:
        json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadInput(one_line(f"schema file {path}: not JSON ({_no_content(exc)})")) from None
    try:
        avro.schema.parse(text)
    except (*_PARSE_ERRORS, RecursionError) as exc:
        raise BadInput(one_line(f"schema file {path}: not an Avro schema ({_no_content(exc)})")) from None
    return text


def _no_content(exc: BaseException) -> str:
    """An error's message without the file content some parsers quote (a schema path that
    named another JSON file must not print it): cut at the first quoted structure."""
    text = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
    for mark in ("{", "["):
        text = text.split(mark, 1)[0]
    return text.strip()[:160] or type(exc).__name__


def connect(url: str, timeout: float = 3.0) -> SchemaRegistryClient:
    """A client for ``url``, after one short GET /subjects: a wrong URL fails now, in one line.

    Without the probe the first failure would come from inside a producer, after the client's
    retries, as an httpx traceback.
    """
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/subjects", timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise BadInput(one_line(f"schema registry {url}: unreachable (HTTP {exc.code} {exc.reason})")) from None
    except urllib.error.URLError as exc:
        raise BadInput(one_line(f"schema registry {url}: unreachable ({exc.reason})")) from None
    except (OSError, ValueError) as exc:
        raise BadInput(one_line(f"schema registry {url}: unreachable ({exc})")) from None
    return SchemaRegistryClient({"url": url})


class AvroWriter:
    """Encodes records for one topic with one schema, registering it on first use under ``<topic>-value``.

    The serializer remembers only successful registrations, so after a refusal every
    ``encode`` asks the registry again and is refused again: a producer that keeps trying
    shows up as one refusal per record, as it would in an application.
    """

    def __init__(self, client: SchemaRegistryClient, topic: str, schema_str: str) -> None:
        self.topic, self.schema_str = topic, schema_str
        self._serializer = AvroSerializer(client, schema_str, conf={"auto.register.schemas": True})
        self._ctx = SerializationContext(topic, MessageField.VALUE)

    def encode(self, value: dict) -> bytes:
        """Confluent wire format bytes; a registry refusal becomes ``SchemaRefused`` with its message."""
        try:
            payload = self._serializer(value, self._ctx)
        except SchemaRegistryError as exc:
            if exc.http_status_code is not None and 400 <= exc.http_status_code < 500:
                raise SchemaRefused(exc.error_message, exc.error_code) from None
            raise
        return payload  # type: ignore[return-value]  # None only for a None value


class AvroReader:
    """Decodes records with a fixed reader schema (an old or new consumer) or, if None, the writer's."""

    def __init__(self, client: SchemaRegistryClient, reader_schema_str: str | None = None) -> None:
        self.reader_schema_str = reader_schema_str
        self._deserializer = AvroDeserializer(client, schema_str=reader_schema_str)

    def decode(self, payload: bytes, topic: str) -> dict:
        """The record as the reader schema sees it, or ``DecodeFailed`` naming what went wrong."""
        try:
            value = self._deserializer(payload, SerializationContext(topic, MessageField.VALUE))
        except Exception as exc:
            raise DecodeFailed(_decode_kind(exc), str(exc) or type(exc).__name__) from exc
        return value  # type: ignore[return-value]


def _decode_kind(exc: Exception) -> str:
    """Map the libraries' exceptions to the stable kinds of ``DecodeFailed``."""
    if isinstance(exc, SchemaResolutionError):
        return "incompatible-schema"
    if isinstance(exc, SchemaRegistryError):
        return "unknown-schema" if exc.http_status_code == 404 else "decode-error"
    if isinstance(exc, SerializationError | EOFError | UnicodeDecodeError | struct.error | IndexError):
        return "not-avro"
    return "decode-error"


def compatibility(reader: str, writer: str) -> tuple[bool, str]:
    """Whether ``reader`` can resolve data written with ``writer``, and Avro's reason (one line) if not.

    The same checker the embedded registry uses, so a report can say what the library decided.
    """
    why = incompatibility(avro.schema.parse(reader), avro.schema.parse(writer))
    return why is None, why or "compatible"


def sample(schema_str: str, seq: int) -> dict:
    """A record that fits the schema, varying with ``seq``, so a producer can walk through versions.

    Fields with a default take it; an ``id``-like string field gets ``r{seq}``; ints get ``seq``
    (modulo 2^31), unions with null get None, arrays and maps are empty.
    """
    return _value(avro.schema.parse(schema_str), seq, "")


def _value(schema: avro.schema.Schema, seq: int, name: str) -> Any:
    kind = schema.type
    if kind == "record":
        return {f.name: _field_value(f, seq) for f in schema.fields}  # type: ignore[attr-defined]
    if kind == "union":
        branches = schema.schemas  # type: ignore[attr-defined]
        nulls = [b for b in branches if b.type == "null"]
        return None if nulls else _value(branches[0], seq, name)
    if kind == "enum":
        symbols = schema.symbols  # type: ignore[attr-defined]
        return symbols[seq % len(symbols)]
    if kind == "fixed":
        return bytes(schema.size)  # type: ignore[attr-defined]
    if kind == "string":
        return f"r{seq}" if name == "id" or name.endswith(("_id", "Id")) else f"s{seq}"
    return _PRIMITIVES[kind](seq)


_PRIMITIVES = {
    "null": lambda seq: None,
    "boolean": lambda seq: seq % 2 == 0,
    "int": lambda seq: seq % 2**31,
    "long": lambda seq: seq,
    "float": float,
    "double": float,
    "bytes": lambda seq: str(seq).encode(),
    "array": lambda seq: [],
    "map": lambda seq: {},
}


def _field_value(f: avro.schema.Field, seq: int) -> Any:
    if f.has_default and f.type.type not in ("bytes", "fixed"):  # JSON defaults for bytes are strings
        return f.default
    return _value(f.type, seq, f.name)


class AvroHandler:
    """A pattern worker's handler that decodes each record with a fixed reader schema: the
    consumer of an application deployed with that schema. A record it cannot decode
    raises ``DecodeFailed`` (permanent: the worker dead-letters it at once). Built from
    plain values (registry URL, reader schema text) so a worker process can make one."""

    def __init__(self, registry: str, reader_schema: str | None) -> None:
        self.reader = AvroReader(SchemaRegistryClient({"url": registry}), reader_schema)

    def __call__(self, record: Any) -> dict:
        return self.reader.decode(record.value or b"", record.topic)
