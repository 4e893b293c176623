"""An embedded Confluent-compatible schema registry for the schema-evolution experiment (6.4).

Experiment 6.4 needs a schema registry next to the Kafka cluster: producers register Avro
schemas under ``<topic>-value`` and consumers fetch writer schemas by id. Running the real
Confluent registry means a JVM and one more container; the experiment only needs the part of
the REST API that confluent-kafka's own ``SchemaRegistryClient``, ``AvroSerializer`` and
``AvroDeserializer`` call, so this module serves exactly that part from the standard library.

Two choices matter for the evidence an experiment produces:

* Every compatibility decision is delegated to Apache Avro's
  ``avro.compatibility.ReaderWriterCompatibilityChecker``. A registry with hand-written rules
  would make the experiment report on our rules, not on Avro's; with delegation, "the registry
  refused v3" means "the Avro library says old readers cannot resolve v3".
* The server binds to loopback only. It has no authentication and accepts writes (register,
  delete, config), and the producers and consumers of an experiment run on this machine
  (the reader groups in child processes), so nothing outside it has a reason to reach it.

Served paths (everything the installed client calls for Avro without references):

* ``GET /``, ``GET /schemas/types``
* ``POST /subjects/{subject}/versions`` (register; ``normalize``)
* ``POST /subjects/{subject}`` (lookup; ``normalize``, ``deleted``)
* ``GET /schemas/ids/{id}`` (``subject``, ``format`` ignored), ``GET /schemas/ids/{id}/subjects``,
  ``GET /schemas/ids/{id}/versions``, ``GET /schemas/guids/{guid}``
* ``GET /subjects`` (``subjectPrefix``, ``deleted``, ``deleted_only``, ``offset``, ``limit``)
* ``GET /subjects/{subject}/versions`` (``deleted``, ``deleted_only``, ``offset``, ``limit``)
* ``GET /subjects/{subject}/versions/{version|latest|-1}`` (``deleted``)
* ``DELETE /subjects/{subject}`` and ``DELETE /subjects/{subject}/versions/{version}`` (``permanent``)
* ``POST /compatibility/subjects/{subject}/versions/{version|latest}`` and
  ``POST /compatibility/subjects/{subject}/versions`` (``verbose``)
* ``GET|PUT|DELETE /config`` and ``/config/{subject}`` (``defaultToGlobal``)
* ``GET /associations/resources/{namespace}/{topic}``: always ``[]``, so the serializers' default
  subject-name strategy (ASSOCIATED) falls back to the topic strategy, ``<topic>-value``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
LEVELS = ("NONE", "BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE", "FULL_TRANSITIVE")
DEFAULT_LEVEL = "BACKWARD"  # Confluent's default, so an experiment sees what a stock registry would do.


def incompatibility(reader: avro.schema.Schema, writer: avro.schema.Schema) -> str | None:
    """Avro's verdict on "can ``reader`` resolve data written with ``writer``": None, or why not (one line).

    The single place where compatibility is decided, for the registry and for reports alike,
    and it decides nothing itself: a fresh checker per pair (its memo is keyed by object
    identity) and the checker's own incompatibility kinds, locations and messages.
    """
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    kinds = ",".join(sorted({kind.name for kind in result.incompatibilities}))
    where = ",".join(sorted(loc for loc in result.locations if loc != "/") or ["/"])
    return " ".join(f"{kinds} at {where}: {'; '.join(sorted(result.messages))}".split())


class RegistryError(Exception):
    """A refusal the registry answers with: HTTP status, Confluent error code and a one-line message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, 40401, f"Subject '{subject}' not found.")


def _version_not_found(version: object) -> RegistryError:
    return RegistryError(404, 40402, f"Version {version} not found.")


def _schema_not_found(what: object = None) -> RegistryError:
    return RegistryError(404, 40403, "Schema not found" if what is None else f"Schema {what} not found")


@dataclass
class _Stored:
    """One schema, stored once and shared by every subject that registers it (ids are global)."""

    id: int
    guid: str
    text: str
    parsed: avro.schema.Schema
    key: str


@dataclass
class _Version:
    version: int
    id: int
    deleted: bool = False


@dataclass
class _Candidate:
    text: str
    parsed: avro.schema.Schema
    key: str


def _parse_candidate(body: Any, normalize: bool) -> _Candidate:
    """The schema of a request body, parsed by Avro itself; the registry only serves Avro.

    The identity key is Avro's own JSON rendering of the parsed schema, so whitespace and key
    order do not make a new id, while a changed default or field does.
    """
    if isinstance(body, _Prepared):
        body.check(normalize)
        return body.candidate
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str) or not body["schema"].strip():
        raise RegistryError(422, 42201, "Invalid schema: the request has no 'schema' string")
    schema_type = body.get("schemaType") or "AVRO"
    if schema_type != "AVRO":
        raise RegistryError(422, 42201, f"Invalid schema: schemaType {schema_type} is not served (Avro only)")
    if body.get("references"):
        raise RegistryError(422, 42201, "Invalid schema: schema references are not supported")
    try:
        parsed = avro.schema.parse(body["schema"])
        key = json.dumps(parsed.to_json(), sort_keys=True, separators=(",", ":"))
    except (avro.errors.AvroException, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise RegistryError(422, 42201, " ".join(f"Invalid schema: {exc}".split())[:500]) from exc
    except RecursionError:
        raise RegistryError(422, 42201, "Invalid schema: nested too deeply") from None
    return _Candidate(key if normalize else body["schema"], parsed, key)


@dataclass
class _Prepared:
    """A request body whose schema was parsed before the global lock was taken (Avro's
    parser can take seconds on a large schema; every other request would wait)."""

    body: Any
    normalize: bool
    candidate: _Candidate

    def check(self, normalize: bool) -> None:
        if normalize != self.normalize:  # never: dispatch parses with the request's own flag
            self.candidate = _parse_candidate(self.body, normalize)


def _prepare(body: Any, query: dict[str, str]) -> Any:
    """The body with its schema parsed now (outside the lock), when it carries one."""
    if isinstance(body, dict) and "schema" in body:
        normalize = _flag(query, "normalize")
        return _Prepared(body, normalize, _parse_candidate(body, normalize))
    return body


def _flag(query: dict[str, str], name: str) -> bool:
    """Query booleans: the client sends both ``false`` (httpx) and ``False`` (hand-built strings)."""
    return query.get(name, "").lower() == "true"


def _page(items: list, query: dict[str, str]) -> list:
    offset, limit = int(query.get("offset") or 0), int(query.get("limit") or -1)
    return items[offset:] if limit < 0 else items[offset : offset + limit]


def _level_of(body: Any) -> str:
    level = (body.get("compatibility") or body.get("compatibilityLevel")) if isinstance(body, dict) else None
    if not isinstance(level, str) or level.upper() not in LEVELS:
        raise RegistryError(422, 42203, f"Invalid compatibility level {level!r}; valid: {', '.join(LEVELS)}")
    return level.upper()


@dataclass
class RegistryState:
    """Subjects, versions, global ids and compatibility config; one lock, because the server is threaded."""

    schemas: dict[int, _Stored] = field(default_factory=dict)
    ids_by_key: dict[str, int] = field(default_factory=dict)
    subjects: dict[str, list[_Version]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    global_level: str = DEFAULT_LEVEL
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lookups -------------------------------------------------------------------------

    def _versions(self, subject: str, deleted: bool = False) -> list[_Version]:
        versions = [v for v in self.subjects.get(subject, []) if deleted or not v.deleted]
        if not versions:
            raise _subject_not_found(subject)
        return versions

    def _version(self, subject: str, version: str, deleted: bool = False) -> _Version:
        versions = self._versions(subject, deleted)
        if version in ("latest", "-1"):
            return versions[-1]
        if not version.isdigit() or int(version) < 1:
            raise RegistryError(
                422, 42202, f"The specified version '{version}' is not a valid version id (1..2^31-1 or 'latest')."
            )
        found = [v for v in versions if v.version == int(version)]
        if not found:
            raise _version_not_found(version)
        return found[0]

    def _describe(self, subject: str, v: _Version) -> dict[str, Any]:
        stored = self.schemas[v.id]
        return {"subject": subject, "version": v.version, "id": v.id, "guid": stored.guid, "schema": stored.text}

    def _stored(self, schema_id: str) -> _Stored:
        stored = self.schemas.get(int(schema_id)) if schema_id.isdigit() else None
        if stored is None:
            raise _schema_not_found(schema_id)
        return stored

    def level(self, subject: str) -> str:
        return self.config.get(subject, self.global_level)

    # -- compatibility -------------------------------------------------------------------

    def _violations(self, new: avro.schema.Schema, against: list[_Version], level: str) -> list[str]:
        """Why ``new`` breaks ``level`` against the given versions, each reason from Avro's checker.

        BACKWARD: the new schema must read data written with the old one; FORWARD: readers
        using the old schema must read data written with the new one; FULL: both.
        """
        base = level.removesuffix("_TRANSITIVE")
        problems = []
        for v in against:
            old = self.schemas[v.id].parsed
            if base in ("BACKWARD", "FULL") and (why := incompatibility(new, old)):
                problems.append(f"{level}: the new schema cannot read version {v.version} ({why})")
            if base in ("FORWARD", "FULL") and (why := incompatibility(old, new)):
                problems.append(f"{level}: readers of version {v.version} cannot read the new schema ({why})")
        return problems

    def _violations_by_level(self, subject: str, new: avro.schema.Schema) -> list[str]:
        level = self.level(subject)
        live = [v for v in self.subjects.get(subject, []) if not v.deleted]
        if level == "NONE" or not live:
            return []
        return self._violations(new, live if level.endswith("_TRANSITIVE") else live[-1:], level)

    # -- operations ----------------------------------------------------------------------

    def register(self, subject: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        """Same schema again: the existing version; otherwise Avro decides, then a new version."""
        cand = _parse_candidate(body, _flag(query, "normalize"))
        for v in self.subjects.get(subject, []):
            if not v.deleted and self.schemas[v.id].key == cand.key:
                return self._describe(subject, v)
        problems = self._violations_by_level(subject, cand.parsed)
        if problems:
            details = "; ".join(problems)
            raise RegistryError(
                409,
                409,
                f'Schema being registered is incompatible with an earlier schema for subject "{subject}", details: {details}',
            )
        schema_id = self._store(cand)
        versions = self.subjects.setdefault(subject, [])
        versions.append(_Version(max((v.version for v in versions), default=0) + 1, schema_id))
        return self._describe(subject, versions[-1])

    def _store(self, cand: _Candidate) -> int:
        if cand.key not in self.ids_by_key:
            schema_id = max(self.schemas, default=0) + 1
            self.schemas[schema_id] = _Stored(schema_id, str(uuid.uuid4()), cand.text, cand.parsed, cand.key)
            self.ids_by_key[cand.key] = schema_id
        return self.ids_by_key[cand.key]

    def lookup(self, subject: str, body: Any, query: dict[str, str]) -> dict[str, Any]:
        cand = _parse_candidate(body, _flag(query, "normalize"))
        for v in self._versions(subject, _flag(query, "deleted")):
            if self.schemas[v.id].key == cand.key:
                return self._describe(subject, v)
        raise _schema_not_found()

    def test_compatibility(self, subject: str, version: str | None, body: Any, query: dict[str, str]) -> dict:
        """Against one version (that version only) or, without a version, as registration would check."""
        cand = _parse_candidate(body, _flag(query, "normalize"))
        if version is None:
            problems = self._violations_by_level(subject, cand.parsed)
        else:
            target = self._version(subject, version)
            level = self.level(subject)
            problems = [] if level == "NONE" else self._violations(cand.parsed, [target], level)
        answer: dict[str, Any] = {"is_compatible": not problems}
        if _flag(query, "verbose"):
            answer["messages"] = problems
        return answer

    def schema_by_id(self, schema_id: str) -> dict[str, Any]:
        stored = self._stored(schema_id)
        return {"schema": stored.text, "guid": stored.guid}

    def schema_by_guid(self, guid: str) -> dict[str, Any]:
        for stored in self.schemas.values():
            if stored.guid == guid:
                return {"id": stored.id, "guid": guid, "schema": stored.text}
        raise _schema_not_found(guid)

    def id_versions(self, schema_id: str, query: dict[str, str]) -> list[dict[str, Any]]:
        stored, deleted = self._stored(schema_id), _flag(query, "deleted")
        pairs = [
            {"subject": s, "version": v.version}
            for s, versions in sorted(self.subjects.items())
            for v in versions
            if v.id == stored.id and (deleted or not v.deleted) and query.get("subject", s) == s
        ]
        return _page(pairs, query)

    def id_subjects(self, schema_id: str, query: dict[str, str]) -> list[str]:
        return sorted({pair["subject"] for pair in self.id_versions(schema_id, query)})

    def list_subjects(self, query: dict[str, str]) -> list[str]:
        deleted_only = _flag(query, "deleted_only") or _flag(query, "deletedOnly")
        prefix = query.get("subjectPrefix", "")

        def wanted(versions: list[_Version]) -> bool:
            live = any(not v.deleted for v in versions)
            return (not live and bool(versions)) if deleted_only else live or _flag(query, "deleted")

        names = [s for s, versions in sorted(self.subjects.items()) if s.startswith(prefix) and wanted(versions)]
        return _page(names, query)

    def list_versions(self, subject: str, query: dict[str, str]) -> list[int]:
        deleted_only = _flag(query, "deleted_only") or _flag(query, "deletedOnly")
        versions = self._versions(subject, deleted=True)
        if deleted_only:
            chosen = [v.version for v in versions if v.deleted]
        else:
            chosen = [v.version for v in versions if _flag(query, "deleted") or not v.deleted]
        if not chosen and not deleted_only:
            raise _subject_not_found(subject)
        return _page(chosen, query)

    def get_version(self, subject: str, version: str, query: dict[str, str]) -> dict[str, Any]:
        return self._describe(subject, self._version(subject, version, _flag(query, "deleted")))

    def delete_subject(self, subject: str, query: dict[str, str]) -> list[int]:
        """Soft delete first, then ``permanent=true`` removes, as Confluent requires."""
        versions = self._versions(subject, deleted=True)
        if not _flag(query, "permanent"):
            live = self._versions(subject)
            for v in live:
                v.deleted = True
            return [v.version for v in live]
        if any(not v.deleted for v in versions):
            raise RegistryError(
                404, 40405, f"Subject '{subject}' was not deleted first before being permanently deleted"
            )
        del self.subjects[subject]
        self.config.pop(subject, None)
        return [v.version for v in versions]

    def delete_version(self, subject: str, version: str, query: dict[str, str]) -> int:
        permanent = _flag(query, "permanent")
        target = self._version(subject, version, deleted=permanent)
        if not permanent:
            target.deleted = True
        elif not target.deleted:
            raise RegistryError(404, 40407, f"Subject '{subject}' Version {target.version} was not deleted first")
        else:
            self.subjects[subject].remove(target)
        return target.version

    def get_config(self, subject: str | None, query: dict[str, str]) -> dict[str, str]:
        if subject is None or _flag(query, "defaultToGlobal") or subject in self.config:
            return {"compatibilityLevel": self.level(subject) if subject else self.global_level}
        raise RegistryError(404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured")

    def set_config(self, subject: str | None, body: Any) -> dict[str, str]:
        level = _level_of(body)
        if subject is None:
            self.global_level = level
        else:
            self.config[subject] = level
        return {"compatibility": level}

    def delete_config(self, subject: str | None) -> dict[str, str]:
        if subject is None:
            old, self.global_level = self.global_level, DEFAULT_LEVEL
            return {"compatibilityLevel": old}
        if subject not in self.config:
            raise _subject_not_found(subject)
        return {"compatibilityLevel": self.config.pop(subject)}


Route = tuple[str, re.Pattern[str], Callable[..., Any]]
_SEG = r"([^/]+)"


def _routes() -> list[Route]:
    """(method, path pattern, handler(state, *path args, query=, body=)); subjects are percent-decoded."""
    raw = [
        ("GET", r"", lambda st, query, body: {}),
        ("GET", r"/schemas/types", lambda st, query, body: ["AVRO"]),
        ("POST", rf"/subjects/{_SEG}/versions", lambda st, s, query, body: st.register(s, body, query)),
        ("POST", rf"/subjects/{_SEG}", lambda st, s, query, body: st.lookup(s, body, query)),
        ("GET", rf"/schemas/ids/{_SEG}", lambda st, i, query, body: st.schema_by_id(i)),
        ("GET", rf"/schemas/ids/{_SEG}/subjects", lambda st, i, query, body: st.id_subjects(i, query)),
        ("GET", rf"/schemas/ids/{_SEG}/versions", lambda st, i, query, body: st.id_versions(i, query)),
        ("GET", rf"/schemas/guids/{_SEG}", lambda st, g, query, body: st.schema_by_guid(g)),
        ("GET", r"/subjects", lambda st, query, body: st.list_subjects(query)),
        ("GET", rf"/subjects/{_SEG}/versions", lambda st, s, query, body: st.list_versions(s, query)),
        ("GET", rf"/subjects/{_SEG}/versions/{_SEG}", lambda st, s, v, query, body: st.get_version(s, v, query)),
        ("DELETE", rf"/subjects/{_SEG}", lambda st, s, query, body: st.delete_subject(s, query)),
        ("DELETE", rf"/subjects/{_SEG}/versions/{_SEG}", lambda st, s, v, query, body: st.delete_version(s, v, query)),
        (
            "POST",
            rf"/compatibility/subjects/{_SEG}/versions/{_SEG}",
            lambda st, s, v, query, body: st.test_compatibility(s, v, body, query),
        ),
        (
            "POST",
            rf"/compatibility/subjects/{_SEG}/versions",
            lambda st, s, query, body: st.test_compatibility(s, None, body, query),
        ),
        ("GET", r"/config", lambda st, query, body: st.get_config(None, query)),
        ("GET", rf"/config/{_SEG}", lambda st, s, query, body: st.get_config(s, query)),
        ("PUT", r"/config", lambda st, query, body: st.set_config(None, body)),
        ("PUT", rf"/config/{_SEG}", lambda st, s, query, body: st.set_config(s, body)),
        ("DELETE", r"/config", lambda st, query, body: st.delete_config(None)),
        ("DELETE", rf"/config/{_SEG}", lambda st, s, query, body: st.delete_config(s)),
        ("GET", rf"/associations/resources/{_SEG}/{_SEG}", lambda st, ns, name, query, body: []),
    ]
    return [(method, re.compile(f"{pattern}/?"), handler) for method, pattern, handler in raw]


ROUTES = _routes()


def dispatch(state: RegistryState, method: str, target: str, body: Any) -> tuple[int, Any]:
    """Route one request; returns (HTTP status, JSON payload). Separate from HTTP so it reads on its own."""
    parts = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    path_matched = False
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(parts.path)
        if not match:
            continue
        path_matched = True
        if route_method != method:
            continue
        try:
            if method == "POST":
                body = _prepare(body, query)
            with state.lock:
                return 200, handler(state, *map(unquote, match.groups()), query=query, body=body)
        except RegistryError as exc:
            return exc.status, {"error_code": exc.code, "message": exc.message}
        except ValueError as exc:  # a malformed query value such as limit=abc
            return 400, {"error_code": 400, "message": " ".join(f"Bad request: {exc}".split())}
        except Exception as exc:  # a bug here must answer, not leave the client waiting
            return 500, {"error_code": 50001, "message": " ".join(f"Error in the schema registry: {exc!r}".split())}
    if path_matched:
        return 405, {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}
    return 404, {"error_code": 404, "message": "HTTP 404 Not Found"}


#: The largest request body (a schema of a few thousand fields is far below it).
MAX_BODY = 1024 * 1024
#: JSON content types a client of the registry sends; anything else (text/plain, forms)
#: is what a browser can send cross-origin without asking first.
JSON_TYPES = ("application/json", "application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json")
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0 (one request per connection): nothing lingers after ``stop()``.

    The registry has no authentication, so it takes only what its own clients send: a
    Host naming this loopback port (a DNS-rebound page names its own host), a JSON
    content type on a body, a body of at most ``MAX_BODY`` bytes, and a connection that
    says something within ``timeout`` seconds.
    """

    server: _Server
    timeout = 10

    def _serve(self) -> None:
        try:
            self._check_host()
            body = self._body()
        except _Refused as refused:
            status, payload = refused.status, {"error_code": refused.status, "message": refused.message}
        else:
            status, payload = dispatch(self.server.state, self.command, self.path, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _check_host(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if name not in _LOOPBACK_NAMES or port != str(self.server.server_address[1]):
            raise _Refused(403, f"Host {host[:100]!r} is not this registry (127.0.0.1:{self.server.server_address[1]})")

    def _body(self) -> Any:
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit() or len(text) > 12:
            raise _Refused(400, "Content-Length is not a byte count")
        length = int(text)
        if length > MAX_BODY:
            raise _Refused(413, f"the request body is over {MAX_BODY} bytes")
        if not length:
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in JSON_TYPES:
            raise _Refused(415, f"Content-Type {ctype[:60]!r}: send {CONTENT_TYPE}")
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise _Refused(400, "the request body is not JSON (or nested too deeply)") from None

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: an experiment's output is its report, not an access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: RegistryState

    def server_bind(self) -> None:
        """Skip HTTPServer's reverse DNS lookup of the host name (slow on some machines, useless here)."""
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class EmbeddedRegistry:
    """A schema registry on ``127.0.0.1`` for the lifetime of an experiment (or a test).

    ``port=0`` lets the kernel choose a free port, so parallel runs and tests never collide;
    ``url`` is what to hand to ``SchemaRegistryClient``. State lives in memory and dies with
    ``stop()``: each run starts from an empty registry, as its report assumes.
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self.state = RegistryState()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the embedded schema registry is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmbeddedRegistry:
        """Bind and serve in a daemon thread (it must never keep an interrupted run alive)."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", self._port), _Handler)
            self._server.state = self.state
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="kchaos-schema-registry"
            )
            self._thread.daemon = True
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmbeddedRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
