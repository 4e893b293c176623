"""Names that become paths, folders kchaos may delete, and text it may print.

A cluster name, an experiment id and an archive's version all end up in a file system
path (``clusters/<name>``, ``<report-dir>/<ts>-<id>``, ``kafka/<version>``), and some of
those paths are deleted. So each must match a strict pattern before any path is built
from it, and every delete resolves the folder and checks, right before removing it, that
it lies inside kchaos' own root: a name that slipped past a pattern still cannot remove
anything outside.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from kchaos.errors import BadInput

#: Cluster names: a path component, a Docker name part and an environment value at once.
CLUSTER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}")
#: Experiment ids: a run folder's name (``<ts>-<id>``) and a report title.
EXPERIMENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: Kafka versions (``4.4.0``, ``3.9.1``, ``4.1.0-rc1``): a folder under ``kafka/``.
VERSION = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,3})?(-[A-Za-z0-9]{1,20})?")
#: Feature names as ``kafka-storage format --feature NAME=LEVEL`` takes them.
FEATURE_NAME = re.compile(r"[a-z][a-z0-9._-]{0,63}")
#: Broker settings that define listeners, their addresses or their protocols: the
#: cluster spec owns them (every listener on loopback, behind its proxy). Also the ones
#: that point a node at other places on disk or at other voters.
RESERVED_BROKER_KEYS = frozenset(
    {
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "controller.listener.names",
        "inter.broker.listener.name",
        "security.inter.broker.protocol",
        "controller.quorum.voters",
        "controller.quorum.bootstrap.servers",
        "process.roles",
        "node.id",
        "broker.id",
        "log.dirs",
        "log.dir",
        "metadata.log.dir",
    }
)
_RESERVED_PREFIX = re.compile(r"listener\.name\.")
#: A properties key: no separator (= : space), comment start (# !) or escape (\\).
_PROPERTY_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")

#: C0 and C1 control characters and DEL, except tab and newline (terminal escapes start with ESC or CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Every control character, newline and tab included (a properties line ends at a newline).
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def cluster_name(name: object, what: str = "--cluster") -> str:
    """``name`` when it is a valid cluster name, else BadInput (one line)."""
    if not isinstance(name, str) or not CLUSTER_NAME.fullmatch(name):
        raise BadInput(
            f"{what}={printable(repr(name))}: a cluster name is 1 to 41 of a-z, 0-9, '-' and '_', "
            "starting with a letter or digit"
        )
    return name


def is_cluster_name(name: object) -> bool:
    return isinstance(name, str) and CLUSTER_NAME.fullmatch(name) is not None


def experiment_id(value: object, what: str = "id") -> str:
    """``value`` when it is a valid experiment id (it names a run folder), else BadInput."""
    if not isinstance(value, str) or not EXPERIMENT_ID.fullmatch(value):
        raise BadInput(f"{what} {printable(repr(value))}: an id is 1 to 64 of a-z, 0-9, '-' and '_'")
    return value


def version(value: object, what: str = "--kafka-version") -> str:
    """``value`` when it is a Kafka version (``X.Y[.Z][-tag]``), else BadInput."""
    if not isinstance(value, str) or not VERSION.fullmatch(value):
        raise BadInput(f"{what}={printable(repr(value))}: a Kafka version looks like 4.4.0")
    return value


def inside(root: Path, path: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) to a proper descendant of ``root``."""
    base = Path(root).resolve()
    target = Path(path).resolve()
    return target != base and base in target.parents


def remove_tree(root: Path, path: Path) -> bool:
    """Remove the folder ``path`` only if it lies inside ``root``; True when removed.

    Checked right before the delete (not when the path was built), and never through a
    symlink: a link is unlinked, not followed. A folder outside ``root`` is BadInput.
    """
    path = Path(path)
    if path.is_symlink():
        if Path(root).resolve() != path.parent.resolve() and not inside(root, path.parent):
            raise BadInput(f"refusing to remove {path}: it is not inside {root}")
        path.unlink()
        return True
    if not path.exists():
        return False
    if not inside(root, path):
        raise BadInput(f"refusing to remove {path}: it is not inside {root}")
    shutil.rmtree(path)
    return True


def printable(text: str) -> str:
    """``text`` with terminal control sequences made harmless (ESC, CSI, BEL... shown as ``\\xNN``).

    Text from a YAML file or a summary reaches the terminal in errors and plans; an ESC
    sequence there could retitle the window, clear the screen or fake output.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def broker_config_problem(key: object, value: object) -> str | None:
    """Why a broker setting cannot come from a file or ``--config`` (None when it can)."""
    text_key = str(key)
    if not _PROPERTY_KEY.fullmatch(text_key):
        return f"broker config key {printable(repr(text_key))}: a name of letters, digits, '.', '_' and '-'"
    if _ANY_CONTROL.search(str(value)) or "\\" in str(value):
        return (
            f"broker config {text_key}: a value with a newline, control character or backslash "
            "(an escape in server.properties) is refused"
        )
    if text_key in RESERVED_BROKER_KEYS or _RESERVED_PREFIX.match(text_key):
        return f"broker config {text_key}: kchaos sets listeners, addresses and log folders itself (all on loopback)"
    return None


def feature_problem(name: object, level: object) -> str | None:
    """Why a ``features`` entry cannot go to the storage tool (None when it can)."""
    if not isinstance(name, str) or not FEATURE_NAME.fullmatch(name):
        return f"feature {printable(repr(name))}: a name of a-z, 0-9, '.', '_' and '-' (e.g. eligible.leader.replicas.version)"
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 32_767:
        return f"feature {name}: a level from 0 to 32767"
    return None
