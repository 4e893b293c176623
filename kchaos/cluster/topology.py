"""Who talks to whom, through which Toxiproxy proxy.

Every broker dials its peers by name (``kchaos-n2``) at one advertised port, so one
proxy per broker could not cut A->B while C->B stays up. Instead each *source* node
resolves its peers' names to its own proxies: on the local backend each JVM gets its own
hosts file (``-Djdk.net.hosts.file``) mapping ``kchaos-nB`` to ``127.77.a.b``, a loopback
address that only node A uses, where the proxy ``repl-A-B`` listens on B's port and
forwards to B's real listener on 127.0.0.1. A node resolves its own name to 127.0.0.1,
so its traffic to itself bypasses the proxies. Clients enter through ``client-B``.

The result: every link (source node, destination node, listener) is one proxy, so
"cut broker 2 off" and "add 200 ms to 3's replication link" are single calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kchaos.cluster.spec import ClusterSpec, NodeSpec
from kchaos.toxiproxy import Proxy

LinkKind = Literal["client", "repl", "ctrl"]


@dataclass(frozen=True)
class Link:
    """One proxied connection path; ``src`` is None for clients."""

    kind: LinkKind
    src: int | None
    dst: int
    proxy: Proxy


@dataclass(frozen=True)
class NodePorts:
    """The ports of one node (host ports on the local backend, container ports on docker)."""

    client_proxy: int
    client: int
    replication: int
    controller: int


class Topology:
    """Ports, proxies and links of a cluster; each backend says where addresses are
    (``link_ip``, ``upstream_host``, ``client_listen_host``)."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.index = {n.id: k for k, n in enumerate(spec.nodes)}

    @property
    def toxiproxy_port(self) -> int:
        return self.spec.base_port

    def ports(self, node: NodeSpec) -> NodePorts:
        k, base = self.index[node.id], self.spec.base_port
        return NodePorts(base + 100 + k, base + 200 + k, base + 300 + k, base + 400 + k)

    def link_ip(self, src: NodeSpec, dst: NodeSpec) -> str:
        """The address on which ``src`` reaches ``dst``'s proxies."""
        raise NotImplementedError

    def upstream_host(self, dst: NodeSpec) -> str:
        """Where Toxiproxy reaches ``dst``'s real listeners."""
        raise NotImplementedError

    def client_listen_host(self) -> str:
        """Where the client proxies listen (inside Toxiproxy's network namespace)."""
        raise NotImplementedError

    def links(self) -> list[Link]:
        """Every proxy of the cluster: client entries, replication and controller links."""
        nodes, out = self.spec.nodes, []
        for dst in nodes:
            p, up = self.ports(dst), self.upstream_host(dst)
            if dst.broker:
                proxy = Proxy(f"client-{dst.id}", f"{self.client_listen_host()}:{p.client_proxy}", f"{up}:{p.client}")
                out.append(Link("client", None, dst.id, proxy))
            for src in nodes:
                if src.id == dst.id:
                    continue
                ip = self.link_ip(src, dst)
                if src.broker and dst.broker:
                    proxy = Proxy(f"repl-{src.id}-{dst.id}", f"{ip}:{p.replication}", f"{up}:{p.replication}")
                    out.append(Link("repl", src.id, dst.id, proxy))
                if dst.controller:
                    proxy = Proxy(f"ctrl-{src.id}-{dst.id}", f"{ip}:{p.controller}", f"{up}:{p.controller}")
                    out.append(Link("ctrl", src.id, dst.id, proxy))
        return out

    def bootstrap(self) -> str:
        """The address list a client starts from: every broker's client proxy."""
        return ",".join(f"127.0.0.1:{self.ports(n).client_proxy}" for n in self.spec.nodes if n.broker)
