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

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kchaos import paths, safety
from kchaos.errors import BadInput, NotInstalled, one_line

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


def tool_command(kafka: KafkaInstall, main_class: str, args: list[str], heap_mb: int = 128) -> list[str]:
    """The command line of one of Kafka's own tools run from this machine (feature levels,
    log dumps, the producer benchmark): Java, a small heap, the installation's jars."""
    return [find_java(), f"-Xmx{heap_mb}m", "-cp", f"{kafka.libs}/*", main_class, *args]


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
    safety.version(version)
    root = paths.kafka_dir(version)
    if _installed(root, RECIPE):
        return f"Kafka {version} already installed in {root} (nothing to do)"
    mvn = shutil.which("mvn")
    if not mvn:
        raise NotInstalled("Maven (mvn) not found; install it, or set KAFKA_HOME to a Kafka installation")
    with install_lock(), staging_dir(root) as staging, tempfile.TemporaryDirectory(prefix="kchaos-mvn-") as tmp:
        if _installed(root, RECIPE):  # another process finished it while we waited for the lock
            return f"Kafka {version} already installed in {root} (nothing to do)"
        pom = Path(tmp) / "pom.xml"
        pom.write_text(POM_TEMPLATE.format(kafka=version, log4j=LOG4J_VERSION, slf4j=SLF4J_VERSION))
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging / 'libs'}",
            "-DincludeScope=runtime",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            raise NotInstalled(one_line(f"Maven could not resolve Kafka {version}: {' / '.join(tail)}"))
        _publish(staging, root, version, "maven")
    return f"Kafka {version} installed from Maven Central into {root}"


#: The size of everything unpacked from a release archive (Kafka's is about 130 MB).
MAX_UNPACKED = 2 * 1024**3
MAX_MEMBERS = 5_000


def install_kafka_from_archive(archive: Path, sha512: str | None) -> str:
    """Unpack an official ``kafka_2.13-X.tgz`` after checking its SHA-512.

    The version comes from the file name and must look like one (it names the folder
    that is replaced). Every member is checked before anything is written: only regular
    files and folders inside the archive's own top folder, no links or devices (the tar
    module's filter alone was not enough: CVE-2025-4517). Only the jars of ``libs/`` are
    copied, into a staging folder that is moved into place with the marker in it.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise BadInput(f"--archive={archive}: no such file")
    if not (archive.name.startswith("kafka_2.13-") and archive.name.endswith(".tgz")):
        raise BadInput(f"--archive={archive}: an official archive is named kafka_2.13-VERSION.tgz")
    version = archive.name.removeprefix("kafka_2.13-").removesuffix(".tgz")
    safety.version(version, f"--archive={archive.name}: version")
    expected = (sha512 or _sha512_beside(archive)).strip().lower()
    digest = _file_digest(archive, "sha512")
    if digest != expected:
        raise BadInput(f"--archive={archive}: SHA-512 mismatch ({_differ(expected, digest)})")
    root = paths.kafka_dir(version)
    if (root / MARKER).exists():
        return f"Kafka {version} already installed in {root} (nothing to do)"
    with install_lock(), staging_dir(root) as staging:
        if (root / MARKER).exists():
            return f"Kafka {version} already installed in {root} (nothing to do)"
        try:
            _unpack_libs(archive, archive.name.removesuffix(".tgz"), staging / "libs")
        except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
            raise BadInput(one_line(f"--archive={archive}: the archive does not unpack ({err})")) from None
        _publish(staging, root, version, f"archive {archive.name} sha512 {digest[:16]}…")
    return f"Kafka {version} installed from {archive} into {root}"


def _unpack_libs(archive: Path, top: str, libs: Path) -> None:
    """Check every member, then copy the jars of ``TOP/libs/`` (nothing else is written)."""
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        _check_members(archive, top, members)
        libs.mkdir(parents=True)
        for m in members:
            parts = PurePosixPath(m.name).parts
            if m.isfile() and len(parts) == 3 and parts[1] == "libs" and parts[2].endswith(".jar"):
                source = tar.extractfile(m)
                if source is None:
                    raise BadInput(f"--archive={archive}: member {m.name!r} has no data")
                with source, open(libs / parts[2], "xb") as out:
                    shutil.copyfileobj(source, out)
    if not any(libs.glob("*.jar")):
        raise BadInput(f"--archive={archive}: no {top}/libs/*.jar inside (not a Kafka release)")


def _check_members(archive: Path, top: str, members: list[tarfile.TarInfo]) -> None:
    """Refuse the whole archive for any link, device, FIFO, absolute or escaping name."""
    if len(members) > MAX_MEMBERS:
        raise BadInput(f"--archive={archive}: {len(members)} members; a Kafka release has far fewer")
    total = 0
    for m in members:
        name = safety.printable(repr(m.name))
        parts = PurePosixPath(m.name).parts
        if not (m.isfile() or m.isdir()):
            raise BadInput(f"--archive={archive}: member {name} is a link or a special file (refused)")
        if m.name.startswith("/") or "\\" in m.name or ".." in parts or not parts or parts[0] != top:
            raise BadInput(f"--archive={archive}: member {name} lies outside {top}/ (refused)")
        total += max(m.size, 0)
        if total > MAX_UNPACKED:
            raise BadInput(f"--archive={archive}: more than {MAX_UNPACKED} bytes unpacked (refused)")


@contextlib.contextmanager
def install_lock() -> Iterator[None]:
    """One install at a time per ``KCHAOS_HOME`` (a file lock: released if we die)."""
    lock = paths.home() / "kafka" / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def staging_dir(root: Path) -> Iterator[Path]:
    """A fresh folder beside ``root`` (same file system: the final move is one rename),
    removed afterwards whatever happened."""
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.staging-", dir=root.parent))
    try:
        yield staging
    finally:
        if staging.exists():
            safety.remove_tree(paths.home(), staging)


def _publish(staging: Path, root: Path, version: str, source: str) -> None:
    """Marker last, then one rename: ``root`` is a whole install or absent, never half."""
    _write_marker(staging, version, source)
    if root.exists() or root.is_symlink():
        safety.remove_tree(paths.home(), root)  # an old recipe or a half-done install without marker
    os.replace(staging, root)


def _installed(root: Path, recipe: int) -> bool:
    try:
        return json.loads((root / MARKER).read_text()).get("recipe") == recipe
    except (OSError, ValueError, AttributeError):
        return False


def _file_digest(path: Path, algorithm: str) -> str:
    """A file's hex digest, read in chunks (a release is 100+ MB)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            h.update(chunk)
    return h.hexdigest()


def _differ(expected: str, got: str) -> str:
    """Both digests shortened where they differ, so the message shows a difference."""
    at = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b), 0)
    start = max(0, at - 4)
    return f"expected …{expected[start : start + 16]}…, got …{got[start : start + 16]}…"


def parse_digest(text: str, name: str, hex_length: int = 128) -> str | None:
    """The digest of ``name`` in a checksum file, in the formats mirrors publish:
    ``HEX  NAME`` / ``HEX *NAME`` lines (``sha512sum``, a ``checksums.txt`` of several
    files), Apache's ``NAME: HEX HEX …`` (spread over lines), or the bare digest."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("*") == name and _is_hex(fields[0], hex_length):
            return fields[0].lower()
    head, sep, rest = text.partition(":")
    if sep and head.strip() == name:
        text = rest
    compact = "".join(text.split())
    return compact.lower() if _is_hex(compact, hex_length) else None


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdefABCDEF" for c in text)


def _sha512_beside(archive: Path) -> str:
    """Read the digest from the ``.sha512`` file Apache publishes next to each release."""
    side = archive.with_name(archive.name + ".sha512")
    if not side.is_file():
        raise BadInput(f"--archive={archive}: give --sha512 or put {side.name} beside it")
    if side.stat().st_size > 64 * 1024:
        raise BadInput(f"{side}: too large for a checksum file")
    digest = parse_digest(side.read_text(errors="replace"), archive.name)
    if digest is None:
        raise BadInput(f"{side}: no SHA-512 of {archive.name} in it (expected HEX  NAME or NAME: HEX)")
    return digest


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
