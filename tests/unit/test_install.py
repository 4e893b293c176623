"""``kchaos install`` from an official release archive, checked against its SHA-512."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from kchaos import install
from kchaos.errors import BadInput, NotInstalled


def fake_release(tmp_path, version="3.9.9"):
    """A tiny archive shaped like kafka_2.13-X.tgz (libs/ with a jar), and its .sha512."""
    path = tmp_path / f"kafka_2.13-{version}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        data = b"not really a jar"
        info = tarfile.TarInfo(f"kafka_2.13-{version}/libs/kafka_2.13-{version}.jar")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    digest = hashlib.sha512(path.read_bytes()).hexdigest().upper()
    spaced = " ".join(digest[i : i + 8] for i in range(0, len(digest), 8))
    (tmp_path / (path.name + ".sha512")).write_text(f"{path.name}: {spaced}\n")
    return path, digest


def test_archive_install_is_verified_and_idempotent(tmp_path, monkeypatch):
    monkeypatch.setenv("KCHAOS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    archive, _ = fake_release(tmp_path)
    assert "installed from" in install.install_kafka_from_archive(archive, None)
    assert "nothing to do" in install.install_kafka_from_archive(archive, None)
    found = install.find_kafka("3.9.9")
    assert found.version == "3.9.9" and (found.libs / "kafka_2.13-3.9.9.jar").exists()


def test_archive_with_wrong_digest_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KCHAOS_HOME", str(tmp_path / "home"))
    archive, _ = fake_release(tmp_path)
    with pytest.raises(BadInput, match="SHA-512 mismatch"):
        install.install_kafka_from_archive(archive, "00" * 64)
    with pytest.raises(NotInstalled, match="kchaos install"):
        install.find_kafka("3.9.9")


def test_kafka_home_is_used_when_set(tmp_path, monkeypatch):
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "kafka_2.13-4.1.0.jar").write_bytes(b"")
    monkeypatch.setenv("KAFKA_HOME", str(tmp_path))
    assert install.find_kafka().version == "4.1.0"


def test_old_versions_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KCHAOS_HOME", str(tmp_path))
    with pytest.raises(BadInput, match="3.9 or newer"):
        install.install_kafka_from_maven("3.7.0")


def test_cluster_id_never_starts_with_a_dash():
    """An id starting with '-' is read as an option by kafka-storage (one up in 64 failed)."""
    from kchaos.cluster.config import cluster_id

    dashed = b"\xf8" + bytes(15)  # base64 of this starts with '-'
    assert cluster_id(dashed) == cluster_id(dashed) and len(cluster_id(dashed)) == 22
    assert not cluster_id(dashed).startswith("-")
    assert not any(cluster_id().startswith("-") for _ in range(2000))


def test_a_kafka_tool_runs_with_the_installations_jars_and_a_small_heap(tmp_path, monkeypatch):
    monkeypatch.setattr(install, "find_java", lambda: "/opt/java/bin/java")
    kafka = install.KafkaInstall("4.4.0", tmp_path / "libs", "cache")
    cmd = install.tool_command(kafka, "org.apache.kafka.tools.FeatureCommand", ["describe"])
    assert cmd == [
        "/opt/java/bin/java",
        "-Xmx128m",
        "-cp",
        f"{tmp_path}/libs/*",
        "org.apache.kafka.tools.FeatureCommand",
        "describe",
    ]
    assert install.tool_command(kafka, "X", [], heap_mb=512)[1] == "-Xmx512m"
