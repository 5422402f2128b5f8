"""The site farm: local stand-ins for Korean government websites, deterministic from a seed."""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, fields, replace
from pathlib import Path

from farm import board_pages, directory, gosi, layouts
from farm.catalog import address_for, demo_sites, large_sites
from farm.faults import FaultSwitches, fraction
from farm.server import RESET, MultiHostServer
from farm.site import FarmSite, Request, Response

logger = logging.getLogger(__name__)
SWITCH_NAMES = {f.name for f in fields(FaultSwitches)}


@dataclass
class FarmConfig:
    seed: int = 1
    scale: str = "demo"          # "demo" (the sites of conf/sites/farm) or "large" (benchmarks)
    port: int = 0                # 0: pick a free port
    faults: dict | None = None   # switches for every site, or {site id or "*": switches}
    log_limit: int = 1_000_000   # the request log keeps this many most recent requests
    directories: int = 300       # large scale only: how many directory sites
    boards: int = 200            # large scale only: how many boards
    address_base: str | None = None  # sites listen on this IPv4 address + i instead of 127.0.1.x (e.g. 198.18.0.100)


class Farm:
    """Start, inspect and steer the farm (API described in the package docstring)."""

    def __init__(self, seed: int | FarmConfig = 1, scale: str = "demo", port: int = 0, faults: dict | None = None,
                 address_base: str | None = None):
        self.config = seed if isinstance(seed, FarmConfig) else FarmConfig(seed, scale, port, faults,
                                                                            address_base=address_base)
        seed = self.config.seed
        if self.config.scale == "demo":
            definitions = demo_sites(seed)
        elif self.config.scale == "large":
            definitions = large_sites(seed, self.config.directories, self.config.boards)
        else:
            raise ValueError(f"scale must be 'demo' or 'large', got {self.config.scale!r}")
        if self.config.address_base:
            definitions = [replace(d, address=address_for(self.config.address_base, n)) for n, d in enumerate(definitions)]
        families = {**directory.FAMILIES, **board_pages.FAMILIES, **layouts.FAMILIES, **gosi.FAMILIES}
        self._sites: dict[str, FarmSite] = {d.id: families[d.family](seed, d) for d in definitions}
        self._by_host = {s.site.host: s for s in self._sites.values()}
        self._faults = {site_id: FaultSwitches() for site_id in self._sites}
        self._attempts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._log: deque = deque(maxlen=self.config.log_limit)
        self._server: MultiHostServer | None = None
        self._apply_config_faults(self.config.faults or {})
        self._set_base_urls(self.config.port)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "Farm":
        if self._server is None:
            self._server = MultiHostServer([s.site.host for s in self._sites.values()], self.config.port, self._app).start()
            self._set_base_urls(self._server.port)
            logger.info("farm of %d sites on port %d", len(self._sites), self._server.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "Farm":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port if self._server else self.config.port

    def _set_base_urls(self, port: int) -> None:
        for site in self._sites.values():
            site.base_url = f"http://{site.site.host}:{port}"

    # ------------------------------------------------------------ what is served
    @property
    def sites(self) -> list[dict]:
        return [{"id": s.site.id, "kind": s.site.kind, "family": s.site.family, "host": s.site.host,
                 "base_url": s.base_url, "region": s.site.region, "organization": s.site.organization,
                 "org_kind": s.site.org_kind, "board_kind": s.site.board_kind,
                 "start_urls": [s.base_url + p for p in s.start_paths()]} for s in self._sites.values()]

    def site(self, site_id: str) -> FarmSite:
        return self._sites[site_id]

    def url(self, site_id: str, path: str = "/") -> str:
        return self._sites[site_id].base_url + path

    def manifest(self) -> dict:
        """Ground truth: every staff row and post exactly as a correct crawler reads them."""
        staff, posts = [], []
        for site in self._sites.values():
            (staff if site.site.kind == "directory" else posts).extend(site.manifest())
        return {"staff": staff, "posts": posts}

    def publish(self, site_id: str, title: str, body: str, department: str | None = None) -> dict:
        site = self._sites[site_id]
        if site.site.kind != "board":
            raise ValueError(f"{site_id} is a {site.site.kind}, not a board")
        return site.publish(title, body, department)

    def write_site_definitions(self, directory_path: str | Path) -> list[Path]:
        """One YAML per site of this farm (base_url with ${FARM_PORT})."""
        from farm.definitions import site_yaml

        folder = Path(directory_path)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for site in self._sites.values():
            path = folder / f"{site.site.id}.yaml"
            path.write_text(site_yaml(site), encoding="utf-8")
            written.append(path)
        return written

    # ------------------------------------------------------------ faults
    def set_faults(self, site_id: str | None = None, **switches) -> None:
        """Change fault switches of one site (None: every site); attempt counts of those sites restart."""
        targets = list(self._sites) if site_id is None else [site_id]
        for target in targets:
            if target not in self._sites:
                raise KeyError(f"no farm site {target!r}")
        with self._lock:
            for target in targets:
                self._faults[target] = self._faults[target].updated(**switches)
            self._attempts = {k: v for k, v in self._attempts.items() if k[0] not in targets}

    def clear_faults(self, site_id: str | None = None) -> None:
        targets = list(self._sites) if site_id is None else [site_id]
        with self._lock:
            for target in targets:
                self._faults[target] = FaultSwitches()
            self._attempts = {k: v for k, v in self._attempts.items() if k[0] not in targets}

    def faults(self, site_id: str) -> dict:
        return self._faults[site_id].active()

    def _apply_config_faults(self, faults: dict) -> None:
        if faults and set(faults) <= SWITCH_NAMES:
            faults = {"*": faults}
        for key, switches in faults.items():
            self.set_faults(None if key == "*" else key, **switches)

    # ------------------------------------------------------------ requests
    def request_log(self) -> list[tuple[str, float, str, str]]:
        """(host, time.monotonic() of arrival (kernel receive timestamp), method, path) of every request."""
        return list(self._log)

    def clear_request_log(self) -> None:
        self._log.clear()

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self._server is not None:
            self._server.stopping.wait(seconds)

    def _app(self, host: str, method: str, target: str, headers, body: bytes, arrived: float | None = None):
        self._log.append((host, arrived if arrived is not None else time.monotonic(), method, target))
        site = self._by_host.get(host)
        if site is None:
            return Response(status=404, body=b"no such site", content_type="text/plain")
        site_id, switches = site.site.id, self._faults[site.site.id]
        key = f"{method} {target} {body.decode('latin-1')}"
        with self._lock:
            attempt = self._attempts[(site_id, key)] = self._attempts.get((site_id, key), 0) + 1
        self._wait(switches.latency)
        req = Request.parse(method, target, body, "cp949" if site.site.encoding == "euc-kr" else "utf-8")
        if req.path != "/robots.txt":
            if switches.reset_rate and attempt == 1 and fraction(self.config.seed, site_id, "reset", key) < switches.reset_rate:
                return RESET
            if switches.failure_rate and attempt <= switches.fail_attempts and fraction(self.config.seed, site_id, "fail", key) < switches.failure_rate:
                return Response(status=500, body=b"<html><body><h1>500 Internal Server Error</h1></body></html>")
            if switches.throttle_rate and attempt == 1 and fraction(self.config.seed, site_id, "throttle", key) < switches.throttle_rate:
                return Response(status=429, body=b"<html><body><h1>429 Too Many Requests</h1></body></html>",
                                headers={"Retry-After": str(int(switches.retry_after))})
            if switches.slow_paths and fraction(self.config.seed, site_id, "slow", key) < switches.slow_paths:
                self._wait(switches.slow_seconds)
        try:
            response = site.respond(req, switches)
        except Exception:
            logger.exception("farm site %s failed on %s %s", site_id, method, target)
            return Response(status=500, body=b"farm error")
        if method in ("GET", "HEAD") and response.status == 200 and response.chunks is None:
            etag = '"' + hashlib.blake2b(response.body, digest_size=12).hexdigest() + '"'
            response.headers.setdefault("ETag", etag)
            if headers.get("If-None-Match") == etag:
                return Response(status=304, body=b"", headers={"ETag": etag})
        return response
