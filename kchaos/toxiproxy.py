"""A thin client of Toxiproxy's HTTP API (proxies and toxics), on the standard library.

Only the calls kchaos needs: create/list/delete proxies, enable/disable, add/remove
toxics. The API has no auth, so kchaos only ever binds it to 127.0.0.1 or a private
Docker network.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from kchaos.errors import ClusterError


@dataclass(frozen=True)
class Proxy:
    """One Toxiproxy proxy: a listen address forwarding to an upstream."""

    name: str
    listen: str
    upstream: str


class Toxiproxy:
    """HTTP client of one Toxiproxy server at ``url`` (e.g. ``http://127.0.0.1:29000``).

    The timeout is generous: removing a latency toxic waits for the data it holds back.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace").strip()
            raise ClusterError(f"Toxiproxy {method} {path}: HTTP {err.code} {detail}") from err
        except (urllib.error.URLError, OSError) as err:
            raise ClusterError(f"Toxiproxy at {self.url} does not answer ({err})") from err
        return json.loads(raw) if raw else None

    def alive(self) -> bool:
        """True when the server answers its version endpoint."""
        try:
            self._call("GET", "/version")
            return True
        except ClusterError:
            return False

    def wait_alive(self, seconds: float = 10.0) -> None:
        """Wait for the server to answer, or raise ``ClusterError``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.alive():
                return
            time.sleep(0.05)
        raise ClusterError(f"Toxiproxy at {self.url} did not start within {seconds:.0f} s")

    def populate(self, proxies: list[Proxy]) -> None:
        """Create (or replace) every proxy in one call, all enabled."""
        body = [{"name": p.name, "listen": p.listen, "upstream": p.upstream, "enabled": True} for p in proxies]
        self._call("POST", "/populate", body)

    def proxies(self) -> dict[str, dict[str, Any]]:
        """Every proxy with its state and toxics, by name."""
        return self._call("GET", "/proxies")

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Disabling a proxy closes its listener and every connection through it."""
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def add_toxic(self, proxy: str, name: str, kind: str, stream: str, attributes: dict[str, Any]) -> None:
        """Add one toxic (latency, bandwidth, reset_peer, timeout, ...) on one direction."""
        body = {"name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attributes}
        self._call("POST", f"/proxies/{proxy}/toxics", body)

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's own reset)."""
        self._call("POST", "/reset")
