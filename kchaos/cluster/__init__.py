"""Clusters: one interface (``Cluster``), a local backend, and a docker backend."""

from __future__ import annotations

from kchaos.cluster.base import Cluster
from kchaos.cluster.spec import ClusterSpec

__all__ = ["Cluster", "ClusterSpec", "attach"]


def attach(name: str = "default") -> Cluster:
    """The running cluster named ``name``, whatever its backend, from its state file."""
    from kchaos.cluster import state
    from kchaos.cluster.local import LocalCluster
    from kchaos.errors import ClusterError

    st = state.load(name)
    if not st:
        raise ClusterError(f"no cluster '{name}' is running; start one with: kchaos up")
    if st.get("backend") == "local":
        return LocalCluster.attach(name)
    raise ClusterError(f"cluster '{name}' has unknown backend {st.get('backend')!r}")
