"""The docker backend: each KRaft node is a container, Toxiproxy is a container too.

Directed links (``cut 1 2`` while 3 -> 2 stays up) need each *source* node to reach
its peers through proxies of its own, as on the local backend. Here that is done with
networks instead of hosts files:

- every node sits alone with Toxiproxy on a private, internal network of its own
  (``kchaos-<cluster>-net-<id>``), so it can reach nothing but Toxiproxy;
- Toxiproxy is on all of them, so it has one address per source node;
- node A's ``/etc/hosts`` (``extra_hosts``) maps every peer name ``kchaos-nB`` to
  Toxiproxy's address on A's network, where the proxy ``repl-A-B`` listens on B's port
  and forwards to B's container by name (Docker's DNS, so a restarted node's new
  address is found);
- a node maps its own name to 127.0.0.1; clients enter through ``client-B`` proxies on a
  front network, published on 127.0.0.1 only, like the Toxiproxy API.

Every container, network and volume carries the label ``kchaos.cluster=<name>``, so
``kchaos down`` finds leftovers even without the state file. Data lives in named
volumes; kchaos reads files in them (quorum state, segments) through the Docker API.
"""

from __future__ import annotations

import io
import shlex
import tarfile
import time
from typing import Any, Literal

from kchaos.cluster import config, readiness
from kchaos.cluster import state as statefile
from kchaos.cluster.base import Cluster
from kchaos.cluster.common import JVM_FLAGS, check_ports_free
from kchaos.cluster.docker import images
from kchaos.cluster.spec import ClusterSpec, NodeSpec
from kchaos.cluster.topology import Topology
from kchaos.errors import BadInput, ClusterError

LABEL = "kchaos.cluster"
DATA_DIR = "/var/lib/kafka/data"
CONF_DIR = "/etc/kchaos"
TOXIPROXY_API_PORT = 8474


def prefix(cluster: str) -> str:
    """Every Docker object of ``cluster`` is named from this (a valid cluster name only)."""
    from kchaos import safety

    return f"kchaos-{safety.cluster_name(cluster)}"


def node_container(cluster: str, node_id: int) -> str:
    return f"{prefix(cluster)}-node-{node_id}"


def node_network(cluster: str, node_id: int) -> str:
    return f"{prefix(cluster)}-net-{node_id}"


def node_volume(cluster: str, node_id: int) -> str:
    return f"{prefix(cluster)}-data-{node_id}"


class DockerTopology(Topology):
    """Ports and proxy names as on every backend, with container addresses.

    ``toxiproxy_ips`` maps a source node id to Toxiproxy's address on that node's network.
    """

    def __init__(self, spec: ClusterSpec, toxiproxy_ips: dict[int, str]) -> None:
        super().__init__(spec)
        self.toxiproxy_ips = toxiproxy_ips

    def link_ip(self, src: NodeSpec, dst: NodeSpec) -> str:
        if src.id == dst.id:
            return "127.0.0.1"
        return self.toxiproxy_ips[src.id]

    def upstream_host(self, dst: NodeSpec) -> str:
        return node_container(self.spec.name, dst.id)

    def client_listen_host(self) -> str:
        return "0.0.0.0"

    def extra_hosts(self, src: NodeSpec) -> dict[str, str]:
        """``src``'s /etc/hosts entries: every peer's name -> src's own proxy address."""
        return {dst.host: self.link_ip(src, dst) for dst in self.spec.nodes}

    def published_ports(self) -> list[int]:
        """Host ports (on 127.0.0.1): the Toxiproxy API and every client proxy."""
        return [self.toxiproxy_port] + [self.ports(n).client_proxy for n in self.spec.nodes if n.broker]


FEATURE_ARGS = ' "$@"'


def node_command(spec: ClusterSpec, node: NodeSpec, cluster_id: str) -> list[str]:
    """The container's command: format the volume once, then run the broker as PID 1.

    ``exec`` makes the JVM PID 1, so ``docker stop`` is Kafka's controlled shutdown and
    ``docker kill`` is a SIGKILL of Kafka itself.
    """
    jvm = f"java {' '.join(JVM_FLAGS)} -Dlog4j2.configurationFile={CONF_DIR}/log4j2.properties -cp '/opt/kafka/libs/*'"
    # Features are arguments of ``sh -c`` ("$@"), never text of the script: a name cannot
    # become shell code, whatever it holds (it is also checked when the spec is made).
    features = [arg for name, level in spec.features.items() for arg in ("--feature", f"{name}={int(level)}")]
    script = (
        f"if [ ! -f {DATA_DIR}/meta.properties ]; then "
        f"{jvm} -Xmx256m kafka.tools.StorageTool format -t {shlex.quote(cluster_id)} -c {CONF_DIR}/server.properties"
        f"{FEATURE_ARGS if features else ''} >/dev/null || exit 1; fi; "
        f"exec {jvm} -Xmx{int(spec.heap_mb)}m -Xms{min(int(spec.heap_mb), 256)}m kafka.Kafka {CONF_DIR}/server.properties"
    )
    return ["sh", "-c", script, *(["kchaos-node", *features] if features else [])]


def node_properties(spec: ClusterSpec, topo: Topology, node: NodeSpec) -> str:
    """server.properties of a node in a container: it listens on all its addresses."""
    return config.node_properties(spec, topo, node, "0.0.0.0", DATA_DIR)


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class DockerCluster(Cluster):
    """A cluster of containers on private networks, created with the Docker SDK."""

    backend = "docker"
    start_hint = "kchaos up --backend docker"

    def __init__(self, spec: ClusterSpec, kafka_image: str | None = None, toxiproxy_image: str | None = None) -> None:
        super().__init__(spec)
        self.kafka_image, self.toxiproxy_image = kafka_image, toxiproxy_image
        self._client: Any = None
        self._topo: DockerTopology | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = images.docker_client()
        return self._client

    @property
    def topo(self) -> DockerTopology:
        """Toxiproxy's addresses are fixed once it runs, so the state file is read until
        they are known, then never again."""
        if self._topo is None:
            ips = (statefile.load(self.name) or {}).get("toxiproxy_ips", {})
            topo = DockerTopology(self.spec, {int(k): v for k, v in ips.items()})
            if not ips:
                return topo
            self._topo = topo
        return self._topo

    def labels(self, role: str, node_id: int | None = None) -> dict[str, str]:
        out = {LABEL: self.name, "kchaos.role": role}
        if node_id is not None:
            out["kchaos.node"] = str(node_id)
        return out

    # --- lifecycle -------------------------------------------------------------------
    def up(self, progress: Any = None) -> float:
        """Networks, Toxiproxy, proxies, then every node; wait until acks=all writes work."""
        started = time.monotonic()
        chosen = images.resolve(self.spec.kafka_version, self.kafka_image, self.toxiproxy_image)
        if labelled(self.client, f"{LABEL}={self.name}")["containers"]:
            raise ClusterError(f"cluster '{self.name}' is already running; run: kchaos down --cluster {self.name}")
        topo = DockerTopology(self.spec, {})
        check_ports_free([("127.0.0.1", port) for port in topo.published_ports()])
        spec = {k: getattr(self.spec, k) for k in self.spec.__dataclass_fields__}
        statefile.save(
            self.name,
            {
                "backend": "docker",
                "spec": spec,
                "images": {"kafka": chosen.kafka, "toxiproxy": chosen.toxiproxy, "note": chosen.note},
                "status": "starting",
                "bootstrap": self.bootstrap,
                "kafka_version": self.spec.kafka_version,
                "faults": {"isolated": [], "toxics": [], "cut": []},
            },
        )
        self._create_networks()
        self._start_toxiproxy(chosen.toxiproxy)
        cluster_id = config.cluster_id()
        statefile.update(self.name, cluster_id=cluster_id)
        for node in self.spec.nodes:
            self._create_node(node, chosen.kafka, cluster_id)
        for node in self.spec.nodes:
            self.client.api.start(node_container(self.name, node.id))
        readiness.wait_writable(self.bootstrap, self.spec, timeout=120.0, alive=self._all_alive)
        statefile.update(self.name, status="up")
        return time.monotonic() - started

    def _create_networks(self) -> None:
        self.client.networks.create(f"{prefix(self.name)}-front", driver="bridge", labels=self.labels("front"))
        for node in self.spec.nodes:
            self.client.networks.create(
                node_network(self.name, node.id), driver="bridge", internal=True, labels=self.labels("net", node.id)
            )

    def _start_toxiproxy(self, image: str) -> None:
        topo = DockerTopology(self.spec, {})
        ports: dict[str, tuple[str, int]] = {f"{TOXIPROXY_API_PORT}/tcp": ("127.0.0.1", topo.toxiproxy_port)}
        for port in topo.published_ports()[1:]:
            ports[f"{port}/tcp"] = ("127.0.0.1", port)
        name = f"{prefix(self.name)}-toxiproxy"
        container = self.client.containers.run(
            image,
            command=["-host=0.0.0.0", f"-port={TOXIPROXY_API_PORT}"],
            name=name,
            labels=self.labels("toxiproxy"),
            network=f"{prefix(self.name)}-front",
            ports=ports,
            environment={"LOG_LEVEL": "warn"},
            detach=True,
        )
        for node in self.spec.nodes:
            self.client.networks.get(node_network(self.name, node.id)).connect(container)
        container.reload()
        nets = container.attrs["NetworkSettings"]["Networks"]
        ips = {str(n.id): nets[node_network(self.name, n.id)]["IPAddress"] for n in self.spec.nodes}
        statefile.update(self.name, toxiproxy_ips=ips)
        self.toxiproxy.wait_alive(30.0)
        self.toxiproxy.populate([link.proxy for link in self.links()])

    def _create_node(self, node: NodeSpec, image: str, cluster_id: str) -> None:
        topo = self.topo
        name = node_container(self.name, node.id)
        volume = node_volume(self.name, node.id)
        self.client.volumes.create(volume, labels=self.labels("data", node.id))
        container = self.client.containers.create(
            image,
            command=node_command(self.spec, node, cluster_id),
            entrypoint=[],
            name=name,
            hostname=f"node-{node.id}",
            labels=self.labels("node", node.id),
            network=node_network(self.name, node.id),
            extra_hosts=topo.extra_hosts(node),
            volumes={volume: {"bind": DATA_DIR, "mode": "rw"}},
            user="0",
            working_dir="/",
        )
        files = {
            "etc/kchaos/server.properties": node_properties(self.spec, topo, node),
            "etc/kchaos/log4j2.properties": config.LOG4J2_CONSOLE,
        }
        container.put_archive("/", _tar(files))

    def log_tail(self, node_id: int) -> list[str]:
        logs = self.client.api.logs(node_container(self.name, node_id), tail=20).decode(errors="replace")
        return logs.strip().splitlines()

    def down(self, keep_data: bool = False) -> list[str]:
        return teardown(self.name, keep_data)

    # --- inspection -------------------------------------------------------------------
    def _inspect(self, node_id: int) -> dict[str, Any] | None:
        import docker.errors

        try:
            return self.client.api.inspect_container(node_container(self.name, node_id))
        except docker.errors.NotFound:
            return None

    def process_state(self, node_id: int) -> Literal["up", "down", "paused"]:
        info = self._inspect(node_id)
        if not info or not info["State"]["Running"]:
            return "down"
        return "paused" if info["State"]["Paused"] else "up"

    def read_node_file(self, node_id: int, path: str) -> bytes | None:
        """A file from a node's container (running, stopped or paused), or None."""
        try:
            stream, _ = self.client.api.get_archive(node_container(self.name, node_id), path)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.next()
                fh = tar.extractfile(member) if member else None
                return fh.read() if fh else None
        except Exception:  # not found, container gone: the caller treats both as absent
            return None

    def node_info(self) -> list[dict[str, Any]]:
        out = []
        topo = self.topo
        for node in self.spec.nodes:
            info = self._inspect(node.id)
            p = topo.ports(node)
            out.append(
                {
                    "id": node.id,
                    "roles": node.roles,
                    "pid": (info or {}).get("State", {}).get("Pid") or None,
                    "container": node_container(self.name, node.id),
                    "client_port": p.client_proxy if node.broker else None,
                    "replication_port": p.replication if node.broker else None,
                    "controller_port": p.controller if node.controller else None,
                    "data_dir": f"{node_volume(self.name, node.id)}:{DATA_DIR}",
                }
            )
        return out

    # --- process faults, with Docker's own means ------------------------------------------
    def _running(self, node_id: int) -> str:
        self.node(node_id)
        if self.process_state(node_id) == "down":
            raise BadInput(f"node {node_id} is not running; start it with: kchaos fault start {node_id}")
        return node_container(self.name, node_id)

    def _wait(self, node_id: int, want: str, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while self.process_state(node_id) != want:
            if time.monotonic() > deadline:
                raise ClusterError(f"node {node_id} did not become {want} within {seconds:.0f} s")
            time.sleep(0.05)

    def kill(self, node_id: int) -> None:
        """``docker kill``: SIGKILL to the JVM (PID 1)."""
        name = self._running(node_id)
        if self.process_state(node_id) == "paused":
            self.client.api.unpause(name)
        self.client.api.kill(name, signal="SIGKILL")
        self._wait(node_id, "down", 10.0)

    def stop(self, node_id: int) -> None:
        """``docker stop``: SIGTERM (controlled shutdown), SIGKILL after 30 s."""
        self.client.api.stop(self._running(node_id), timeout=30)
        self._wait(node_id, "down", 40.0)

    def start(self, node_id: int) -> None:
        self.node(node_id)
        if self.process_state(node_id) != "down":
            return
        self.client.api.start(node_container(self.name, node_id))
        self._wait(node_id, "up", 30.0)

    def pause(self, node_id: int) -> None:
        """``docker pause``: the cgroup freezer stops every thread; sockets stay open."""
        self.client.api.pause(self._running(node_id))
        self._wait(node_id, "paused", 10.0)

    def resume(self, node_id: int) -> None:
        self.client.api.unpause(self._running(node_id))
        self._wait(node_id, "up", 10.0)

    # --- looking inside a node --------------------------------------------------------------
    def node_exec(self, node_id: int, argv: list[str]) -> str:
        """Run a command inside a node's container (``docker exec``); its stdout."""
        result = self.client.api.exec_create(self._running(node_id), argv, user="0")
        out, err = self.client.api.exec_start(result["Id"], demux=True)
        code = self.client.api.exec_inspect(result["Id"]).get("ExitCode")
        if code:
            detail = (err or out or b"").decode(errors="replace").strip()[-300:]
            raise ClusterError(f"{' '.join(argv[:3])}… in node {node_id} exited {code}: {detail}")
        return (out or b"").decode(errors="replace")

    def data_dir(self, node_id: int) -> str:
        self.node(node_id)
        return DATA_DIR

    def list_files(self, node_id: int, folder: str) -> list[tuple[str, int]]:
        """``stat`` inside the container (GNU and busybox agree on ``-c '%s %n'``). The
        folder is the script's argument ``$1``, never part of its text: a quote in a
        folder's name cannot end the script's quoting."""
        out = self.node_exec(node_id, ["sh", "-c", 'cd "$1" && stat -c "%s %n" -- *', "list-files", folder])
        files = []
        for line in out.splitlines():
            size, _, name = line.partition(" ")
            if size.isdigit():
                files.append((name, int(size)))
        return files

    def run_tool(self, node_id: int, main_class: str, args: list[str]) -> str:
        """The tool runs inside the node's container, on the image's own jars."""
        return self.node_exec(node_id, ["java", "-Xmx128m", "-cp", "/opt/kafka/libs/*", main_class, *args])


def labelled(client: Any, label: str = LABEL) -> dict[str, list[dict[str, Any]]]:
    """Containers, networks and volumes carrying ``label`` (``key`` or ``key=value``):
    name, id and labels of each, from one list call per kind.

    The low-level list calls return what they found; the SDK's ``list()`` inspects every
    object afterwards and fails when one is removed in between.
    """
    flt = {"label": label}
    containers = client.api.containers(all=True, filters=flt)
    volumes = client.api.volumes(filters=flt).get("Volumes") or []
    return {
        "containers": [{"name": c["Names"][0].lstrip("/"), "id": c["Id"], "labels": c["Labels"]} for c in containers],
        "networks": [
            {"name": n["Name"], "id": n["Id"], "labels": n["Labels"]} for n in client.api.networks(filters=flt)
        ],
        "volumes": [{"name": v["Name"], "id": v["Name"], "labels": v["Labels"]} for v in volumes],
    }


def owned_names() -> list[str]:
    """Names of every cluster that has containers, networks or volumes with kchaos labels."""
    try:
        client = images.docker_client()
    except Exception:  # no daemon: nothing of ours can exist there
        return []
    found = labelled(client)
    return sorted({obj["labels"][LABEL] for objs in found.values() for obj in objs if (obj["labels"] or {}).get(LABEL)})


def teardown(name: str, keep_data: bool = False) -> list[str]:
    """Remove every container and network labelled with cluster ``name`` (and its volumes
    unless ``keep_data``), whether or not a state file still knows them."""
    import docker.errors

    done: list[str] = []
    try:
        client = images.docker_client()
    except Exception:
        return done
    found = labelled(client, f"{LABEL}={name}")
    removals = [("container", client.api.remove_container, {"force": True}, found["containers"])]
    removals.append(("network", client.api.remove_network, {}, found["networks"]))
    if not keep_data:
        removals.append(("volume", client.api.remove_volume, {"force": True}, found["volumes"]))
    for kind, remove, options, objs in removals:
        for obj in objs:
            try:
                remove(obj["id"], **options)
            except docker.errors.NotFound:
                continue  # gone already: what teardown wants
            done.append(f"removed {kind} {obj['name']}")
    return done
