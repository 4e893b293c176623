"""Kafka's own Java clients as workload roles, beside the Python ones.

``VerifiableProducer`` and ``VerifiableConsumer`` (from the installed Kafka's tools jar)
run as child JVMs; every JSON line they print becomes a history event: a
``producer_send_success`` a ``send``, a ``record_data`` a ``read``,
``partitions_assigned``/``partitions_revoked`` the rebalance events and
``offsets_committed`` a ``commit``. So one experiment can drive librdkafka and the Java
client side by side and judge both with one checker (their partitioners differ, their
defaults differ: Java consumers read uncommitted data unless told otherwise).

A record's id is its value, ``PREFIX.N`` (VerifiableProducer's own format), which the
readers of every role turn into the same id. VerifiableProducer does not say when a
send began, only when it was acknowledged: its sends carry ``t0_known: false`` and are
left out of latency measurements. Sends it began but never reported (it stopped) are
written as ``unknown`` when it exits, from the count it prints last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kchaos import install, procs
from kchaos.events import Assign, Client, Commit, Read, Revoke, Send
from kchaos.history import HistoryWriter

TOOLS = "org.apache.kafka.tools"
#: A client JVM starts in a second or two even on a busy laptop: small heap, C1 only,
#: serial GC (the brokers already compete for the cores).
CLIENT_JVM_FLAGS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")
#: Exceptions that prove nothing was written (the rest leave the outcome unknown).
DEFINITE_FAILURES = ("RecordTooLargeException", "SerializationException", "InvalidTopicException")


class _JavaRole(threading.Thread):
    """A child JVM whose stdout lines become history events; SIGKILL-able like any client."""

    main_class = ""

    def __init__(self, name: str, history: HistoryWriter, cluster: str, kafka_version: str) -> None:
        super().__init__(name=f"java-{name}", daemon=True)
        self.role_name, self.history, self.cluster = name, history, cluster
        self.kafka = install.find_kafka(kafka_version)
        self.proc: subprocess.Popen | None = None
        self._halt = threading.Event()
        self._restart = threading.Event()

    # --- the child ---------------------------------------------------------------------
    def args(self) -> list[str]:
        raise NotImplementedError

    def handle(self, event: dict[str, Any], t: float) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        return [
            install.find_java(),
            "-Xmx256m",
            "-cp",
            f"{self.kafka.libs}/*",
            f"{TOOLS}.{self.main_class}",
            *self.args(),
        ]

    def _spawn(self) -> subprocess.Popen:
        env = {**os.environ, procs.MARK: self.cluster}
        with open(self.log_path, "ab") as log:  # the JVM's own complaints, kept beside the history
            return subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env, text=True
            )

    @property
    def log_path(self) -> Path:
        return self.history.path.with_name(f"{self.history.path.stem}.{self.role_name}.log")

    def _record_exit(self) -> None:
        """A JVM that ended badly says why in the history (a ``client`` event)."""
        code = self.proc.returncode if self.proc is not None else None
        if code in (0, None) or self._halt.is_set() or code == -signal.SIGKILL:
            return
        lines = self.log_path.read_text(errors="replace").strip().splitlines() if self.log_path.exists() else []
        cause = next((ln for ln in reversed(lines) if "Exception" in ln or "Error" in ln), lines[-1] if lines else "")
        self.history.write(Client(self.role_name, "exited", self.history.now(), error=str(code), detail=cause[:300]))

    def run(self) -> None:
        while True:
            self.proc = self._spawn()
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self._line(line)
            self.proc.wait()
            self._record_exit()
            self.exited()
            # Stopped, or done on its own: over. Killed by a fault: it waits to be restarted.
            if self._halt.is_set() or self.proc.returncode == 0:
                return
            while not (self._restart.is_set() or self._halt.is_set()):
                self._restart.wait(0.2)
            if self._halt.is_set():
                return
            self._restart.clear()

    def _line(self, line: str) -> None:
        if not line.startswith("{"):
            return
        try:
            event = json.loads(line)
        except ValueError:
            return
        # The tool stamps each line in wall-clock ms; the history's clock is monotonic.
        lag = max(0.0, time.time() - event.get("timestamp", time.time() * 1000) / 1000)
        self.handle(event, round(self.history.now() - lag, 6))

    def exited(self) -> None:
        """The JVM ended (stopped, or killed)."""

    # --- control -----------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the tool to finish (SIGTERM: it flushes and prints its last lines)."""
        self._halt.set()
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.proc.send_signal(signal.SIGTERM)

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
            super().join(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """A new JVM for the same role (after a kill, or a kill now)."""
        self.kill()
        self._restart.set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def properties_file(config: dict[str, Any]) -> str:
    """A Java client config file (the tools read ``--command-config``)."""
    fd, path = tempfile.mkstemp(prefix="kchaos-java-", suffix=".properties")
    with os.fdopen(fd, "w") as f:
        for k, v in config.items():
            f.write(f"{k}={str(v).lower() if isinstance(v, bool) else v}\n")
    return path


class JavaProducer(_JavaRole):
    """VerifiableProducer: ``rate`` records/s for ``duration`` seconds, keys 0..key_count-1
    repeating, values ``PREFIX.N``; its producer config from the variant (Java names)."""

    main_class = "VerifiableProducer"

    def __init__(
        self,
        name: str,
        prefix: int,
        bootstrap: str,
        topic: str,
        config: dict[str, Any],
        history: HistoryWriter,
        rate: float,
        duration: float,
        key_count: int,
        cluster: str,
        kafka_version: str,
    ) -> None:
        super().__init__(name, history, cluster, kafka_version)
        self.producer_name, self.prefix, self.bootstrap, self.topic = name, prefix, bootstrap, topic
        self.config, self.rate, self.duration, self.key_count = config, rate, duration, key_count
        self.stats = _Stats()
        self.reported: set[int] = set()
        self.sent = 0
        # VerifiableProducer sets retries=0 (every failure visible); kchaos gives the Java
        # client its own default unless the variant says otherwise (idempotence needs it).
        java = {"retries": 2147483647, **{k: v for k, v in config.items() if k != "acks"}}
        self._config_file = properties_file(java)

    def args(self) -> list[str]:
        acks = str(self.config.get("acks", "all")).replace("all", "-1")
        out = ["--topic", self.topic, "--bootstrap-server", self.bootstrap, "--acks", acks]
        out += ["--max-messages", str(int(self.rate * self.duration)), "--throughput", str(int(self.rate))]
        out += ["--value-prefix", str(self.prefix), "--command-config", self._config_file]
        if self.key_count:
            out += ["--repeating-keys", str(self.key_count)]
        return out

    def handle(self, event: dict[str, Any], t: float) -> None:
        name = event.get("name")
        if name == "tool_data":
            self.sent = int(event.get("sent", 0))
            return
        if name not in ("producer_send_success", "producer_send_error"):
            return
        value = str(event.get("value"))
        seq = int(value.rsplit(".", 1)[1])
        self.reported.add(seq)
        common = {"id": value, "producer": self.producer_name, "seq": seq, "key": event.get("key"), "topic": self.topic}
        if name == "producer_send_success":
            self.stats.ok += 1
            send = Send(**common, status="ok", t0=t, t1=t, partition=event["partition"], offset=event["offset"])
        else:
            error = str(event.get("exception", "")).rsplit(".", 1)[-1]
            status = "fail" if error in DEFINITE_FAILURES else "unknown"
            setattr(self.stats, status, getattr(self.stats, status) + 1)
            send = Send(**common, status=status, t0=t, t1=t, error=error)  # type: ignore[arg-type]
        send.t0_known = False
        self.history.write(send)

    def exited(self) -> None:
        """Sends begun but never reported: their outcome is unknown."""
        t = self.history.now()
        for seq in range(self.sent):
            if seq not in self.reported:
                value = f"{self.prefix}.{seq}"
                send = Send(value, self.producer_name, seq, None, self.topic, "unknown", t, t, error="not-reported")
                send.t0_known = False
                self.history.write(send)
                self.stats.unknown += 1
        Path(self._config_file).unlink(missing_ok=True)


class JavaConsumer(_JavaRole):
    """VerifiableConsumer in a group: every record it is given (``--verbose``), its
    rebalance callbacks and its commits (synchronous, after each batch, unless the config
    enables auto-commit)."""

    main_class = "VerifiableConsumer"

    def __init__(
        self,
        name: str,
        group: str,
        bootstrap: str,
        topics: list[str],
        config: dict[str, Any],
        history: HistoryWriter,
        cluster: str,
        kafka_version: str,
    ) -> None:
        super().__init__(name, history, cluster, kafka_version)
        self.reader, self.group, self.bootstrap, self.topic = name, group, bootstrap, topics[0]
        self.isolation = str(config.get("isolation.level", "read_uncommitted"))  # the Java client's default
        self.config = config
        self.delivered = 0
        self._config_file = properties_file(config)

    def args(self) -> list[str]:
        out = ["--topic", self.topic, "--group-id", self.group, "--bootstrap-server", self.bootstrap, "--verbose"]
        out += ["--reset-policy", "earliest", "--command-config", self._config_file]
        if str(self.config.get("enable.auto.commit", "false")).lower() == "true":
            out.append("--enable-autocommit")
        return out

    def handle(self, event: dict[str, Any], t: float) -> None:
        name = event.get("name")
        if name == "record_data":
            value = str(event.get("value") or "")
            self.history.write(
                Read(
                    self.reader,
                    self.group,
                    event["topic"],
                    event["partition"],
                    event["offset"],
                    value.split(" ", 1)[0],
                    event.get("key"),
                    t,
                    isolation=self.isolation,  # type: ignore[arg-type]
                )
            )
            self.delivered += 1
        elif name in ("partitions_assigned", "partitions_revoked"):
            kind = Assign if name == "partitions_assigned" else Revoke
            tps = [(p["topic"], p["partition"]) for p in event.get("partitions", [])]
            self.history.write(kind(self.reader, self.group, tps, t))
        elif name == "offsets_committed":
            status = "ok" if event.get("success") else str(event.get("error") or "fail")
            for o in event.get("offsets", []):
                self.history.write(Commit(self.reader, self.group, o["topic"], o["partition"], o["offset"], status, t))


class _Stats:
    """What the live view reads of a producer."""

    def __init__(self) -> None:
        self.ok = self.fail = self.unknown = 0
        self.errors: dict[str, int] = {}
