"""The local backend: each KRaft node is a JVM on loopback, plus one Toxiproxy server.

No Docker needed. Each JVM gets its own hosts file (``-Djdk.net.hosts.file``) so that it
reaches every peer through its own proxies (see ``topology``). Processes are started in
their own sessions, marked with the cluster's name, and recorded in the state file as
they start, so ``kchaos down`` can always find them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from kchaos import install, paths, procs, safety
from kchaos.cluster import config, readiness
from kchaos.cluster import state as statefile
from kchaos.cluster.base import Cluster
from kchaos.cluster.common import JVM_FLAGS, check_ports_free
from kchaos.cluster.spec import ClusterSpec, NodeSpec
from kchaos.cluster.topology import Topology
from kchaos.errors import BadInput, ClusterError


class LocalTopology(Topology):
    """Every node on loopback: node A reaches peer B at ``127.77.a.b``, an address only A
    uses (its own hosts file maps B's name there), where the proxy ``repl-A-B`` listens."""

    def link_ip(self, src: NodeSpec, dst: NodeSpec) -> str:
        if src.id == dst.id:
            return "127.0.0.1"
        return f"127.77.{self.index[src.id] + 1}.{self.index[dst.id] + 1}"

    def upstream_host(self, dst: NodeSpec) -> str:
        return "127.0.0.1"

    def client_listen_host(self) -> str:
        return "127.0.0.1"

    def hosts_file(self, src: NodeSpec) -> str:
        """The hosts file of node ``src``: every peer name -> src's own proxy address."""
        lines = ["127.0.0.1 localhost"]
        lines += [f"{self.link_ip(src, dst)} {dst.host}" for dst in self.spec.nodes]
        return "\n".join(lines) + "\n"

    def all_ports(self) -> list[tuple[str, int]]:
        """Every (address, port) the cluster will listen on, to check before starting."""
        out = [("127.0.0.1", self.toxiproxy_port)]
        for n in self.spec.nodes:
            p = self.ports(n)
            if n.broker:
                out += [("127.0.0.1", p.client_proxy), ("127.0.0.1", p.client), ("127.0.0.1", p.replication)]
            if n.controller:
                out.append(("127.0.0.1", p.controller))
        out += [tuple(link.proxy.listen.rsplit(":", 1)) for link in self.links() if link.kind != "client"]
        return [(h, int(port)) for h, port in out]


class LocalCluster(Cluster):
    """A cluster of JVM processes on this machine."""

    backend = "local"

    def __init__(self, spec: ClusterSpec) -> None:
        super().__init__(spec)
        self._topo = LocalTopology(spec)
        self.dir = statefile.cluster_dir(spec.name)

    @property
    def topo(self) -> LocalTopology:
        return self._topo

    def node_dir(self, node: NodeSpec) -> Path:
        return self.dir / f"node-{node.id}"

    def _pids(self) -> dict[str, int]:
        return (statefile.load(self.name) or {}).get("pids", {})

    def _record_pid(self, key: str, pid: int | None) -> None:
        st = statefile.load(self.name) or {}
        pids = st.get("pids", {})
        if pid is None:
            pids.pop(key, None)
        else:
            pids[key] = pid
        st["pids"] = pids
        statefile.save(self.name, st)

    # --- lifecycle -------------------------------------------------------------------
    def up(self, progress: Any = None) -> float:
        """Start Toxiproxy and every node, then wait until a replicated topic takes writes."""
        started = time.monotonic()
        java = install.find_java()
        kafka = install.find_kafka(self.spec.kafka_version)
        toxi_bin = install.find_toxiproxy()
        existing = statefile.load(self.name)
        if existing and any(procs.alive(p) for p in existing.get("pids", {}).values()):
            raise ClusterError(f"cluster '{self.name}' is already running; run: kchaos down")
        check_ports_free(self.topo.all_ports())
        safety.remove_tree(paths.clusters_dir(), self.dir)
        spec = {k: getattr(self.spec, k) for k in self.spec.__dataclass_fields__}
        statefile.save(
            self.name,
            {
                "backend": "local",
                "spec": spec,
                "pids": {},
                "status": "starting",
                "bootstrap": self.bootstrap,
                "kafka_version": kafka.version,
                "faults": {"isolated": [], "toxics": [], "cut": []},
            },
        )
        self._start_toxiproxy(toxi_bin)
        self._write_node_files(kafka.libs)
        self._format(java, kafka.libs)
        for node in self.spec.nodes:
            self._spawn_node(node, java, kafka.libs)
        readiness.wait_writable(self.bootstrap, self.spec, timeout=90.0, alive=self._all_alive)
        statefile.update(self.name, status="up")
        return time.monotonic() - started

    def log_tail(self, node_id: int) -> list[str]:
        log = self.node_dir(self.node(node_id)) / "server.log"
        return log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []

    def _start_toxiproxy(self, binary: Path) -> None:
        cmd = [str(binary), "-host", "127.0.0.1", "-port", str(self.topo.toxiproxy_port)]
        pid = procs.spawn(cmd, self.name, self.dir / "toxiproxy.log", env={"LOG_LEVEL": "warn"})
        self._record_pid("toxiproxy", pid)
        self.toxiproxy.wait_alive()
        self.toxiproxy.populate([link.proxy for link in self.links()])

    def _write_node_files(self, libs: Path) -> None:
        for node in self.spec.nodes:
            d = self.node_dir(node)
            (d / "data").mkdir(parents=True, exist_ok=True)
            props = config.node_properties(self.spec, self.topo, node, "127.0.0.1", str(d / "data"))
            (d / "server.properties").write_text(props)
            (d / "hosts").write_text(self.topo.hosts_file(node))
            (d / "log4j2.properties").write_text(config.LOG4J2_PROPERTIES)

    def _jvm(self, node: NodeSpec, java: str, libs: Path, heap_mb: int) -> list[str]:
        d = self.node_dir(node)
        return [
            java,
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 256)}m",
            *JVM_FLAGS,
            f"-Djdk.net.hosts.file={d / 'hosts'}",
            f"-Dkafka.logs.dir={d}",
            f"-Dlog4j2.configurationFile={d / 'log4j2.properties'}",
            f"-Dkchaos.cluster={self.name}",
            f"-Dkchaos.node={node.id}",
            "-cp",
            f"{libs}/*",
        ]

    def _format(self, java: str, libs: Path) -> None:
        """Format every node's storage with one cluster id, in parallel (one JVM each)."""
        cid = config.cluster_id()

        def fmt(node: NodeSpec) -> None:
            d = self.node_dir(node)
            cmd = [
                *self._jvm(node, java, libs, 256),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cid,
                "-c",
                str(d / "server.properties"),
            ]
            for name, level in self.spec.features.items():
                cmd += ["--feature", f"{name}={level}"]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                lines = (proc.stdout + proc.stderr).strip().splitlines()
                cause = next((ln for ln in lines if "Exception" in ln or "rror" in ln), lines[-1] if lines else "?")
                raise ClusterError(f"formatting node {node.id} failed: {cause.strip()[:300]}")

        with ThreadPoolExecutor(max_workers=len(self.spec.nodes)) as pool:
            list(pool.map(fmt, self.spec.nodes))
        statefile.update(self.name, cluster_id=cid)

    def _spawn_node(self, node: NodeSpec, java: str, libs: Path) -> None:
        d = self.node_dir(node)
        cmd = [*self._jvm(node, java, libs, self.spec.heap_mb), "kafka.Kafka", str(d / "server.properties")]
        pid = procs.spawn(cmd, self.name, d / "stdout.log")
        self._record_pid(f"node-{node.id}", pid)

    def down(self, keep_data: bool = False) -> list[str]:
        """Stop every recorded and every marked process; remove data unless ``keep_data``."""
        return teardown(self.name, keep_data)

    # --- inspection -------------------------------------------------------------------
    def _own(self, key: str) -> int | None:
        """The recorded pid of ``key`` when that live process carries this cluster's mark."""
        pid = self._pids().get(key)
        if not isinstance(pid, int) or not procs.alive(pid) or procs.marked_by(pid) != self.name:
            return None
        return pid

    def process_state(self, node_id: int) -> Literal["up", "down", "paused"]:
        pid = self._own(f"node-{node_id}")
        if pid is None:
            return "down"
        return "paused" if procs.paused(pid) else "up"

    def read_node_file(self, node_id: int, path: str) -> bytes | None:
        try:
            return Path(path).read_bytes()
        except OSError:
            return None

    def node_info(self) -> list[dict[str, Any]]:
        pids = self._pids()
        out = []
        for node in self.spec.nodes:
            p = self.topo.ports(node)
            out.append(
                {
                    "id": node.id,
                    "roles": node.roles,
                    "pid": pids.get(f"node-{node.id}"),
                    "client_port": p.client_proxy if node.broker else None,
                    "replication_port": p.replication if node.broker else None,
                    "controller_port": p.controller if node.controller else None,
                    "data_dir": str(self.node_dir(node) / "data"),
                }
            )
        return out

    # --- looking inside a node --------------------------------------------------------
    def data_dir(self, node_id: int) -> str:
        return str(self.node_dir(self.node(node_id)) / "data")

    def list_files(self, node_id: int, folder: str) -> list[tuple[str, int]]:
        try:
            return [(e.name, e.stat().st_size) for e in os.scandir(folder) if e.is_file()]
        except OSError as err:
            raise ClusterError(f"cannot list {folder} on node {node_id}: {err.strerror}") from None

    def run_tool(self, node_id: int, main_class: str, args: list[str]) -> str:
        cmd = install.tool_command(install.find_kafka(self.spec.kafka_version), main_class, args)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise ClusterError(f"{main_class} failed on node {node_id}: {proc.stderr.strip()[-300:]}")
        return proc.stdout

    # --- process faults -------------------------------------------------------------------
    def _pid(self, node_id: int) -> int:
        """The node's pid, only when that process carries this cluster's mark: a stale
        state file's pid may now belong to an unrelated process."""
        self.node(node_id)
        pid = self._own(f"node-{node_id}")
        if pid is None:
            raise BadInput(f"node {node_id} is not running; start it with: kchaos fault start {node_id}")
        return pid

    def kill(self, node_id: int) -> None:
        pid = self._pid(node_id)
        procs.signal_pid(pid, signal.SIGKILL)
        procs.wait_gone(pid, 10.0)

    def stop(self, node_id: int) -> None:
        procs.terminate(self._pid(node_id), grace=30.0)

    def start(self, node_id: int) -> None:
        node = self.node(node_id)
        if self.process_state(node_id) != "down":
            return
        # The command is built again from the (validated) spec, as ``up`` built it: a
        # command read back from state.json would run whatever that file says.
        self._spawn_node(node, install.find_java(), install.find_kafka(self.spec.kafka_version).libs)

    def pause(self, node_id: int) -> None:
        pid = self._pid(node_id)
        procs.signal_pid(pid, signal.SIGSTOP)
        procs.wait_state(pid, want_paused=True)

    def resume(self, node_id: int) -> None:
        pid = self._pid(node_id)
        procs.signal_pid(pid, signal.SIGCONT)
        procs.wait_state(pid, want_paused=False)


def teardown(name: str, keep_data: bool = False) -> list[str]:
    """Stop everything of cluster ``name``: recorded pids (checked by their mark) and any
    other process marked with its name; then remove its folder unless ``keep_data``."""
    done = []
    d = statefile.cluster_dir(name)  # BadInput for a name that is not a cluster name
    st = statefile.load(name) or {}
    pids = {p for p in st.get("pids", {}).values() if isinstance(p, int) and procs.marked_by(p) == name}
    pids |= set(procs.find_marked(name))
    for pid in pids:
        procs.signal_pid(pid, signal.SIGCONT)
        procs.signal_pid(pid, signal.SIGKILL)
    for pid in pids:
        procs.wait_gone(pid, 10.0)
        done.append(f"stopped pid {pid}")
    if d.exists() or d.is_symlink():
        if keep_data:
            statefile.state_path(name).unlink(missing_ok=True)
            done.append(f"kept data in {d}")
        elif safety.remove_tree(paths.clusters_dir(), d):
            done.append(f"removed {d}")
    return done
