"""Start a crawl run of a site: robots.txt, politeness interval, first requests."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from conf.keys import Keys
from conf.loader import Cluster, Site
from crawlers.extract import start_requests
from crawlers.frontier import Frontier
from crawlers.robots import RobotsCache, crawl_delay, fetch_robots_politely, store_robots

logger = logging.getLogger(__name__)


def prepare_hosts(client, cluster: Cluster, site: Site) -> None:
    """Read robots.txt of the site's hosts and set their cluster-wide politeness interval."""
    frontier = Frontier(client, cluster.key_prefix, cluster.lease_seconds)
    interval = site.get("interval", cluster.default_interval)
    hosts = {urlsplit(site["base_url"]).netloc} | {urlsplit(r["url"]).netloc for r in start_requests(site)}
    for host in sorted(hosts):
        if not site["obey_robots"]:
            frontier.set_interval(host, interval)
            continue

        def apply(text: str, host: str = host) -> None:
            host_interval = interval
            delay = crawl_delay(text, cluster.user_agent) if text else None
            if delay and delay > host_interval:
                logger.info("%s asks for Crawl-delay %.1f s: using it", host, delay)
                host_interval = delay
            frontier.set_interval(host, host_interval)

        # through the send gate: robots.txt is a request to the host like any other (issue 15, defect 4)
        text = fetch_robots_politely(client, cluster.key_prefix, frontier, urlsplit(site["base_url"]).scheme, host,
                                     cluster.user_agent, timeout=min(10.0, cluster.download_timeout), interval_after=apply)
        store_robots(client, cluster.key_prefix, host, text)


def seed_site(client, cluster: Cluster, site: Site, *, prepared: bool = False, run_id: str | None = None,
              slot: str = "") -> str:
    """Begin a run of `site` (or return its run already in progress); returns the run id. With `run_id`,
    starting again is a no-op (a re-delivered start finishes what the first one began)."""
    if not prepared:
        prepare_hosts(client, cluster, site)
    frontier = Frontier(client, cluster.key_prefix, cluster.lease_seconds)
    run_id = frontier.start_run(site.id, site.to_json(), kind=site["kind"], run_id=run_id, slot=slot)
    if frontier.pending(run_id) or (frontier.run(run_id) or {}).get("status") != "running":
        return run_id  # already running (or already over)
    robots = RobotsCache(client, cluster.key_prefix, cluster.user_agent) if site["obey_robots"] else None
    queued = 0
    for request in start_requests(site):
        request["meta"]["run_id"] = run_id
        if robots and not robots.allowed(request["url"]):
            frontier.note_error(run_id, request["url"], "start URL disallowed by robots.txt")
            continue
        queued += frontier.push(run_id, request)
    if not queued:
        frontier.cancel_run(run_id, "no start request could be queued")
    logger.info("run %s of %s started with %d request(s)", run_id, site.id, queued)
    return run_id


def seed_sites(client, cluster: Cluster, sites: list[Site], parallel: int = 16) -> dict[str, str]:
    """Seed several sites (robots.txt read in parallel); a failing site is logged, never stopping the others."""
    prepared: set[str] = set()

    def prepare(site: Site) -> None:
        try:
            prepare_hosts(client, cluster, site)
            prepared.add(site.id)
        except Exception as exc:
            logger.error("could not prepare %s: %s", site.id, exc)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        list(pool.map(prepare, sites))
    runs = {}
    for site in sites:
        if site.id not in prepared:
            continue
        try:
            runs[site.id] = seed_site(client, cluster, site, prepared=True)
        except Exception as exc:
            logger.error("could not start a run of %s: %s", site.id, exc)
    return runs


SLOT_TTL = 8 * 24 * 3600  # seconds a slot remembers its run (longer than any schedule's period)


def start_scheduled_run(client, cluster: Cluster, site: Site, slot: str) -> dict:
    """Start the run of `site` for a scheduled slot, exactly once however often it is asked (two schedulers,
    a re-delivered task): the slot key is set once, and the run id is derived from the slot. A site whose
    previous run is still going is not started again; the skip is recorded in the slot key.
    Returns {"outcome": "started" | "duplicate" | "skipped", "run_id": …}."""
    keys = Keys(cluster.key_prefix)
    key = keys.slot(site.id, slot)
    run_id = f"{site.id}-{slot}-s"
    if not client.set(key, run_id, nx=True, ex=SLOT_TTL):
        value = client.get(key)
        value = value.decode() if isinstance(value, bytes) else (value or "")
        if value != run_id:  # skipped earlier (the previous run was still going)
            return {"outcome": "duplicate", "run_id": None, "slot": slot, "detail": value}
        run = Frontier(client, cluster.key_prefix, cluster.lease_seconds).run(run_id)
        if run is not None and (run.get("status") != "running" or int(run.get("pending") or 0)):
            return {"outcome": "duplicate", "run_id": run_id, "slot": slot}
        # claimed, but the run never got going (the first delivery died on the way): finish starting it
    started = seed_site(client, cluster, site, run_id=run_id, slot=slot)
    if started != run_id:
        client.set(key, f"skipped: run {started} was still going", xx=True, keepttl=True)
        logger.warning("site %s: slot %s skipped, its previous run %s is still going", site.id, slot, started)
        return {"outcome": "skipped", "run_id": started, "slot": slot}
    return {"outcome": "started", "run_id": run_id, "slot": slot}
