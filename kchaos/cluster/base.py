"""The Cluster interface: up, down, nodes, bootstrap, and the fault capabilities.

Process faults (kill, stop, start, pause, resume) are the backend's; network faults go
through Toxiproxy and are the same on every backend, because every backend exposes its
links as proxies named by ``kchaos.cluster.topology``. Which faults are active lives in
the state file, so ``kchaos fault heal`` in another terminal, ``kchaos status`` and
``kchaos down`` all see them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, Literal

from kchaos.cluster import state as statefile
from kchaos.cluster.spec import ClusterSpec, NodeSpec
from kchaos.cluster.topology import Link, Topology
from kchaos.errors import BadInput, ClusterError
from kchaos.toxiproxy import Toxiproxy

Direction = Literal["in", "out", "both"]
NodeState = Literal["up", "down", "paused", "isolated"]
PEER_KINDS = ("repl", "ctrl")


class Cluster(ABC):
    """A running (or about to run) KRaft cluster with one Toxiproxy in front of every link."""

    backend: str = "?"
    start_hint: str = "kchaos up"  # how a user starts one of these, for "no cluster" errors

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.name = spec.name

    @classmethod
    def attach(cls, name: str = "default") -> Cluster:
        """The cluster another kchaos process started, rebuilt from its state file."""
        st = statefile.load(name)
        if not st or st.get("backend") != cls.backend:
            raise ClusterError(f"no {cls.backend} cluster '{name}' is running; start one with: {cls.start_hint}")
        return cls(ClusterSpec(**st["spec"]))

    def _all_alive(self) -> None:
        """Raise at once when a node died during startup, quoting the errors of its log."""
        for node in self.spec.nodes:
            if self.process_state(node.id) == "down":
                lines = self.log_tail(node.id)
                errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln or "rror:" in ln] or lines[-3:]
                raise ClusterError(f"node {node.id} exited during startup: {' / '.join(errors)[:400]}")

    def log_tail(self, node_id: int) -> list[str]:
        """The last lines a node logged (for errors); none when the backend cannot tell."""
        return []

    # --- lifecycle -------------------------------------------------------------------
    @abstractmethod
    def up(self, progress: Any = None) -> float:
        """Start everything and wait until writable; returns the seconds it took."""

    @abstractmethod
    def down(self, keep_data: bool = False) -> list[str]:
        """Stop everything this cluster started (also leftovers); returns what was done."""

    @property
    @abstractmethod
    def topo(self) -> Topology:
        """Ports, addresses and proxies (``kchaos.cluster.topology``) of this backend."""

    @property
    def bootstrap(self) -> str:
        """``host:port,...`` for clients; every address is a Toxiproxy client proxy."""
        return self.topo.bootstrap()

    def client_address(self, node_id: int) -> str:
        """``host:port`` of one broker's client proxy (published on 127.0.0.1 on every backend)."""
        return f"127.0.0.1:{self.topo.ports(self.node(node_id)).client_proxy}"

    @property
    def toxiproxy(self) -> Toxiproxy:
        return Toxiproxy(f"http://127.0.0.1:{self.topo.toxiproxy_port}")

    def links(self) -> list[Link]:
        return self.topo.links()

    @abstractmethod
    def node_info(self) -> list[dict[str, Any]]:
        """One dict per node for tables and ``status --json`` (id, roles, pid, ports...)."""

    def quorum_leader(self) -> int | None:
        """The active KRaft controller, read from the nodes' ``quorum-state`` files (the
        newest epoch wins): a KRaft DescribeCluster names a random broker instead."""
        best: tuple[int, int] | None = None
        for node in self.spec.nodes:
            if not node.controller:
                continue
            raw = self.read_node_file(node.id, f"{self.data_dir(node.id)}/__cluster_metadata-0/quorum-state")
            try:
                data = json.loads(raw or b"")
            except json.JSONDecodeError:
                continue
            leader, epoch = data.get("leaderId", -1), data.get("leaderEpoch", -1)
            if leader >= 0 and (best is None or epoch > best[1]):
                best = (leader, epoch)
        return best[0] if best else None

    @abstractmethod
    def process_state(self, node_id: int) -> Literal["up", "down", "paused"]: ...

    # --- process faults ---------------------------------------------------------------
    @abstractmethod
    def kill(self, node_id: int) -> None:
        """SIGKILL: no controlled shutdown, no flush; the harshest crash."""

    @abstractmethod
    def stop(self, node_id: int) -> None:
        """Graceful stop (SIGTERM): controlled shutdown moves leadership away first."""

    @abstractmethod
    def start(self, node_id: int) -> None:
        """Start a stopped or killed node again on its existing data."""

    @abstractmethod
    def pause(self, node_id: int) -> None:
        """Freeze a node (SIGSTOP / cgroup freezer): alive, silent, sockets open."""

    @abstractmethod
    def resume(self, node_id: int) -> None: ...

    # --- looking inside a node -------------------------------------------------------
    @abstractmethod
    def data_dir(self, node_id: int) -> str:
        """The node's log dir, as a path the node itself sees."""

    @abstractmethod
    def read_node_file(self, node_id: int, path: str) -> bytes | None:
        """A file's bytes from a node (running or not), or None when it cannot be read."""

    @abstractmethod
    def list_files(self, node_id: int, folder: str) -> list[tuple[str, int]]:
        """(name, size) of the files in ``folder`` (a path the node sees)."""

    @abstractmethod
    def run_tool(self, node_id: int, main_class: str, args: list[str]) -> str:
        """Run a Kafka tool class next to the node's data, with the node's jars; its stdout."""

    # --- network faults, through Toxiproxy ----------------------------------------------
    def node(self, node_id: int) -> NodeSpec:
        return self.spec.node(node_id)

    def _links_of(self, node_id: int, direction: Direction, kinds: tuple[str, ...]) -> list[Link]:
        self.node(node_id)
        out = []
        for link in self.links():
            if link.kind not in kinds:
                continue
            inbound = link.dst == node_id
            outbound = link.src == node_id
            if (direction in ("in", "both") and inbound) or (direction in ("out", "both") and outbound):
                out.append(link)
        return out

    def _faults(self) -> dict[str, Any]:
        return (statefile.load(self.name) or {}).get("faults", {"isolated": [], "toxics": [], "cut": []})

    def _save_faults(self, faults: dict[str, Any]) -> None:
        statefile.update(self.name, faults=faults)

    def isolate(self, node_id: int, keep_clients: bool = False) -> None:
        """Cut a node from every peer and controller; with ``keep_clients`` clients still reach it."""
        kinds = PEER_KINDS if keep_clients else (*PEER_KINDS, "client")
        for link in self._links_of(node_id, "both", kinds):
            self.toxiproxy.set_enabled(link.proxy.name, False)
        faults = self._faults()
        faults["isolated"] = sorted(set(faults["isolated"]) | {node_id})
        self._save_faults(faults)

    def cut(self, src: int, dst: int) -> None:
        """Cut the directed link src -> dst (connections src opens to dst); dst -> src stays."""
        self.node(src), self.node(dst)
        names = [link.proxy.name for link in self.links() if link.src == src and link.dst == dst]
        if not names:
            raise BadInput(f"no link {src} -> {dst} (a node has no link to itself)")
        for name in names:
            self.toxiproxy.set_enabled(name, False)
        faults = self._faults()
        faults["cut"] = sorted({tuple(c) for c in faults["cut"]} | {(src, dst)})
        self._save_faults(faults)

    def _toxic(
        self, node_id: int, kind: str, attributes: dict[str, Any], direction: Direction, kinds: tuple[str, ...]
    ) -> None:
        links = self._links_of(node_id, direction, kinds)
        for link in links:
            self.toxiproxy.add_toxic(link.proxy.name, f"kchaos-{kind}", kind, "downstream", attributes)
        faults = self._faults()
        faults["toxics"].append(
            {"node": node_id, "type": kind, "attributes": attributes, "proxies": [link.proxy.name for link in links]}
        )
        self._save_faults(faults)

    def slow(
        self,
        node_id: int,
        latency_ms: int,
        jitter_ms: int = 0,
        direction: Direction = "both",
        kinds: tuple[str, ...] = PEER_KINDS,
    ) -> None:
        """Add latency to every response crossing a node's links (default: peer links)."""
        self._toxic(node_id, "latency", {"latency": latency_ms, "jitter": jitter_ms}, direction, kinds)

    def bandwidth(
        self, node_id: int, rate_kb: int, direction: Direction = "both", kinds: tuple[str, ...] = PEER_KINDS
    ) -> None:
        """Limit a node's links to ``rate_kb`` KB/s."""
        self._toxic(node_id, "bandwidth", {"rate": rate_kb}, direction, kinds)

    def reset_peer(
        self, node_id: int, timeout_ms: int = 0, direction: Direction = "both", kinds: tuple[str, ...] = PEER_KINDS
    ) -> None:
        """Reset (TCP RST) connections of a node's links after ``timeout_ms``."""
        self._toxic(node_id, "reset_peer", {"timeout": timeout_ms}, direction, kinds)

    def timeout(
        self, node_id: int, timeout_ms: int = 0, direction: Direction = "both", kinds: tuple[str, ...] = PEER_KINDS
    ) -> None:
        """Stop all data on a node's links; connections hang (0 = until healed)."""
        self._toxic(node_id, "timeout", {"timeout": timeout_ms}, direction, kinds)

    def heal_network(self) -> None:
        """Every proxy enabled, every toxic gone, and every proxy that had a toxic cycled.

        Cycling (disable, then enable) closes connections a ``timeout`` toxic left hung.
        """
        proxies = self.toxiproxy.proxies()
        for name, proxy in proxies.items():
            if proxy.get("toxics"):
                self.toxiproxy.set_enabled(name, False)
        self.toxiproxy.reset()
        self._save_faults({"isolated": [], "toxics": [], "cut": []})

    def heal(self) -> list[str]:
        """Everything back: network healed, paused nodes resumed, down nodes started."""
        done = []
        self.heal_network()
        for n in self.spec.nodes:
            st = self.process_state(n.id)
            if st == "paused":
                self.resume(n.id)
                done.append(f"resumed {n.id}")
            elif st == "down":
                self.start(n.id)
                done.append(f"started {n.id}")
        return done

    def cut_sources(self) -> set[int]:
        """Nodes with an outgoing link cut: their metadata may be stale (they may not reach the controller)."""
        return {src for src, _ in self._faults()["cut"]}

    def node_state(self, node_id: int) -> NodeState:
        st = self.process_state(node_id)
        if st == "up" and node_id in self._faults()["isolated"]:
            return "isolated"
        return st
