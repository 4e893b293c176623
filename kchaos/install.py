"""``kchaos install``: a pinned Kafka and a pinned Toxiproxy server in the cache.

Kafka comes, by preference, from Maven Central (``org.apache.kafka:kafka_2.13`` and
``kafka-tools`` with their runtime dependencies, plus a log4j2 backend that the POM does
not bring), resolved by the machine's own Maven with its own settings: no repository
host is written here. Two other sources are accepted: ``KAFKA_HOME`` pointing at an
existing installation, and the official release archive (a local path), verified against
its SHA-512. Toxiproxy's server is built with ``go install`` of its ``cmd/server`` at a
pinned tag, through the machine's own Go module proxy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kchaos import paths
from kchaos.errors import BadInput, NotInstalled

DEFAULT_KAFKA_VERSION = "4.4.0"
TOXIPROXY_VERSION = "v2.12.0"
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
LOG4J_VERSION = "2.24.3"
#: Kafka 4's jars need SLF4J 2; without it Maven's nearest-wins picks a 1.7 API from a
#: transitive dependency, the log4j2 binding is ignored, and brokers log nothing.
SLF4J_VERSION = "2.0.16"
#: Bump when the set of jars the POM resolves changes, so ``install`` redoes old caches.
RECIPE = 2
MARKER = "kchaos-install.json"

POM_TEMPLATE = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kchaos</groupId><artifactId>kafka-dist</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId><version>{log4j}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
  </dependencies>
</project>
"""


@dataclass(frozen=True)
class KafkaInstall:
    """A Kafka installation kchaos can run: its version and its folder of jars."""

    version: str
    libs: Path
    source: str


def _supported(version: str) -> bool:
    """KRaft without ZooKeeper and the tools we call need Kafka 3.9 or newer."""
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (3, 9)


def find_kafka(version: str = DEFAULT_KAFKA_VERSION) -> KafkaInstall:
    """The installation to run: ``KAFKA_HOME`` when set, else the cached pinned one."""
    env_home = os.environ.get("KAFKA_HOME")
    if env_home:
        libs = Path(env_home) / "libs"
        jars = sorted(libs.glob("kafka_2.13-*.jar")) if libs.is_dir() else []
        if not jars:
            raise NotInstalled(f"KAFKA_HOME={env_home} has no libs/kafka_2.13-*.jar; unset it or fix it")
        found = jars[0].name.removeprefix("kafka_2.13-").removesuffix(".jar")
        found = found.split("-")[0] if found[0].isdigit() else found
        return KafkaInstall(found, libs, f"KAFKA_HOME={env_home}")
    root = paths.kafka_dir(version)
    if not (root / MARKER).exists():
        raise NotInstalled(f"Kafka {version} is not installed; run: kchaos install --kafka-version {version}")
    return KafkaInstall(version, root / "libs", json.loads((root / MARKER).read_text())["source"])


def find_toxiproxy() -> Path:
    """The Toxiproxy server binary, or a one-line error saying how to get it."""
    env = os.environ.get("KCHAOS_TOXIPROXY_BIN")
    binary = Path(env) if env else paths.toxiproxy_bin(TOXIPROXY_VERSION)
    if not binary.exists():
        raise NotInstalled(f"Toxiproxy server not found at {binary}; run: kchaos install")
    return binary


def find_java() -> str:
    """The ``java`` to run brokers with (``JAVA_HOME`` first); Kafka 4 needs Java 17+."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise NotInstalled("no Java found; install a Java 17+ runtime (apt-get install openjdk-17-jre-headless)")
    return java


def install_kafka_from_maven(version: str) -> str:
    """Resolve Kafka's runtime jars with Maven into the cache; returns what it did."""
    if not _supported(version):
        raise BadInput(f"--kafka-version={version}: kchaos needs Kafka 3.9 or newer (KRaft only)")
    root = paths.kafka_dir(version)
    if (root / MARKER).exists() and json.loads((root / MARKER).read_text()).get("recipe") == RECIPE:
        return f"Kafka {version} already installed in {root} (nothing to do)"
    mvn = shutil.which("mvn")
    if not mvn:
        raise NotInstalled("Maven (mvn) not found; install it, or set KAFKA_HOME to a Kafka installation")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kchaos-mvn-") as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_text(POM_TEMPLATE.format(kafka=version, log4j=LOG4J_VERSION, slf4j=SLF4J_VERSION))
        staging = root / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise NotInstalled(f"Maven could not resolve Kafka {version}: {' / '.join(tail)}")
    shutil.rmtree(root / "libs", ignore_errors=True)
    staging.rename(root / "libs")
    _write_marker(root, version, "maven")
    return f"Kafka {version} installed from Maven Central into {root}"


def install_kafka_from_archive(archive: Path, sha512: str | None) -> str:
    """Unpack an official ``kafka_2.13-X.tgz`` after checking its SHA-512."""
    if not archive.exists():
        raise BadInput(f"--archive={archive}: no such file")
    expected = sha512 or _sha512_beside(archive)
    digest = hashlib.sha512(archive.read_bytes()).hexdigest()
    if digest.lower() != expected.lower():
        raise BadInput(f"--archive={archive}: SHA-512 mismatch (expected {expected[:16]}…, got {digest[:16]}…)")
    version = archive.name.removeprefix("kafka_2.13-").removesuffix(".tgz")
    root = paths.kafka_dir(version)
    if (root / MARKER).exists():
        return f"Kafka {version} already installed in {root} (nothing to do)"
    with tempfile.TemporaryDirectory(prefix="kchaos-tgz-") as tmp, tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(Path(tmp) / archive.name.removesuffix(".tgz") / "libs", root / "libs")
    _write_marker(root, version, f"archive {archive.name} sha512 {digest[:16]}…")
    return f"Kafka {version} installed from {archive} into {root}"


def _sha512_beside(archive: Path) -> str:
    """Read the digest from the ``.sha512`` file Apache publishes next to each release."""
    side = archive.with_name(archive.name + ".sha512")
    if not side.exists():
        raise BadInput(f"--archive={archive}: give --sha512 or put {side.name} beside it")
    text = side.read_text()
    hexchars = "".join(c for c in text.split(":", 1)[-1] if c in "0123456789abcdefABCDEF")
    return hexchars


def _write_marker(root: Path, version: str, source: str) -> None:
    """The marker is written last, so a half-done install is never taken for a whole one."""
    jars = sorted(p.name for p in (root / "libs").glob("*.jar"))
    marker = {"version": version, "source": source, "recipe": RECIPE, "jars": jars}
    (root / MARKER).write_text(json.dumps(marker, indent=1))


def libs_digest(libs: Path) -> str:
    """A short digest of the jar names in ``libs``: what an image built from them holds."""
    names = "\n".join(sorted(p.name for p in libs.glob("*.jar")))
    return hashlib.sha256(names.encode()).hexdigest()[:12]


def install_toxiproxy() -> str:
    """Build the pinned Toxiproxy server with ``go install`` into the cache."""
    target = paths.toxiproxy_bin(TOXIPROXY_VERSION)
    if target.exists():
        return f"Toxiproxy {TOXIPROXY_VERSION} already installed at {target} (nothing to do)"
    go = shutil.which("go")
    if not go:
        raise NotInstalled("Go not found; install Go (apt-get install golang) or set KCHAOS_TOXIPROXY_BIN")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kchaos-go-") as tmp:
        env = {**os.environ, "GOBIN": tmp, "CGO_ENABLED": "0"}
        proc = subprocess.run(
            [go, "install", f"{TOXIPROXY_MODULE}@{TOXIPROXY_VERSION}"], capture_output=True, text=True, env=env
        )
        if proc.returncode != 0:
            raise NotInstalled(f"go install of Toxiproxy failed: {proc.stderr.strip().splitlines()[-1:]}")
        shutil.move(str(Path(tmp) / "server"), target)
    return f"Toxiproxy {TOXIPROXY_VERSION} installed at {target}"
