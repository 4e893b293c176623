"""kchaos install --from release against a loopback HTTP server serving archives this
test builds: the good ones install; a wrong checksum and a truncated archive get one
line and exit 2, and leave nothing half-installed in the cache."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from kchaos.release import ARCH

VERSION, TOXI = "9.9.9", "2.12.0"


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _site(root: Path, case: str) -> None:
    """One release site: Kafka's archive and .sha512, Toxiproxy's archive and checksums."""
    kafka = _tgz({f"kafka_2.13-{VERSION}/libs/kafka_2.13-{VERSION}.jar": b"jar", f"kafka_2.13-{VERSION}/LICENSE": b"x"})
    digest = hashlib.sha512(kafka).hexdigest()
    if case == "wrong-checksum":
        digest = hashlib.sha512(b"another file").hexdigest()
    if case == "truncated":
        kafka = kafka[: len(kafka) // 2]
    d = root / case / "kafka" / VERSION
    d.mkdir(parents=True)
    (d / f"kafka_2.13-{VERSION}.tgz").write_bytes(kafka)
    (d / f"kafka_2.13-{VERSION}.tgz.sha512").write_text(f"kafka_2.13-{VERSION}.tgz: {digest.upper()}\n")
    system, arch = platform.system().lower(), ARCH.get(platform.machine().lower(), platform.machine().lower())
    name = f"toxiproxy-server-{system}-{arch}"
    toxi = b"#!/bin/sh\necho toxiproxy\n"
    t = root / case / "toxiproxy" / TOXI
    t.mkdir(parents=True)
    (t / name).write_bytes(toxi if case != "bad-toxiproxy" else toxi + b"tampered")
    (t / "checksums.txt").write_text(
        f"{hashlib.sha256(toxi).hexdigest()}  {name}\nffff  toxiproxy-cli-{system}-{arch}\n"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    for case in ("good", "wrong-checksum", "truncated", "bad-toxiproxy"):
        _site(root, case)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _install(url: str, case: str, home: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "KCHAOS_HOME": str(home),
        "KCHAOS_KAFKA_RELEASE_URL": f"{url}/{case}/kafka/{{version}}/",
        "KCHAOS_TOXIPROXY_RELEASE_URL": f"{url}/{case}/toxiproxy/{{version}}/",
    }
    argv = [sys.executable, "-m", "kchaos", "install", "--from", "release", "--kafka-version", VERSION]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def test_the_good_release_installs_kafka_and_toxiproxy(server, tmp_path):
    done = _install(server, "good", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    root = tmp_path / "kafka" / VERSION
    assert (root / "libs" / f"kafka_2.13-{VERSION}.jar").read_bytes() == b"jar"
    assert json.loads((root / "kchaos-install.json").read_text())["version"] == VERSION
    binary = tmp_path / "toxiproxy" / "v2.12.0" / "toxiproxy-server"
    assert os.access(binary, os.X_OK)
    again = _install(server, "good", tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stdout


@pytest.mark.parametrize("case", ["wrong-checksum", "truncated"])
def test_a_bad_archive_is_one_line_exit_2_and_nothing_installed(server, tmp_path, case):
    done = _install(server, case, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SHA-512 mismatch" in lines[0], done.stderr
    assert not (tmp_path / "kafka" / VERSION).exists()
    assert not (tmp_path / "toxiproxy").exists()


def test_a_tampered_toxiproxy_binary_is_refused_and_not_installed(server, tmp_path):
    done = _install(server, "bad-toxiproxy", tmp_path)
    assert done.returncode == 2 and "SHA-256 mismatch" in done.stderr and done.stderr.strip().count("\n") == 0
    assert (tmp_path / "kafka" / VERSION / "kchaos-install.json").exists()  # Kafka was fine
    assert list((tmp_path / "toxiproxy" / "v2.12.0").iterdir()) == []


def test_an_unreachable_release_site_is_one_line(tmp_path):
    done = _install("http://127.0.0.1:9", "good", tmp_path)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "cannot download http://127.0.0.1:9/good/kafka/9.9.9/kafka_2.13-9.9.9.tgz" in done.stderr
