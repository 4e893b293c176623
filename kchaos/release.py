"""Installing from the official release files, for a laptop without Maven or Go.

Kafka: the release archive ``kafka_2.13-X.tgz`` from the Apache archive, checked against
the SHA-512 Apache publishes beside it. Toxiproxy: the server binary for this platform
from its GitHub release, checked against the SHA-256 in the release's ``checksums.txt``. A download that fails, a checksum that does not match (a truncated file
is one) or an archive that does not unpack is one line and exit 2, and nothing is left in
the cache: files are fetched into a temporary folder and moved in only when verified.

The locations can be pointed elsewhere (a company mirror, or a test's loopback server)
with ``KCHAOS_KAFKA_RELEASE_URL`` and ``KCHAOS_TOXIPROXY_RELEASE_URL``: a folder URL in
which ``{version}`` is replaced.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import platform
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kchaos import install, paths, safety
from kchaos.errors import BadInput, NotInstalled, one_line

KAFKA_RELEASES = "https://archive.apache.org/dist/kafka/{version}/"
TOXIPROXY_RELEASES = "https://github.com/Shopify/toxiproxy/releases/download/v{version}/"
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


#: Loopback hosts, where plain http is allowed (a test's server, a local mirror tunnel).
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
#: The largest file fetched: Kafka's archive is about 130 MB, Toxiproxy's binary 15 MB.
MAX_DOWNLOAD = 512 * 1024 * 1024
MAX_CHECKSUMS = 256 * 1024


def _safe_url(url: str) -> bool:
    """https, or plain http only on loopback: the digest comes from the same place as the
    archive, so over plain http anyone on the path could change both."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def _base(env: str, default: str, version: str) -> str:
    """The release folder URL (``_safe_url``)."""
    base = os.environ.get(env, default).format(version=version)
    base = base if base.endswith("/") else base + "/"
    if _safe_url(base):
        return base
    raise BadInput(f"{env}={safety.printable(base)}: use an https:// URL (plain http only on 127.0.0.1)")


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL ``_base`` would accept: GitHub's releases redirect
    to another https host, but a redirect to plain http would undo the https check."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        if not _safe_url(newurl):
            raise NotInstalled(f"cannot download {req.full_url}: redirected to {safety.printable(newurl)} (not https)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SafeRedirects)


def download(url: str, target: Path, limit: int = MAX_DOWNLOAD) -> Path:
    """``url`` into ``target``, streamed, at most ``limit`` bytes; one line when it fails."""
    try:
        with _OPENER.open(url, timeout=60) as response, open(target, "wb") as out:
            size = 0
            while chunk := response.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise NotInstalled(f"cannot download {url}: more than {limit} bytes")
                out.write(chunk)
    except urllib.error.HTTPError as err:
        raise NotInstalled(f"cannot download {url}: HTTP {err.code}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
        raise NotInstalled(one_line(f"cannot download {url}: {reason}")) from None
    except (http.client.HTTPException, ValueError) as err:  # a truncated chunked body, a bad URL
        raise NotInstalled(one_line(f"cannot download {url}: {type(err).__name__} {err}")) from None
    return target


def install_kafka(version: str) -> str:
    """Kafka ``version`` from its release archive, verified by SHA-512."""
    safety.version(version)
    if (paths.kafka_dir(version) / install.MARKER).exists():
        return f"Kafka {version} already installed in {paths.kafka_dir(version)} (nothing to do)"
    name = f"kafka_2.13-{version}.tgz"
    base = _base("KCHAOS_KAFKA_RELEASE_URL", KAFKA_RELEASES, version)
    with tempfile.TemporaryDirectory(prefix="kchaos-release-") as tmp:
        archive = download(base + name, Path(tmp) / name)
        download(base + name + ".sha512", Path(tmp) / (name + ".sha512"), MAX_CHECKSUMS)
        # Every archive error is one BadInput line there; the install is atomic, so a
        # failure leaves nothing to clean up (and nothing of another install is removed).
        return install.install_kafka_from_archive(archive, None).replace(str(archive), base + name)


def install_toxiproxy(version: str = install.TOXIPROXY_VERSION) -> str:
    """The Toxiproxy server for this platform (the release's plain binary,
    ``toxiproxy-server-OS-ARCH``), verified by the SHA-256 in the release's ``checksums.txt``."""
    target = paths.toxiproxy_bin(version)
    if target.exists():
        return f"Toxiproxy {version} already installed at {target} (nothing to do)"
    system, arch = platform.system().lower(), ARCH.get(platform.machine().lower(), platform.machine().lower())
    name = f"toxiproxy-server-{system}-{arch}"
    base = _base("KCHAOS_TOXIPROXY_RELEASE_URL", TOXIPROXY_RELEASES, version.lstrip("v"))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kchaos-release-", dir=target.parent) as tmp:
        binary = download(base + name, Path(tmp) / name)
        sums = download(base + "checksums.txt", Path(tmp) / "checksums.txt", MAX_CHECKSUMS)
        expected = install.parse_digest(sums.read_text(errors="replace"), name, 64)
        if expected is None:
            raise BadInput(f"{base}checksums.txt does not list {name}")
        digest = hashlib.sha256(binary.read_bytes()).hexdigest()
        if digest != expected.lower():
            raise BadInput(f"{base + name}: SHA-256 mismatch (expected {expected[:16]}…, got {digest[:16]}…)")
        binary.chmod(0o755)
        os.replace(binary, target)  # same folder: the binary appears whole or not at all
    return f"Toxiproxy {version} installed at {target} from {base + name}"


def toolchain_present() -> bool:
    """Whether Maven and Go are here (the build path; release files are the other)."""
    return shutil.which("mvn") is not None and shutil.which("go") is not None
