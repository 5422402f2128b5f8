"""The one table of every Redis key of a cluster, and the functions that build them.

Every key lives under the cluster's prefix (`key_prefix`, default ``nugo``), so a cluster can be
inspected and cleaned by pattern and its ACL users limited to it. A part of a key that comes from
outside (a site id, an official id, a host, a run id) is validated here, where the key is built:
a value that could escape its place (``:``, ``*``, spaces, ``..``) is refused with ValueError.

The Lua scripts of the frontier and the politeness gate build the same names from the prefix
inside Redis (``P .. ":q:" .. host``); `tests/test_keys.py` checks that every name they use is in
this table, and that a real run of the whole product leaves no key the table does not know.
`docs/KEYS.md` is generated from it (``python3 docs/gen_keys.py``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class KeySpec:
    """One key (or family of keys) of the table."""

    pattern: str   # after "{prefix}:"; {name} marks a variable part
    type: str      # string | hash | list | set | zset | stream | channel
    owner: str     # who writes it
    lifetime: str  # how long it lives, what bounds its size
    purpose: str


TABLE: tuple[KeySpec, ...] = (
    # --- crawl runs (crawlers.frontier, its Lua scripts) ------------------------------------------
    KeySpec("run:{run_id}", "hash", "crawlers.frontier", "the last 50 runs of each site",
            "a crawl run: status, site, kind, slot, start/end, counters (pages, items, errors, retries, …), pending"),
    KeySpec("run:{run_id}:site", "string", "crawlers.frontier", "the last 5 runs of each site", "the site definition (JSON) the run crawls with"),
    KeySpec("run:{run_id}:errors", "list", "crawlers.frontier", "the last 5 runs of each site; 100 entries each",
            "the run's last errors (JSON: url, reason, at)"),
    KeySpec("run:{run_id}:seen", "set", "crawlers.frontier", "deleted when the run ends", "request fingerprints of the run (per-run dedup)"),
    KeySpec("run:{run_id}:emitted", "set", "crawlers.frontier", "deleted when the run ends",
            "digests of the items the run put on the stream: a re-fetched page's identical items are not put again"),
    KeySpec("run:{run_id}:lists", "set", "crawlers.spider", "expires 2 days after the run's first list page",
            "paginated lists whose pagination the run has set up (once per run, however the list was reached)"),
    KeySpec("active", "hash", "crawlers.frontier", "one field per site with a running run", "site id -> its running run id"),
    KeySpec("site:{site}:runs", "list", "crawlers.frontier", "the site's last 50 run ids", "run ids of a site, newest first"),
    KeySpec("slot:{site}:{slot}", "string", "workers.tasks", "8 days",
            "the run started for a scheduled slot (set once: a duplicate send of the slot does nothing)"),
    KeySpec("cancel:{site}", "string", "workers.cli", "until the next run of the site starts", "a cancellation asked for a site"),
    # --- the leased queue -----------------------------------------------------------------------
    KeySpec("q:{host}", "list", "crawlers.frontier", "until leased", "requests ready for a host (JSON frontier entries)"),
    KeySpec("delayed:{host}", "zset", "crawlers.frontier", "until due", "requests of a host not before a time (retries, Retry-After)"),
    KeySpec("ready", "zset", "crawlers.frontier", "one member per host with queued requests", "host -> when it may be leased next"),
    KeySpec("next", "hash", "crawlers.frontier, crawlers.politeness", "one field per host ever crawled", "host -> next allowed start"),
    KeySpec("intervals", "hash", "crawlers.seed", "one field per host", "host -> politeness interval in seconds (with Crawl-delay)"),
    KeySpec("inflight", "hash", "crawlers.frontier", "until acked, released or reaped", "lease id -> leased entry"),
    KeySpec("deadlines", "zset", "crawlers.frontier", "as inflight", "lease id -> lease deadline"),
    KeySpec("workers", "hash", "crawlers.frontier", "as inflight", "lease id -> the worker holding it"),
    KeySpec("attempts", "hash", "crawlers.frontier", "until the request is done", "queue entry id -> leases granted"),
    KeySpec("poison", "list", "crawlers.frontier", "last 1000 entries", "payloads refused (not JSON, not a request), never loaded"),
    KeySpec("counters", "hash", "crawlers.frontier", "forever (a few fields)", "cluster-wide counters (poisoned)"),
    # --- politeness -----------------------------------------------------------------------------
    KeySpec("sending:{host}", "string", "crawlers.politeness", "expires after download_timeout + 30 s (crawlers.politeness.slot_seconds), renewed by its worker's heartbeat; "
            "freed at once by the supervisor that saw its worker die (crawlers.reclaim)",
            "the one request to a host in flight, cluster-wide (its token: the worker's name | a nonce)"),
    KeySpec("done", "hash", "crawlers.politeness", "one field per host", "host -> when its last request finished"),
    KeySpec("started", "hash", "crawlers.politeness", "one field per host",
            "host -> the recorded start of its last request (today its finish, see crawlers.politeness): the next starts interval later"),
    KeySpec("robots:{host}", "string", "crawlers.seed", "24 hours", "robots.txt of a host, read once per run"),
    # --- boards ---------------------------------------------------------------------------------
    KeySpec("collected:{site}", "set", "crawlers.spider", "grows with the board's posts", "detail URLs already collected"),
    KeySpec("listrows:{site}", "hash", "crawlers.spider", "one field per list page that ever had rows",
            "list pages (request fingerprints) that had rows in a run: one without rows later means layout changed?"),
    KeySpec("validators:{site}", "hash", "crawlers.spider", "one field per list page", "ETag/Last-Modified and links of list pages (conditional GET)"),
    # --- the item stream ------------------------------------------------------------------------
    KeySpec("items", "stream", "crawlers.frontier", "trimmed past what every consumer group acknowledged",
            "staff rows, posts and run events (conf.wire) for the index writer (group `indexer`)"),
    KeySpec("events", "channel", "crawlers.frontier", "pub/sub, not stored", "run_end / run_failed events as they happen"),
    KeySpec("flags", "hash", "index.runs", "one field per flagged site", "site -> why its last run was refused (JSON)"),
    # --- the notifier ---------------------------------------------------------------------------
    KeySpec("notifier:posts", "hash", "notifier.store", "grows with alerted posts", "post id -> post JSON at its first alert"),
    KeySpec("notifier:alerts:{official}", "zset", "notifier.store", "grows with the official's alerts", "post id -> first seen"),
    KeySpec("notifier:hits:{official}", "hash", "notifier.store", "as alerts", "post id -> topics and matched terms (JSON)"),
    KeySpec("notifier:modified", "hash", "notifier.store", "one field per official", "official -> time of the last new alert"),
    KeySpec("notifier:since", "hash", "notifier.store", "one field per official with `since`", "official -> explicit since"),
    KeySpec("notifier:topic_start", "hash", "notifier.store", "one field per topic", "official and topic -> when the topic began"),
    KeySpec("notifier:pending:{official}", "zset", "notifier.store", "until the next digest", "alerts not yet e-mailed"),
    KeySpec("notifier:titles:{official}", "hash", "notifier.store", "one field per alerted board and title",
            "board and normalized title -> the first alert of that title (re-published posts are one alert)"),
    KeySpec("notifier:sent:{official}", "set", "notifier.digest", "grows with e-mailed posts", "post ids already e-mailed"),
    # --- 요있다 (visits.tokens) ---------------------------------------------------------------
    KeySpec("visit:links", "hash", "visits.tokens", "one field per official with a link", "link token -> official id"),
    KeySpec("visit:links:by_official", "hash", "visits.tokens", "one field per official", "official id -> link token"),
    KeySpec("visit:form:{form_token}", "string", "visits.tokens", "form_ttl_seconds; deleted when used",
            "a one-time form token of the phone page -> official id"),
    KeySpec("visit:last:{official}", "string", "visits.tokens", "min_seconds_between_places",
            "the official's last proof (JSON t, lat, lon): two places within seconds are refused"),
    KeySpec("visit:hour:{official}:{hour}", "string", "visits.tokens", "an hour", "proofs of the official in this hour"),
    KeySpec("visit:recent:{official}", "list", "visits.tokens", "recent_days; recent_proofs entries",
            "the official's recent proofs (JSON), shown again on the phone after re-verification"),
    # --- operations (workers) -----------------------------------------------------------------
    KeySpec("heartbeat:{role}:{host}:{pid}", "string", "conf.heartbeat", "30 s, renewed while the process lives",
            "a live process (crawl worker, Celery worker, index writer, scheduler, web): JSON with memory"),
    KeySpec("beat:lock", "string", "workers.beat", "lock timeout, renewed every tick", "the one scheduler that may send"),
    KeySpec("beat:last", "hash", "workers.beat", "one field per schedule entry", "entry -> the last slot sent"),
    KeySpec("digest:{official}:{slot}", "string", "workers.tasks", "8 days", "a scheduled digest already sent for a slot"),
    KeySpec("ops:conditions", "hash", "notifier.operator", "one field per condition in force",
            "condition id -> since when and what (JSON): what an operator is alerted about"),
    KeySpec("ops:events", "list", "notifier.operator", "last 500", "operator alerts as they start and clear (JSON)"),
    KeySpec("ops:outbox", "list", "notifier.operator", "until mailed", "operator alerts not yet e-mailed"),
    KeySpec("ops:state", "hash", "notifier.operator", "a few fields", "what the checks remember between runs (JSON)"),
    KeySpec("ops:token", "string", "notifier.operator", "until rotated", "the operators' feed token"),
    KeySpec("celery:{name}", "list", "kombu (Celery)", "until consumed", "Celery's broker keys (queues, bindings, unacked)"),
    KeySpec("config:problems", "hash", "notifier.subscription", "a field while a file has problems",
            "source (subscriptions, sites) -> the problems a running service found in it (JSON)"),
    KeySpec("me_tokens", "hash", "notifier.tokens", "one field per official", "personal-page token -> official id"),
    KeySpec("me_tokens:by_official", "hash", "notifier.tokens", "one field per official", "official id -> personal-page token"),
    KeySpec("feed_tokens", "hash", "notifier.tokens", "one field per official", "feed token -> official id"),
    KeySpec("feed_tokens:by_official", "hash", "notifier.tokens", "one field per official", "official id -> feed token"),
)


def _check(pattern: re.Pattern, value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"invalid {what} for a Redis key: {value!r}")
    return value


def check_site(site: str) -> str:
    """A site id (a slug: the file name of its YAML)."""
    return _check(SLUG, site, "site id")


def check_official(official: str) -> str:
    return _check(SLUG, official, "official id")


def check_host(host: str) -> str:
    """A URL's netloc (host and optional port), as the frontier keys hosts."""
    return _check(HOST, host, "host")


def check_run_id(run_id: str) -> str:
    return _check(RUN_ID, run_id, "run id")


class Keys:
    """The key names of one cluster; every method validates the parts it is given."""

    def __init__(self, prefix: str):
        if not re.fullmatch(r"[a-z0-9_-]{1,32}", prefix or ""):
            raise ValueError(f"invalid key prefix {prefix!r}")
        self.prefix = prefix

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # runs
    def run(self, run_id: str) -> str:
        return self._k("run", check_run_id(run_id))

    def run_site(self, run_id: str) -> str:
        return self._k("run", check_run_id(run_id), "site")

    def run_errors(self, run_id: str) -> str:
        return self._k("run", check_run_id(run_id), "errors")

    def run_lists(self, run_id: str) -> str:
        return self._k("run", check_run_id(run_id), "lists")

    @property
    def active(self) -> str:
        return self._k("active")

    def site_runs(self, site: str) -> str:
        return self._k("site", check_site(site), "runs")

    def slot(self, site: str, slot: str) -> str:
        return self._k("slot", check_site(site), _check(re.compile(r"[0-9]{8}T[0-9]{6}"), slot, "slot"))

    def cancel(self, site: str) -> str:
        return self._k("cancel", check_site(site))

    # queue and politeness
    @property
    def ready(self) -> str:
        return self._k("ready")

    @property
    def intervals(self) -> str:
        return self._k("intervals")

    @property
    def inflight(self) -> str:
        return self._k("inflight")

    @property
    def workers(self) -> str:
        return self._k("workers")

    @property
    def poison(self) -> str:
        return self._k("poison")

    @property
    def counters(self) -> str:
        return self._k("counters")

    def queue(self, host: str) -> str:
        return self._k("q", check_host(host))

    def delayed(self, host: str) -> str:
        return self._k("delayed", check_host(host))

    @property
    def sending(self) -> str:
        """The politeness gate's slot keys are `sending:{host}` (built in its Lua script)."""
        return self._k("sending")

    @property
    def done(self) -> str:
        return self._k("done")

    @property
    def started(self) -> str:
        return self._k("started")

    @property
    def next(self) -> str:
        return self._k("next")

    def robots(self, host: str) -> str:
        return self._k("robots", check_host(host))

    # boards
    def collected(self, site: str) -> str:
        return self._k("collected", check_site(site))

    def list_rows(self, site: str) -> str:
        return self._k("listrows", check_site(site))

    def validators(self, site: str) -> str:
        return self._k("validators", check_site(site))

    # stream and index
    @property
    def items(self) -> str:
        return self._k("items")

    @property
    def events(self) -> str:
        return self._k("events")

    @property
    def flags(self) -> str:
        return self._k("flags")

    # notifier
    def notifier(self, name: str, official: str | None = None) -> str:
        if name not in {"posts", "alerts", "hits", "modified", "since", "topic_start", "pending", "sent", "titles"}:
            raise ValueError(f"unknown notifier key {name!r}")
        return self._k("notifier", name) if official is None else self._k("notifier", name, check_official(official))

    def heartbeat(self, role: str, name: str) -> str:
        if role not in ("crawl", "celery", "indexer", "scheduler", "web"):
            raise ValueError(f"unknown heartbeat role {role!r}")
        if name != "*":
            _check(re.compile(r"[A-Za-z0-9._-]{1,253}:[0-9]{1,10}"), name, "process name")
        return self._k("heartbeat", role, name)

    @property
    def heartbeat_pattern(self) -> str:
        return self._k("heartbeat", "*")

    def beat(self, name: str) -> str:
        if name not in ("lock", "last"):
            raise ValueError(f"unknown scheduler key {name!r}")
        return self._k("beat", name)

    def digest(self, official: str, slot: str) -> str:
        return self._k("digest", check_official(official), _check(re.compile(r"[0-9]{8}T[0-9]{6}"), slot, "slot"))

    def ops(self, name: str) -> str:
        if name not in ("conditions", "events", "outbox", "state", "token"):
            raise ValueError(f"unknown operations key {name!r}")
        return self._k("ops", name)

    @property
    def celery_prefix(self) -> str:
        return self._k("celery") + ":"

    @property
    def config_problems(self) -> str:
        return self._k("config", "problems")

    @property
    def feed_tokens(self) -> str:
        return self._k("feed_tokens")

    @property
    def feed_tokens_by_official(self) -> str:
        return self._k("feed_tokens", "by_official")

    @property
    def me_tokens(self) -> str:
        return self._k("me_tokens")

    @property
    def me_tokens_by_official(self) -> str:
        return self._k("me_tokens", "by_official")


def template(pattern: str) -> str:
    """"{prefix}:" + a pattern of the table, for modules that format their own keys (str.format)."""
    if not any(spec.pattern == pattern for spec in TABLE):
        raise KeyError(f"{pattern!r} is not in the key table (conf/keys.py)")
    return "{prefix}:" + pattern


def pattern_regex(prefix: str, spec: KeySpec) -> re.Pattern:
    """A regex matching the real keys of a table entry (a variable part is one or more non-':' characters,
    except hosts, which may hold a port)."""
    out = re.escape(prefix) + ":"
    for piece in re.split(r"(\{[a-z_]+\})", spec.pattern):
        if piece == "{name}" and spec.pattern.startswith("celery:"):
            out += r".+"  # kombu's own names (queues, _kombu.binding.*, unacked_index …)
        elif piece.startswith("{"):
            out += r"[^:]+(?::[0-9]+)?" if piece == "{host}" else r"[^:]+"
        else:
            out += re.escape(piece)
    return re.compile(out)


def known(prefix: str, key: str) -> KeySpec | None:
    """The table entry a real key belongs to, or None."""
    for spec in TABLE:
        if pattern_regex(prefix, spec).fullmatch(key):
            return spec
    return None
