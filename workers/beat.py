"""The cluster's Celery beat scheduler: exactly one sender, schedules read from the configuration.

    nugo scheduler            (celery beat with -S workers.beat:ClusterScheduler)

- **One sender.** A scheduler sends only while it holds the Redis lock `beat:lock` (SET NX with a token,
  renewed every tick by a compare-and-extend script). One that cannot take or renew it — another holds
  it, or Redis failed at that moment — is a standby and sends nothing: the exception celery-redbeat
  swallows (its #208, #238) cannot make two schedulers send. A standby takes over when the lock expires.
- **Slots, not ticks.** Every entry fires at the fire times of its schedule (conf.schedules); a scheduler
  acting at a moment sends the entry's latest fire time at or before it — the *slot* — once: the last
  slot sent is kept in Redis (`beat:last`), shared by every scheduler, so a restarted or standby scheduler
  sends a missed slot late, never twice. The slots missed within the last CATCH_UP_LOCKS lock lifetimes
  (a handover: the lock of a failed scheduler expiring) are all sent, oldest first; older ones are not
  (after a cluster was off for a day, one run per site, not a backlog). The task itself is idempotent per slot
  (crawlers.seed.start_scheduled_run), the second line of defence.
- **Live configuration.** The entries (one per enabled site, the index writer, housekeeping, each
  official's digest) are rebuilt whenever cluster.yaml, a site file or a subscriptions file changes:
  no restart needed.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import redis
from celery.beat import Scheduler

from conf.heartbeat import beat, memory_mb
from conf.keys import Keys
from conf.loader import Cluster, load_cluster, site_files
from conf.schedules import Schedule, parse_schedule, slot_moment, slot_name
from conf.timezone import SEOUL
from conf.yamlsource import ConfigError, read_yaml

logger = logging.getLogger(__name__)

CATCH_UP_LOCKS = 3  # missed slots this many lock lifetimes old are still sent (a handover), older ones not
CATCH_UP_SLOTS = 5  # and at most this many per entry

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass(frozen=True)
class Entry:
    """One schedule entry: a task sent with `args + [slot]` at each fire time of `schedule`."""

    name: str
    task: str
    schedule: Schedule
    args: tuple = ()
    expires: float | None = None  # seconds: a message not taken by then is dropped (the next slot comes)


@dataclass
class Plan:
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def due_slots(schedule: Schedule, last: str | None, now: dt.datetime, catch_up_seconds: float,
              limit: int = CATCH_UP_SLOTS) -> list[str]:
    """The slots to send now, oldest first: the latest fire time at or before `now` unless `last` (the
    last slot sent) is it already, and before it the ones after `last` missed within `catch_up_seconds`
    (at most `limit` slots in all)."""
    latest = schedule.prev(now)
    try:
        after = slot_moment(last) if last else None
    except ValueError:
        after = None
    if after is not None and after >= latest:
        return []
    slots = [latest]
    horizon = now - dt.timedelta(seconds=catch_up_seconds)
    while after is not None and len(slots) < limit:
        earlier = schedule.prev(slots[0] - dt.timedelta(seconds=1))
        if earlier <= after or earlier < horizon:
            break
        slots.insert(0, earlier)
    return [slot_name(s) for s in slots]


def _period(schedule: Schedule, now: dt.datetime) -> float:
    after = schedule.next(now)
    return (schedule.next(after) - after).total_seconds()


def plan(cluster: Cluster) -> Plan:
    """The entries of the configuration as it is now; a site file that does not read is left out (and said)."""
    out = Plan()
    now = dt.datetime.now(SEOUL)

    def add(name: str, task: str, text: str, args: tuple = (), expiring: bool = False) -> None:
        schedule = parse_schedule(text)
        out.entries[name] = Entry(name, task, schedule, args, _period(schedule, now) if expiring else None)

    add("index", "nugo.index_stream", cluster.index_schedule, expiring=True)
    add("housekeeping", "nugo.housekeeping", cluster.housekeeping_schedule, expiring=True)
    for path in site_files([p for p in cluster.sites_paths if p.is_dir()]):
        try:
            spec = read_yaml(path).data or {}
        except ConfigError as exc:
            out.problems += exc.problems
            continue
        if not isinstance(spec, dict) or spec.get("enabled") is False:
            continue
        kind = spec.get("kind")
        text = spec.get("schedule") or (cluster.directory_schedule if kind == "directory" else cluster.board_schedule)
        try:
            add(f"site:{path.stem}", "nugo.start_site_run", str(text), (path.stem,))
        except ValueError as exc:
            out.problems.append(f"{path}: schedule: {exc}")
    for official, text in _digests(cluster, out):
        try:
            add(f"digest:{official}", "nugo.send_digest", text, (official,))
        except ValueError as exc:
            out.problems.append(f"digest of {official}: {exc}")
    return out


def _digests(cluster: Cluster, out: Plan) -> list[tuple[str, str]]:
    from notifier.subscription import load_subscriptions

    path = cluster.subscriptions_path
    if not path.exists():
        return []
    try:
        officials = load_subscriptions(path)
    except ConfigError as exc:
        out.problems += exc.problems
        return []
    return [(o.id, o.digest or cluster.digest_schedule) for o in officials if o.email]


def _signature(cluster_path: Path, cluster: Cluster) -> tuple:
    from notifier.subscription import subscription_files

    paths = [cluster_path]
    for folder in cluster.sites_paths:
        paths.append(folder)
        if folder.is_dir():
            paths += sorted(folder.glob("*.yaml"))
    subs = cluster.subscriptions_path
    paths += [subs] + (subscription_files(subs) if subs.is_dir() else [])
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), None))
    return tuple(out)


class ClusterScheduler(Scheduler):
    """A Celery beat Scheduler: the lock, the slots and the live configuration described in the module."""

    def __init__(self, app, *args, **kwargs):
        self.cluster: Cluster = getattr(app, "nugo_cluster", None) or load_cluster()
        self.keys = Keys(self.cluster.key_prefix)
        self.token = secrets.token_hex(12)
        self.holding = False
        self._client: redis.Redis | None = None
        self._plan = Plan()
        self._signature: tuple | None = None
        super().__init__(app, *args, **kwargs)

    # --- celery.beat.Scheduler interface -------------------------------------------------------
    def setup_schedule(self) -> None:
        self.data = {}

    def sync(self) -> None:
        pass

    @property
    def info(self) -> str:
        return f"       . lock -> {self.keys.beat('lock')} ({self.lock_seconds:.0f} s), entries from the configuration"

    def close(self) -> None:
        if self.holding and self._client is not None:
            try:
                self._client.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
                                  " return 0", 1, self.keys.beat("lock"), self.token)
            except redis.RedisError:
                pass
        self.holding = False
        super().close()

    def tick(self, *args, **kwargs) -> float:
        """Send what is due (when holding the lock); returns the seconds until the next look."""
        try:
            client = self.client
            self.holding = self._hold(client)
            beat(client, self.cluster.key_prefix, "scheduler", holding=self.holding, ttl=max(30, int(self.lock_seconds)),
                 memory_mb=memory_mb())
            if not self.holding:
                return self.max_interval
            self._refresh_plan()
            return self._send_due(client)
        except redis.RedisError as exc:
            if self.holding:
                logger.warning("scheduler: Redis error (%s): standing by until the lock is ours again", exc)
            self.holding = False
            return self.max_interval

    # --- the parts ------------------------------------------------------------------------------
    @property
    def lock_seconds(self) -> float:
        return max(5.0, 5 * float(self.max_interval))

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            from conf.connection import redis_client

            self._client = redis_client(self.cluster, ping=False)
        return self._client

    def _hold(self, client: redis.Redis) -> bool:
        """Take the lock, or keep it; False (standby) when another scheduler has it."""
        key, ms = self.keys.beat("lock"), int(self.lock_seconds * 1000)
        if self.holding and client.eval(RENEW, 1, key, self.token, ms):
            return True
        if client.set(key, self.token, nx=True, px=ms):
            logger.warning("scheduler: this scheduler now sends the cluster's schedule (%s)", self.token[:6])
            return True
        if self.holding:
            logger.warning("scheduler: the lock went to another scheduler; standing by")
        return False

    def _refresh_plan(self) -> None:
        path = Path(self.cluster.conf_path)
        try:
            cluster = load_cluster(path)
        except ConfigError as exc:
            logger.error("cluster.yaml does not read; keeping the schedule in force:\n%s", exc)
            return
        signature = _signature(path, cluster)
        if signature == self._signature:
            return
        self._signature, self.cluster = signature, cluster
        fresh = plan(cluster)
        for problem in fresh.problems:
            logger.error("schedule: %s", problem)
        changed = set(fresh.entries) ^ set(self._plan.entries)
        self._plan = fresh
        logger.warning("schedule (re)loaded: %d entries%s", len(fresh.entries),
                       f" ({len(changed)} added or removed)" if changed else "")

    def _send_due(self, client: redis.Redis) -> float:
        now = dt.datetime.now(SEOUL)
        last_key = self.keys.beat("last")
        entries = list(self._plan.entries.values())
        sent = dict(zip((e.name for e in entries), client.hmget(last_key, [e.name for e in entries]))) if entries else {}
        wait = float(self.max_interval)
        for entry in entries:
            last = sent.get(entry.name)
            last = last.decode() if isinstance(last, bytes) else last
            for slot in due_slots(entry.schedule, last, now, CATCH_UP_LOCKS * self.lock_seconds):
                options = {"expires": entry.expires} if entry.expires else {}
                self.app.send_task(entry.task, args=[*entry.args, slot], **options)
                client.hset(last_key, entry.name, slot)  # each one as it goes: never sent twice
                logger.info("scheduler: sent %s for slot %s", entry.name, slot)
            wait = min(wait, max(0.05, (entry.schedule.next(now) - now).total_seconds()))
        return wait
