"""The installer against crafted archives, digests in the formats mirrors publish,
insecure and broken downloads, and concurrent installs (issue 24: S2, S5, S6, S13)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import multiprocessing
import os
import re
import tarfile
import threading
from pathlib import Path

import pytest

from kchaos import install, release
from kchaos.errors import BadInput, KchaosError

VERSION = "3.9.9"
TOP = f"kafka_2.13-{VERSION}"


def _archive(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> str:
    """Write a .tgz of ``members`` (file contents from ``data``) and its Apache-style .sha512."""
    data = data or {}
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            body = data.get(info.name)
            if body is not None:
                info.size = len(body)
            tar.addfile(info, io.BytesIO(body) if body is not None else None)
    digest = hashlib.sha512(path.read_bytes()).hexdigest()
    (path.parent / (path.name + ".sha512")).write_text(f"{path.name}: {digest.upper()}\n")
    return digest


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _good_jar() -> tuple[tarfile.TarInfo, dict[str, bytes]]:
    name = f"{TOP}/libs/kafka_2.13-{VERSION}.jar"
    return _file(name), {name: b"jar"}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KCHAOS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    return tmp_path / "home"


def _device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    return info


def _fifo(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.FIFOTYPE
    return info


CRAFTED = {
    "symlink out": lambda: [_link(f"{TOP}/libs/evil", "/tmp")],
    "relative symlink": lambda: [_link(f"{TOP}/libs/a", "../../../../outside")],
    "symlink inside": lambda: [_link(f"{TOP}/libs/a.jar", f"kafka_2.13-{VERSION}.jar")],
    "hardlink": lambda: [_link(f"{TOP}/libs/h", f"{TOP}/LICENSE", tarfile.LNKTYPE)],
    "dotdot": lambda: [_file(f"{TOP}/../../outside/flag")],
    "absolute": lambda: [_file("/tmp/kchaos-flag")],
    "device": lambda: [_device(f"{TOP}/libs/dev")],
    "fifo": lambda: [_fifo(f"{TOP}/libs/fifo")],
    # CVE-2025-4517's shape: a long chain of links through which a later member escapes.
    "cve-2025-4517 chain": lambda: [
        _link(f"{TOP}/libs/{'d' * 200}", "."),
        _link(f"{TOP}/libs/l", f"{'d' * 200}/" * 20 + "../../../../../../../../outside"),
        _file(f"{TOP}/libs/l/flag"),
    ],
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_archive_with_a_matching_digest_is_refused_and_writes_nothing(home, tmp_path, case):
    jar, data = _good_jar()
    archive = tmp_path / f"{TOP}.tgz"
    members = [jar, *CRAFTED[case]()]
    data = {**data, **{m.name: b"x" for m in members if m.isfile()}}
    _archive(archive, members, data)
    with pytest.raises(BadInput) as err:
        install.install_kafka_from_archive(archive, None)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "outside").exists() and not Path("/tmp/kchaos-flag").exists()
    assert not (home / "kafka" / VERSION).exists()


@pytest.mark.parametrize("name", ["kafka_2.13-...tgz", "kafka_2.13-.tgz", "kafka_2.13-../x.tgz", "other.tgz"])
def test_an_archive_name_never_chooses_a_folder_to_delete(home, tmp_path, name):
    (home / "clusters" / "c1").mkdir(parents=True)
    (home / "kafka" / "4.4.0").mkdir(parents=True)
    jar, data = _good_jar()
    archive = tmp_path / "a" / name
    archive.parent.mkdir(parents=True, exist_ok=True)
    _archive(archive, [jar], data)
    with pytest.raises(BadInput):
        install.install_kafka_from_archive(archive, None)
    assert (home / "clusters" / "c1").exists() and (home / "kafka" / "4.4.0").exists()


@pytest.mark.parametrize(
    "form",
    [
        "{name}: {spaced}\n",  # Apache's gpg --print-md layout
        "{hex}  {name}\n",  # sha512sum
        "{hex} *{name}\n",  # sha512sum --binary
        "ffff  other.tgz\n{hex}  {name}\n",  # a checksums.txt of several files
        "{hex}\n",
    ],
)
def test_digests_in_the_formats_mirrors_publish_are_accepted(home, tmp_path, form):
    jar, data = _good_jar()
    archive = tmp_path / f"{TOP}.tgz"
    digest = _archive(archive, [jar], data)
    spaced = " ".join(digest.upper()[i : i + 8] for i in range(0, 128, 8))
    (tmp_path / f"{TOP}.tgz.sha512").write_text(form.format(name=archive.name, hex=digest, spaced=spaced))
    assert "installed from" in install.install_kafka_from_archive(archive, None)


def test_a_wrong_digest_names_where_they_differ(home, tmp_path):
    jar, data = _good_jar()
    archive = tmp_path / f"{TOP}.tgz"
    digest = _archive(archive, [jar], data)
    wrong = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    with pytest.raises(BadInput, match="SHA-512 mismatch") as err:
        install.install_kafka_from_archive(archive, wrong)
    shown = re.search(r"expected …(\w+)…, got …(\w+)…", str(err.value))
    assert shown and shown.group(1) != shown.group(2), str(err.value)  # not "expected 3f8f…, got 3f8f…"


def test_a_corrupt_archive_with_its_digest_is_one_line(home, tmp_path):
    archive = tmp_path / f"{TOP}.tgz"
    archive.write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    (tmp_path / f"{TOP}.tgz.sha512").write_text(hashlib.sha512(archive.read_bytes()).hexdigest())
    with pytest.raises(BadInput, match="does not unpack") as err:
        install.install_kafka_from_archive(archive, None)
    assert "\n" not in str(err.value)


def _install_one(archive: str, home: str, out: multiprocessing.Queue) -> None:
    import os

    os.environ["KCHAOS_HOME"] = home
    try:
        out.put(install.install_kafka_from_archive(Path(archive), None)[:40])
    except KchaosError as err:
        out.put(f"error {err}")
    except BaseException as err:  # a traceback: what the test looks for
        out.put(f"traceback {type(err).__name__}: {err}")


def test_concurrent_installs_leave_a_whole_install_or_none(home, tmp_path):
    names = [f"{TOP}/libs/dep-{i}.jar" for i in range(300)]
    archive = tmp_path / f"{TOP}.tgz"
    _archive(archive, [_file(n) for n in names], {n: os.urandom(2000) for n in names})
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [ctx.Process(target=_install_one, args=(str(archive), str(home), out)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    results = [out.get(timeout=5) for _ in workers]
    assert not [r for r in results if r.startswith(("traceback", "error"))], results
    root = home / "kafka" / VERSION
    marker = json.loads((root / install.MARKER).read_text())
    assert len(marker["jars"]) == 300
    assert sorted(p.name for p in (root / "libs").iterdir()) == sorted(marker["jars"])
    assert [p.name for p in (home / "kafka").iterdir() if p.name != ".lock"] == [VERSION]


# --- downloads ---------------------------------------------------------------------------------


def test_a_plain_http_source_is_refused_unless_it_is_loopback(monkeypatch):
    monkeypatch.setenv("KCHAOS_KAFKA_RELEASE_URL", "http://mirror.example.com/kafka/{version}/")
    with pytest.raises(BadInput, match="https"):
        release.install_kafka(VERSION)
    assert release._base("X_UNSET", "http://127.0.0.1:8000/{version}", "1") == "http://127.0.0.1:8000/1/"


class _Chunked(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"100\r\n" + b"x" * 100)  # a chunk of 256 announced, 100 sent, then the end
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


class _Big(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        for _ in range(64):
            self.wfile.write(b"y" * 65536)

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/file"


def test_a_truncated_chunked_download_is_one_line(tmp_path):
    server, url = _serve(_Chunked)
    try:
        with pytest.raises(KchaosError) as err:
            release.download(url, tmp_path / "f")
        assert "\n" not in str(err.value) and url in str(err.value)
    finally:
        server.shutdown()


def test_a_download_over_its_cap_is_refused(tmp_path):
    server, url = _serve(_Big)
    try:
        with pytest.raises(KchaosError, match="more than"):
            release.download(url, tmp_path / "f", limit=1024 * 1024)
    finally:
        server.shutdown()


class _RedirectsToPlainHttp(http.server.BaseHTTPRequestHandler):
    """Redirects to plain http on a host name outside the loopback list (the address is
    still 127.0.0.1, so nothing leaves this machine even if it were followed)."""

    def do_GET(self) -> None:
        if self.path == "/file":
            self.send_response(302)
            self.send_header("Location", f"http://[::ffff:127.0.0.1]:{self.server.server_address[1]}/other")
        else:
            self.send_response(200)
        self.end_headers()
        self.wfile.write(b"z" * 10)

    def log_message(self, *args: object) -> None:
        pass


def test_a_redirect_to_plain_http_is_not_followed(tmp_path):
    server, url = _serve(_RedirectsToPlainHttp)
    try:
        with pytest.raises(KchaosError, match="redirected to http://"):
            release.download(url, tmp_path / "f")
        assert not (tmp_path / "f").exists() or (tmp_path / "f").stat().st_size == 0
    finally:
        server.shutdown()
