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
left out of latency measurements. Sends it began but never reported are written as
``unknown`` when it stops, from the count it prints last (so a Java producer is stopped
with SIGTERM; a SIGKILLed one cannot say it).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from kchaos import install, procs
from kchaos.clients import config_text
from kchaos.events import Assign, Client, Commit, Read, Revoke, Send
from kchaos.history import HistoryWriter
from kchaos.workload.producer import ProducerStats

TOOLS = "org.apache.kafka.tools"
#: A client JVM starts in a second or two even on a busy laptop: small heap, C1 only,
#: serial GC (the brokers already compete for the cores).
CLIENT_JVM_FLAGS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")
#: librdkafka-only names (or, for transactional.id, a mode the tool lacks) left out for Java.
JAVA_DROPS = ("acks", "message.timeout.ms", "queue.buffering.max.ms", "transactional.id")
#: Exceptions that prove nothing was written (the rest leave the outcome unknown).
DEFINITE_FAILURES = ("RecordTooLargeException", "SerializationException", "InvalidTopicException")


def config_flag(kafka_version: str, role: str) -> str:
    """The flag that hands Kafka's Verifiable tools their client config file: 4.4 reads
    ``--command-config`` (KIP-1147's name) and still the old one; 3.9 knows only
    ``--producer.config`` / ``--consumer.config``. Both were read off the tools' --help."""
    major_minor = tuple(int(x) for x in re.findall(r"\d+", kafka_version)[:2])
    return "--command-config" if major_minor >= (4, 4) else f"--{role}.config"


class _JavaRole(threading.Thread):
    """A child JVM whose stdout lines become history events; SIGKILL-able like any client."""

    main_class = ""

    def __init__(self, name: str, history: HistoryWriter, cluster: str, kafka_version: str) -> None:
        super().__init__(name=f"java-{name}", daemon=True)
        self.role_name, self.history, self.cluster = name, history, cluster
        self.kafka_version = kafka_version
        self.kafka = install.find_kafka(kafka_version)
        self.java = install.find_java()  # here, not in the thread: a missing Java is one line at start
        self.proc: subprocess.Popen | None = None
        self._halt = threading.Event()
        self._restart = threading.Event()
        # Set by the JVM's first line (``startup_complete``): the run counts a Java role's
        # time from here, not from a JVM start that a busy machine may take seconds over.
        self.ready = threading.Event()

    # --- the child ---------------------------------------------------------------------
    def args(self) -> list[str]:
        raise NotImplementedError

    def handle(self, event: dict[str, Any], t: float) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        return [self.java, *CLIENT_JVM_FLAGS, "-cp", f"{self.kafka.libs}/*", f"{TOOLS}.{self.main_class}", *self.args()]

    def _spawn(self) -> subprocess.Popen:
        with procs.ENV_LOCK:
            env = {**os.environ, procs.MARK: self.cluster}
        with open(self.log_path, "ab") as log:  # the JVM's own complaints, kept beside the history
            return subprocess.Popen(
                self.command(),
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
                text=True,
                start_new_session=True,  # Ctrl-C in the terminal is the harness's to handle
                preexec_fn=procs.die_with_parent,
            )

    def config_path(self) -> Path:
        """The Java client's config file, beside the history (the tools read it: ``config_flag``)."""
        return self.history.path.with_name(f"{self.history.path.stem}.{self.role_name}.properties")

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
        if not self.ready.is_set():
            self.ready.set()
        # The tool stamps each line in wall-clock ms; the history's clock is monotonic.
        lag = max(0.0, time.time() - event.get("timestamp", time.time() * 1000) / 1000)
        self.handle(event, round(self.history.now() - lag, 6))

    def exited(self) -> None:
        """The JVM ended (stopped, or killed)."""

    def wait_ready(self, timeout: float) -> bool:
        """Wait for the JVM's first line; False (and a ``client`` event) when it did not
        come, or the JVM ended first."""
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if time.monotonic() > deadline or (self.proc is not None and self.proc.poll() is not None):
                self.history.write(Client(self.role_name, "not-ready", self.history.now(), detail=f"{timeout:.0f} s"))
                return False
        return True

    # --- control -----------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the tool to finish (SIGTERM: it flushes and prints its last lines)."""
        self._halt.set()
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.proc.send_signal(signal.SIGTERM)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the tool; one still running is asked to finish (SIGTERM: it reports
        what it has), and killed only if it does not within 15 s."""
        if self.ident is None:  # never started (Ctrl-C during startup)
            return
        super().join(timeout)
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
            super().join(15)
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


def write_properties(path: Path, config: dict[str, Any]) -> str:
    """A Java client config file."""
    path.write_text("".join(f"{k}={config_text(v)}\n" for k, v in config.items()))
    return str(path)


def java_producer_config(config: dict[str, Any]) -> dict[str, Any]:
    """A variant's producer config in the Java client's names. librdkafka's
    ``message.timeout.ms`` is Java's ``delivery.timeout.ms`` (which must cover linger and
    one request); ``transactional.id`` is left out (VerifiableProducer does not run
    transactions). VerifiableProducer sets retries=0 to make every failure visible; kchaos
    gives the Java client its own default unless the variant says otherwise (idempotence
    needs retries)."""
    out = {"retries": 2147483647, **{k: v for k, v in config.items() if k not in JAVA_DROPS}}
    if "message.timeout.ms" in config and "delivery.timeout.ms" not in config:
        delivery = int(config["message.timeout.ms"])
        out["delivery.timeout.ms"] = delivery
        out.setdefault("request.timeout.ms", max(1000, delivery - int(config.get("linger.ms", 5)) - 1000))
    return out


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
        self.stats = ProducerStats()
        self.reported: set[int] = set()
        self.sent = 0
        self._config_file = write_properties(self.config_path(), java_producer_config(config))

    def args(self) -> list[str]:
        acks = str(self.config.get("acks", "all")).replace("all", "-1")
        out = ["--topic", self.topic, "--bootstrap-server", self.bootstrap, "--acks", acks]
        if self.rate > 0:
            out += ["--max-messages", str(int(self.rate * self.duration)), "--throughput", str(int(self.rate))]
        else:  # as fast as it can, for the run's duration (stopped by a timer)
            out += ["--max-messages", "-1", "--throughput", "-1"]
        out += ["--value-prefix", str(self.prefix), config_flag(self.kafka_version, "producer"), self._config_file]
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

    def start(self) -> None:
        super().start()
        if self.rate <= 0:
            threading.Timer(self.duration, self.stop).start()

    def exited(self) -> None:
        """Sends begun but never reported: their outcome is unknown. (The count comes from
        the tool's last line: a SIGKILLed VerifiableProducer cannot say it.)"""
        t = self.history.now()
        for seq in range(self.sent):
            if seq not in self.reported:
                value = f"{self.prefix}.{seq}"
                send = Send(value, self.producer_name, seq, None, self.topic, "unknown", t, t, error="not-reported")
                send.t0_known = False
                self.history.write(send)
                self.stats.unknown += 1


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
        self.assigned = False
        self._config_file = write_properties(self.config_path(), config)
        if _auto_commit(config):  # it prints no commits: the checker must not judge by them
            history.write(Client(name, "commits-unseen", history.now(), detail="enable.auto.commit"))

    #: VerifiableConsumer does not say where it is in a batch; ``mid_batch`` cannot wait for it.
    in_hand = 0

    def wait_in_hand(self, timeout: float) -> bool:
        return False

    def args(self) -> list[str]:
        out = ["--topic", self.topic, "--group-id", self.group, "--bootstrap-server", self.bootstrap, "--verbose"]
        out += ["--reset-policy", "earliest", config_flag(self.kafka_version, "consumer"), self._config_file]
        if _auto_commit(self.config):
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
            self.assigned = self.assigned or kind is Assign
            tps = [(p["topic"], p["partition"]) for p in event.get("partitions", [])]
            self.history.write(kind(self.reader, self.group, tps, t))
        elif name == "offsets_committed":
            status = "ok" if event.get("success") else str(event.get("error") or "fail")
            for o in event.get("offsets", []):
                self.history.write(Commit(self.reader, self.group, o["topic"], o["partition"], o["offset"], status, t))


def _auto_commit(config: dict[str, Any]) -> bool:
    return str(config.get("enable.auto.commit", "false")).lower() == "true"
