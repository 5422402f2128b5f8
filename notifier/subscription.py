"""Officials' subscriptions: schema, loading with file/line/field errors, hot reload, feed tokens."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from conf.keys import Keys
from conf.schedules import check_schedule
from conf.timezone import SEOUL
from conf.schema import ListOf, Record, Spec, Str, validate
from conf.specs import BOARD_KINDS, REGIONS
from conf.yamlsource import ConfigError, read_yaml
from notifier.query import Query, check_query, parse_query

logger = logging.getLogger(__name__)

SLUG = r"[a-z0-9][a-z0-9-]*"


class Since(Spec):
    """A date (midnight, Asia/Seoul) or a date-time (naive means Asia/Seoul)."""

    help = ""

    def __init__(self, help: str = "", default: Any = None):
        self.help = help
        self.default = default

    def validate(self, value, path, ctx):
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                ctx.fail(path, f"expected a date like 2024-05-01 or 2024-05-01T09:00:00+09:00, got {value!r}")
                return None
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=SEOUL)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=SEOUL)
        ctx.fail(path, f"expected a date, got {value!r}")
        return None

    def describe(self):
        return "date"


def _check_email(value: str) -> str | None:
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        return f"{value!r} is not an e-mail address"
    return None


TOPIC = Record(
    fields={
        "name": Str(help="name of the topic, shown in feeds and e-mails (e.g. 드론 산업)"),
        "query": Str(check=check_query, help='words (AND), "phrases", OR, -excluded; e.g. 드론 -채용'),
        "sites": ListOf(Str(pattern=SLUG), single_ok=True, default=None, help="only posts of these site ids"),
        "regions": ListOf(Str(check=lambda v: None if v in REGIONS else f"unknown region {v!r}; known: {', '.join(REGIONS)}"),
                          single_ok=True, default=None, help="only posts of these regions"),
        "board_kinds": ListOf(Str(check=lambda v: None if v in BOARD_KINDS else f"unknown board kind {v!r}; known: {', '.join(BOARD_KINDS)}"),
                              single_ok=True, default=None, help="only these board kinds: press | notice | announcement | legislation"),
    },
    required=("name", "query"),
)


def _official_check(value: dict, path: tuple, ctx) -> None:
    seen: dict[str, int] = {}
    for i, topic in enumerate(value.get("topics") or []):
        if topic and topic.get("name") in seen:
            ctx.fail(path + ("topics", i, "name"), f"topic name {topic['name']!r} repeated (also topics[{seen[topic['name']]}])")
        elif topic:
            seen[topic.get("name")] = i


OFFICIAL = Record(
    fields={
        "id": Str(pattern=SLUG, help="slug of the official (lower-case letters, digits, '-'); in a folder, the file name"),
        "name": Str(help="display name (e.g. 김민수 주무관)"),
        "organization": Str(default=None, help="the official's organization (e.g. 경상남도 미래전략과), shown on trip proofs"),
        "email": Str(default=None, check=_check_email, help="address of the e-mail digest; none: feeds only"),
        "digest": Str(default=None, check=check_schedule,
                      help="when the digest is sent: cron (Seoul time) or 'every N d'; default digest_schedule of cluster.yaml"),
        "since": Since(help="alert only posts first seen after this date; default: when the notifier first sees the topic"),
        "topics": ListOf(TOPIC, min_items=1, help="keyword topics"),
    },
    required=("id", "name", "topics"),
    check=_official_check,
)

SUBSCRIPTIONS = Record(
    fields={"officials": ListOf(OFFICIAL, default=[], help="one entry per official")},
    help="conf/subscriptions.yaml (or a folder with one official per file)",
)


@dataclass(frozen=True)
class Topic:
    name: str
    query: Query
    sites: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    board_kinds: frozenset[str] | None = None

    def accepts(self, post: dict) -> bool:
        """Whether the post passes the topic's source filters (not the query)."""
        return (self.sites is None or post.get("site") in self.sites) \
            and (self.regions is None or post.get("region") in self.regions) \
            and (self.board_kinds is None or post.get("board_kind") in self.board_kinds)


@dataclass(frozen=True)
class Subscription:
    id: str
    name: str
    topics: tuple[Topic, ...]
    email: str | None = None
    since: dt.datetime | None = None
    file: str = ""
    organization: str | None = None
    digest: str | None = None

    def topic(self, name: str) -> Topic | None:
        return next((t for t in self.topics if t.name == name), None)


def _subscription(data: dict, file: str) -> Subscription:
    def opt(values):
        return frozenset(values) if values else None

    topics = tuple(Topic(t["name"], parse_query(t["query"]), opt(t["sites"]), opt(t["regions"]), opt(t["board_kinds"]))
                   for t in data["topics"])
    return Subscription(data["id"], data["name"], topics, data["email"], data["since"], file, data["organization"],
                        data["digest"])


def subscription_files(path: Path) -> list[Path]:
    """The file itself, or the *.yaml files of a folder (sorted)."""
    return sorted(p for p in path.glob("*.yaml") if p.is_file()) if path.is_dir() else [path]


def load_subscriptions(path: str | Path) -> list[Subscription]:
    """Every subscription of the file (key `officials`) or folder (one official per file, id = file name)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError([f"{path}: subscription file or folder not found"])
    problems: list[str] = []
    out: list[Subscription] = []
    where: dict[str, str] = {}
    for file in subscription_files(path):
        try:
            source = read_yaml(file)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if path.is_dir():
            if isinstance(source.data, dict):
                if "id" in source.data and source.data["id"] != file.stem:
                    problems.append(source.problem(("id",), f"must be the file name {file.stem!r} (or be left out)"))
                    continue
                source.data.setdefault("id", file.stem)
            data, more = validate(source, OFFICIAL)
            officials = [(data, ())] if not more else []
        else:
            data, more = validate(source, SUBSCRIPTIONS)
            officials = [] if more else [(o, ("officials", i)) for i, o in enumerate(data["officials"])]
        problems += more
        for official, where_path in officials:
            if official["id"] in where:
                problems.append(source.problem(where_path + ("id",), f"official id {official['id']!r} also defined in {where[official['id']]}"))
                continue
            where[official["id"]] = f"{file}:{source.line(where_path + ('id',))}"
            out.append(_subscription(official, str(file)))
    if problems:
        raise ConfigError(problems)
    return out


class SubscriptionSet:
    """The subscriptions of a file or folder, re-read when it changes (one stat per file per call).

    A broken edit keeps the last valid version; `problems` says what is wrong until it is fixed. With
    `last_good` (a folder of the service's own), every valid version is copied there, so a process that
    starts while the file is broken runs with the last valid version instead of refusing to start
    (without a copy it runs with none, and says so in `problems`).
    """

    def __init__(self, path: str | Path, last_good: str | Path | None = None):
        self.path = Path(path)
        self.last_good = Path(last_good) if last_good else None
        self.version = 0
        self.problems: list[str] = []
        self._signature: tuple | None = None
        self._subscriptions: list[Subscription] = []
        self.reload()

    def _stat(self) -> tuple:
        def one(p: Path):
            try:
                st = p.stat()
            except FileNotFoundError:
                return (str(p), None)
            return (str(p), st.st_mtime_ns, st.st_size, st.st_ino)

        if self.path.is_dir():
            return (one(self.path),) + tuple(one(p) for p in subscription_files(self.path))
        return (one(self.path),)

    def reload(self, force: bool = False) -> bool:
        """Re-read if the files changed; True when a new valid version was loaded."""
        signature = self._stat()
        if signature == self._signature and not force:
            return False
        self._signature = signature
        try:
            subscriptions = load_subscriptions(self.path)
        except ConfigError as exc:
            self.problems = exc.problems
            if self.version == 0:
                if self.last_good is None:
                    raise
                return self._start_from_last_good(exc)
            logger.error("subscriptions not reloaded, keeping version %d:\n%s", self.version, exc)
            return False
        self.problems = []
        self._use(subscriptions)
        self._keep_copy()
        logger.info("loaded %d subscriptions from %s (version %d)", len(subscriptions), self.path, self.version)
        return True

    def _use(self, subscriptions: list[Subscription]) -> None:
        self._subscriptions = subscriptions
        self.version += 1

    def _copy_path(self) -> Path:
        return self.last_good / (self.path.name if not self.path.is_dir() else "officials")

    def _keep_copy(self) -> None:
        """The valid version's files, copied into last_good (atomically per file)."""
        if self.last_good is None:
            return
        target = self._copy_path()
        files = subscription_files(self.path)
        try:
            if self.path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                for old in target.glob("*.yaml"):
                    if old.name not in {f.name for f in files}:
                        old.unlink()
                pairs = [(f, target / f.name) for f in files]
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                pairs = [(self.path, target)]
            for source, dest in pairs:
                tmp = dest.with_name(f".{dest.name}.tmp")
                tmp.write_bytes(source.read_bytes())
                os.replace(tmp, dest)
        except OSError as exc:
            logger.warning("could not keep a copy of the valid subscriptions in %s: %s", self.last_good, exc)

    def _start_from_last_good(self, error: ConfigError) -> bool:
        copy = self._copy_path()
        try:
            subscriptions = load_subscriptions(copy) if copy.exists() else []
        except ConfigError:
            subscriptions = []
        note = (f"using the last valid version kept at {copy} ({len(subscriptions)} officials)" if subscriptions
                else "no valid version was ever loaded: running with no subscriptions")
        self.problems = error.problems + [note]
        logger.error("subscriptions at %s are invalid; %s:\n%s", self.path, note, error)
        self._use(subscriptions)
        return bool(subscriptions)

    def current(self) -> list[Subscription]:
        """The latest valid subscriptions (reloading first if the files changed)."""
        self.reload()
        return self._subscriptions

    def __iter__(self):
        return iter(self.current())

    def __len__(self) -> int:
        return len(self.current())

    def get(self, official_id: str) -> Subscription | None:
        return next((s for s in self.current() if s.id == official_id), None)


def report_problems(client: redis.Redis, prefix: str, source: str, problems: list[str]) -> None:
    """Configuration problems a running service found (shown on /status and by `nugo status`)."""
    if problems:
        client.hset(Keys(prefix).config_problems, source,
                    json.dumps({"problems": problems[:50], "at": time.time()}, ensure_ascii=False))
    else:
        client.hdel(Keys(prefix).config_problems, source)
