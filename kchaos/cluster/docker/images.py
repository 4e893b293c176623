"""Docker images for the docker backend: which to use, and building them offline.

By default the docker backend runs the official images (``apache/kafka:<version>`` and
``ghcr.io/shopify/toxiproxy:<version>``). Where no registry is reachable,
``kchaos images build --offline`` builds stand-ins from what is already on the machine:
a Debian root filesystem made by ``mmdebstrap`` from the host's own apt sources (with a
Java runtime), the Kafka jars ``kchaos install`` fetched, and the Toxiproxy binary it
built. They are tagged ``kchaos/kafka:<version>`` and ``kchaos/toxiproxy:<version>``,
and used whenever the official ones are absent.

Both kinds of image are started the same way (kchaos gives the command: ``java -cp
/opt/kafka/libs/*`` for Kafka, ``/toxiproxy`` as entrypoint for Toxiproxy), so any image
with that layout works through ``--kafka-image`` / ``--toxiproxy-image``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kchaos import install, paths
from kchaos.errors import ClusterError, NotInstalled

TOXIPROXY_VERSION = install.TOXIPROXY_VERSION.lstrip("v")
OFFICIAL_KAFKA = "apache/kafka:{version}"
OFFICIAL_TOXIPROXY = "ghcr.io/shopify/toxiproxy:{version}"
OFFLINE_KAFKA = "kchaos/kafka:{version}"
OFFLINE_TOXIPROXY = "kchaos/toxiproxy:{version}"
OFFLINE_JRE = "kchaos/jre:{suite}"
LABEL = "kchaos.image"


def docker_client() -> Any:
    """A Docker SDK client that answers, or one line saying how to get a daemon."""
    try:
        import docker
    except ImportError:  # pragma: no cover - docker is a dependency
        raise NotInstalled("the docker Python package is missing; run: pip install docker") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception:  # the SDK raises several types for "no daemon"
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise NotInstalled(
            f"no Docker daemon answers at {where}; start one "
            "(for example: apt-get install -y docker.io && dockerd &) or use --backend local"
        ) from None
    return client


def daemon_answers() -> bool:
    """True when a Docker daemon answers; never raises."""
    try:
        docker_client()
        return True
    except NotInstalled:
        return False


def exists(client: Any, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


@dataclass(frozen=True)
class Images:
    """The two images a docker cluster runs, and where each choice came from."""

    kafka: str
    toxiproxy: str
    note: str = ""


def _choose(client: Any, kind: str, override: str | None, official: str, offline: str, build: str) -> tuple[str, str]:
    """One image: the override, else the official one if present, else the offline one,
    else pull the official one; a one-line error when none of that works."""
    if override:
        if exists(client, override) or _pull(client, override):
            return override, f"{kind} image {override} (chosen)"
        raise NotInstalled(
            f"{kind} image {override} is not here and cannot be pulled; check the name or docker pull it"
        )
    if exists(client, official):
        return official, f"{kind} image {official} (official)"
    if exists(client, offline):
        return offline, f"{kind} image {offline} (built offline; {official} is absent)"
    if _pull(client, official):
        return official, f"{kind} image {official} (pulled)"
    raise NotInstalled(
        f"{kind} image {official} is absent and cannot be pulled; run: {build} (or docker pull {official})"
    )


def _pull(client: Any, ref: str) -> bool:
    try:
        client.images.pull(ref)
        return True
    except Exception:  # no registry, unknown image, auth: all mean "not available"
        return False


def resolve(kafka_version: str, kafka_image: str | None = None, toxiproxy_image: str | None = None) -> Images:
    """The images to run: option, then env (KCHAOS_KAFKA_IMAGE, KCHAOS_TOXIPROXY_IMAGE), then defaults."""
    client = docker_client()
    kafka_image = kafka_image or os.environ.get("KCHAOS_KAFKA_IMAGE")
    toxiproxy_image = toxiproxy_image or os.environ.get("KCHAOS_TOXIPROXY_IMAGE")
    k, kn = _choose(
        client,
        "Kafka",
        kafka_image,
        OFFICIAL_KAFKA.format(version=kafka_version),
        OFFLINE_KAFKA.format(version=kafka_version),
        "kchaos images build --offline"
        + ("" if kafka_version == install.DEFAULT_KAFKA_VERSION else f" --kafka-version {kafka_version}"),
    )
    t, tn = _choose(
        client,
        "Toxiproxy",
        toxiproxy_image,
        OFFICIAL_TOXIPROXY.format(version=TOXIPROXY_VERSION),
        OFFLINE_TOXIPROXY.format(version=TOXIPROXY_VERSION),
        "kchaos images build --offline",
    )
    return Images(k, t, f"{kn}; {tn}")


def offline_available(kafka_version: str) -> bool:
    """True when a daemon answers and both images (official or offline) are present."""
    try:
        client = docker_client()
    except NotInstalled:
        return False
    kafka = [OFFICIAL_KAFKA.format(version=kafka_version), OFFLINE_KAFKA.format(version=kafka_version)]
    toxi = [OFFICIAL_TOXIPROXY.format(version=TOXIPROXY_VERSION), OFFLINE_TOXIPROXY.format(version=TOXIPROXY_VERSION)]
    return any(exists(client, r) for r in kafka) and any(exists(client, r) for r in toxi)


def pull_official(kafka_version: str) -> bool:
    """Pull the official images that are absent; True when both are here afterwards
    (False at once with no daemon, or when a registry does not answer)."""
    try:
        client = docker_client()
    except NotInstalled:
        return False
    refs = [OFFICIAL_KAFKA.format(version=kafka_version), OFFICIAL_TOXIPROXY.format(version=TOXIPROXY_VERSION)]
    return all(exists(client, r) or _pull(client, r) for r in refs)


# --- building offline ------------------------------------------------------------------


def host_suite() -> str:
    """The host's Debian suite (``bookworm``), from /etc/os-release."""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    raise NotInstalled("cannot tell the host's Debian suite (/etc/os-release); offline images need a Debian host")


def host_apt_sources(suite: str) -> list[str]:
    """The host's apt source files that serve ``suite``: mmdebstrap reads the mirror from
    them, so no mirror's name is ever written into kchaos."""
    found = []
    candidates = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in candidates:
        if path.suffix not in (".list", ".sources") or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        active = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if any(suite in ln for ln in active) and any("debian" in ln for ln in active):
            found.append(str(path))
    if not found:
        raise NotInstalled(f"no apt source for {suite} on this host (/etc/apt/sources.list*); cannot build offline")
    return found


def _base_tar(suite: str, say: Callable[[str], None]) -> Path:
    """The cached Debian root filesystem with a Java runtime (built once with mmdebstrap)."""
    out = paths.home() / "images" / f"jre-{suite}.tar"
    if out.exists():
        return out
    if not shutil.which("mmdebstrap"):
        raise NotInstalled("mmdebstrap is not installed; run: apt-get install -y mmdebstrap")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial.tar")
    cmd = [
        "mmdebstrap",
        "--variant=minbase",
        "--include=default-jre-headless,ca-certificates",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--format=tar",
        "--quiet",
        suite,
        str(tmp),
        *host_apt_sources(suite),
    ]
    say(f"building a {suite} root filesystem with a Java runtime (mmdebstrap, about 30 s)")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        raise ClusterError(f"mmdebstrap failed: {tail[0][:300]}")
    tmp.replace(out)
    return out


def _import(client: Any, tar: Path | bytes, ref: str, changes: list[str]) -> None:
    repo, tag = ref.rsplit(":", 1)
    if isinstance(tar, Path):
        client.api.import_image_from_file(str(tar), repository=repo, tag=tag, changes=changes)
    else:
        client.api.import_image_from_data(tar, repository=repo, tag=tag, changes=changes)
    if not exists(client, ref):
        raise ClusterError(f"docker import did not produce {ref}")


def _libs_tar(libs: Path) -> str:
    """A tar (on disk, it is large) of the Kafka jars under ``opt/kafka/libs``."""
    fd, name = tempfile.mkstemp(suffix=".tar", dir=paths.home())
    os.close(fd)
    with tarfile.open(name, "w") as tar:
        info = tarfile.TarInfo("opt/kafka/libs")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for jar in sorted(libs.glob("*.jar")):
            tar.add(str(jar), arcname=f"opt/kafka/libs/{jar.name}")
    return name


def _build_kafka(client: Any, base: str, ref: str, kafka_version: str) -> None:
    """Base image + the jars from ``kchaos install``, committed as ``ref``."""
    libs = install.find_kafka(kafka_version).libs
    container = client.containers.create(base, command=["true"], labels={LABEL: "build"})
    tar = _libs_tar(libs)
    try:
        with open(tar, "rb") as fh:
            container.put_archive("/", fh)
        repo, tag = ref.rsplit(":", 1)
        changes = [
            "WORKDIR /opt/kafka",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            f'LABEL {LABEL}="kafka" kchaos.kafka.version="{kafka_version}" kchaos.libs="{install.libs_digest(libs)}"',
            'CMD ["sh", "-c", "echo kchaos starts this image with its own command; exit 1"]',
        ]
        container.commit(repository=repo, tag=tag, changes="\n".join(changes))
    finally:
        os.unlink(tar)
        container.remove(force=True)


def _current(client: Any, ref: str, kafka_version: str) -> bool:
    """True when ``ref`` exists and holds the jars ``kchaos install`` has now."""
    if not exists(client, ref):
        return False
    labels = client.images.get(ref).labels or {}
    return labels.get("kchaos.libs") == install.libs_digest(install.find_kafka(kafka_version).libs)


def _toxiproxy_tar() -> bytes:
    binary = install.find_toxiproxy()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(binary), arcname="toxiproxy")
    return buf.getvalue()


def build_offline(kafka_version: str, rebuild: bool = False, say: Callable[[str], None] = print) -> list[str]:
    """Build ``kchaos/kafka:<version>`` and ``kchaos/toxiproxy:<version>`` with no registry.

    Skips an image that already exists unless ``rebuild``; returns what it did.
    """
    client = docker_client()
    done = []
    kafka_ref = OFFLINE_KAFKA.format(version=kafka_version)
    toxi_ref = OFFLINE_TOXIPROXY.format(version=TOXIPROXY_VERSION)
    if rebuild or not exists(client, toxi_ref):
        started = time.monotonic()
        changes = ['ENTRYPOINT ["/toxiproxy"]', 'CMD ["-host=0.0.0.0"]', f'LABEL {LABEL}="toxiproxy"']
        _import(client, _toxiproxy_tar(), toxi_ref, changes)
        done.append(f"built {toxi_ref} in {time.monotonic() - started:.1f} s")
    else:
        done.append(f"{toxi_ref} already built (nothing to do)")
    if rebuild or not _current(client, kafka_ref, kafka_version):
        started = time.monotonic()
        suite = host_suite()
        base_ref = OFFLINE_JRE.format(suite=suite)
        if rebuild or not exists(client, base_ref):
            _import(client, _base_tar(suite, say), base_ref, [f'LABEL {LABEL}="jre"'])
        _build_kafka(client, base_ref, kafka_ref, kafka_version)
        done.append(f"built {kafka_ref} in {time.monotonic() - started:.1f} s")
    else:
        done.append(f"{kafka_ref} already built (nothing to do)")
    return done
