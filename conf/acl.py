"""Redis ACL users of the cluster: the one table of what each role may run and which keys it may touch.

Every role connects as its own Redis user (`redis://crawler@head:6379/0`, password from
NUGO_REDIS_PASSWORD). A role gets named commands only (never a broad category), and keys and
channels under the cluster prefix only; the keys it may write follow the `owner` column of the one
key table (conf/keys.py), so a key added there reaches the roles of the modules that write it. Redis 7 checks the commands a Lua script calls, and the
keys it touches, against the calling user, so a role's commands include those its scripts run.

Ansible does not keep a copy of these rules: `python3 -m conf.acl --write` renders them into
ansible/roles/nugo_redis/files/acl_rules.json, which the role's users.acl template reads, and a
test fails when that file is stale.

    python3 -m conf.acl --write            # regenerate the JSON for Ansible after editing this table
    python3 -m conf.acl --check            # exit 1 when the JSON is stale
    python3 -m conf.acl --print ROLE=PASS  # the ACL file lines (for a test server, or to compare)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from conf.keys import TABLE
from conf.defaults import KEY_PREFIX

P = "{prefix}"  # replaced by the cluster's key_prefix when rendered


def _glob(pattern: str) -> str:
    """A conf.keys pattern ("run:{run_id}:site") as an ACL glob under the prefix ("{prefix}:run:*:site")."""
    return f"{P}:" + re.sub(r"\{[a-z_]+\}", "*", pattern)


def _owned(*owners: str, also: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
    """Keys of the one key table (conf/keys.py) written by these modules, plus named ones, read-write."""
    wanted = set(owners)
    patterns = [_glob(k.pattern) for k in TABLE
                if k.type != "channel" and wanted & {o.strip() for o in k.owner.split(",")}]
    patterns += [_glob(name) for name in also]
    return tuple((pattern, "rw") for pattern in dict.fromkeys(patterns))


# --- key groups: (pattern, access) with access "rw" or "r". Writes follow the key table's `owner`
# column: a role may write the keys of the modules it runs. Every role may read under the prefix
# (status, heartbeats and run records are read by several of them); nothing outside the prefix.
CRAWL_OWNERS = ("crawlers.frontier", "crawlers.spider", "crawlers.politeness", "crawlers.seed", "workers.tasks",
                "workers.cli")
NOTIFY_OWNERS = ("notifier.store", "notifier.digest", "notifier.subscription", "notifier.operator", "notifier.tokens")
KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    # the frontier, its Lua scripts and the send gate ("sending" itself is never written, but the
    # send gate passes it as KEYS[1], and Redis checks declared keys too)
    "frontier": _owned(*CRAWL_OWNERS, also=("sending",)),
    "celery": _owned("kombu (Celery)"),               # broker keys under {prefix}:celery: (global_keyprefix)
    "scheduler": _owned("workers.beat"),               # the scheduler's lock and last slots
    "notifier": _owned(*NOTIFY_OWNERS),
    "heartbeat": _owned("conf.heartbeat"),             # every process announces itself
    "visits": _owned("visits.tokens", also=("config:problems",)),  # the web service's own writes
    "tokens": _owned("notifier.tokens", also=("feed_tokens", "feed_tokens:by_official")),  # rotated on the personal page
    # the index writer: the item stream (consumer group "indexer", trimmed by it) and site flags
    "index": _owned("index.runs", also=("items",)),
    "read": ((f"{P}:*", "r"),),
    "all": (("*", "rw"),),
}

CHANNELS: dict[str, tuple[str, ...]] = {
    "frontier": (f"{P}:events",),   # run_end / run_failed events published by the frontier's Lua
    # kombu's fanout channels (control broadcasts, events), prefixed like its keys. kombu listens with
    # PSUBSCRIBE, and Redis lets a user PSUBSCRIBE only to a pattern literally equal to one of its own:
    # the exact patterns of Celery's fanout exchanges on database 0 are listed.
    "celery": (f"{P}:celery:*", f"{P}:celery:/0.celery.pidbox", f"{P}:celery:/0.celeryev/*"),
    "all": ("*",),
}

# --- command groups ---------------------------------------------------------------------------
COMMANDS: dict[str, tuple[str, ...]] = {
    "connection": ("auth", "hello", "ping", "select", "echo"),
    # reads (every role; SCAN lists heartbeats by pattern, never KEYS)
    "read": ("time", "get", "mget", "exists", "hget", "hmget", "hgetall", "hvals", "hkeys", "hlen", "hexists", "lrange",
             "llen", "zrange", "zrevrange", "zrangebyscore", "zcard", "zscore", "smembers", "sismember", "scard",
             "xrange", "xlen", "xinfo|groups", "xinfo|stream", "xpending", "scan"),
    # redis-py's Script: EVALSHA, falling back to SCRIPT LOAD (SCRIPT EXISTS in pipelines)
    "scripting": ("eval", "evalsha", "script|load", "script|exists"),
    # writes of the data types the product uses, transactions (redis-py pipelines, kombu's WATCH)
    "write": ("set", "setex", "getdel", "del", "expire", "pexpire", "incr", "incrby", "hset", "hsetnx", "hdel",
              "hincrby", "hincrbyfloat", "lpush", "rpush", "lpop", "rpop", "ltrim", "sadd", "srem", "zadd", "zrem",
              "xadd", "publish", "multi", "exec", "discard", "watch", "unwatch"),
    # kombu's Redis transport: blocking pops and fanout pub/sub
    "celery": ("brpop", "subscribe", "psubscribe", "unsubscribe", "punsubscribe"),
    # the index writer's consumer group on the item stream
    "index": ("xreadgroup", "xack", "xautoclaim", "xgroup|create", "xtrim"),
    # memory figures for status, /healthz and the housekeeping checks
    "status": ("info",),
}

# --- roles --------------------------------------------------------------------------------------
# Each role: the groups of keys, channels and commands it is given. The crawler runs the crawl
# workers and, on every PC, the Celery workers of the crawl, notify and housekeeping queues
# (seeding, finishing runs, digests, operator checks), so it has what both need.
ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    "crawler": {"keys": ("frontier", "celery", "notifier", "heartbeat", "read"), "channels": ("frontier", "celery"),
                "commands": ("connection", "read", "scripting", "write", "celery", "status")},
    "indexer": {"keys": ("index", "notifier", "celery", "heartbeat", "read"), "channels": ("celery",),
                "commands": ("connection", "read", "scripting", "write", "celery", "index")},
    "web": {"keys": ("visits", "tokens", "heartbeat", "read"), "channels": (),
            "commands": ("connection", "read", "scripting", "write", "status")},
    "scheduler": {"keys": ("frontier", "celery", "scheduler", "notifier", "heartbeat", "read"),
                  "channels": ("frontier", "celery"),
                  "commands": ("connection", "read", "scripting", "write", "celery", "status")},
    # The operators' and Ansible's user (ACL LOAD after a password change, backups, redis-cli).
    "admin": {"keys": ("all",), "channels": ("all",), "commands": ()},
}
ROLE_DESCRIPTIONS = {
    "crawler": "crawl workers and the Celery workers of the crawl/notify/housekeeping queues (every PC)",
    "indexer": "the single index writer (Celery queue index, head PC)",
    "web": "the web service: reads, its own 요있다 tokens and heartbeat (head PC)",
    "scheduler": "Celery beat, Celery control, seeding, nugo status and nugo cancel (head PC)",
    "admin": "operators and Ansible only: every command (ACL LOAD, BGREWRITEAOF, backups)",
}

# Never given to any role but admin (checked by the tests with ACL DRYRUN on a real server).
FORBIDDEN = ("flushall", "flushdb", "config", "acl", "shutdown", "debug", "keys", "module", "script|flush",
             "replicaof", "slaveof", "migrate", "save", "bgsave", "bgrewriteaof", "monitor", "client|kill", "swapdb")

JSON_PATH = Path(__file__).resolve().parent.parent / "ansible" / "roles" / "nugo_redis" / "files" / "acl_rules.json"
DEFAULT_USER_RULE = "off resetpass resetkeys resetchannels -@all"


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def role_rule(role: str, prefix: str = P) -> str:
    """The ACL rule string of a role (no password part); `{prefix}` kept unless a prefix is given."""
    spec = ROLES[role]
    keys: dict[str, set[str]] = {}
    for group in spec["keys"]:
        for pattern, access in KEYS[group]:
            keys.setdefault(pattern, set()).update(access)
    parts = ["resetkeys", "resetchannels"]
    for pattern, access in keys.items():
        parts.append(("~" if "w" in access else "%R~") + pattern)
    parts += ["&" + c for group in spec["channels"] for c in _unique(CHANNELS[group])]
    if role == "admin":
        parts.append("+@all")
    else:
        parts.append("-@all")
        parts += ["+" + c for c in _unique(c for group in spec["commands"] for c in COMMANDS[group])]
    return " ".join(parts).replace(P, prefix)


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def user_line(role: str, passwords: str | Iterable[str], prefix: str) -> str:
    """One ACL file line; several passwords are all accepted (the first is current: rotation)."""
    passwords = [passwords] if isinstance(passwords, str) else list(passwords)
    if not passwords or not all(passwords):
        raise ValueError(f"ACL user {role!r} needs at least one non-empty password")
    hashes = " ".join(f"#{password_hash(p)}" for p in passwords)
    return f"user {role} on {hashes} {role_rule(role, prefix)}"


def render_acl(passwords: Mapping[str, str | Iterable[str]], prefix: str = KEY_PREFIX) -> str:
    """The Redis ACL file for these passwords: the default user off, then one line per role.

    The file holds SHA-256 hashes only, never a password. Redis ACL files allow no comments."""
    missing = [role for role in ROLES if role not in passwords]
    if missing:
        raise ValueError(f"no password for ACL user(s): {', '.join(missing)}")
    lines = [f"user default {DEFAULT_USER_RULE}"]
    lines += [user_line(role, passwords[role], prefix) for role in ROLES]
    return "\n".join(lines) + "\n"


def acl_json() -> dict:
    """What Ansible reads: the rule of every role with `{prefix}` left in."""
    return {
        "generated_by": "python3 -m conf.acl --write (from conf/acl.py; do not edit by hand)",
        "prefix_placeholder": P,
        "default_user": DEFAULT_USER_RULE,
        "roles": {role: {"rule": role_rule(role), "description": ROLE_DESCRIPTIONS[role]} for role in ROLES},
    }


def acl_json_text() -> str:
    return json.dumps(acl_json(), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m conf.acl", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help=f"regenerate {JSON_PATH.name} for Ansible")
    group.add_argument("--check", action="store_true", help="exit 1 when the JSON for Ansible is stale")
    group.add_argument("--print", nargs="+", metavar="ROLE=PASSWORD", help="print the ACL file for these passwords")
    parser.add_argument("--prefix", default=KEY_PREFIX)
    args = parser.parse_args(argv)
    if args.write:
        JSON_PATH.parent.mkdir(parents=True, exist_ok=True)
        JSON_PATH.write_text(acl_json_text(), encoding="utf-8")
        print(f"wrote {JSON_PATH}")
        return 0
    if args.check:
        current = JSON_PATH.read_text(encoding="utf-8") if JSON_PATH.exists() else ""
        if current != acl_json_text():
            print(f"{JSON_PATH} is stale: run python3 -m conf.acl --write", file=sys.stderr)
            return 1
        return 0
    passwords = dict(item.split("=", 1) for item in args.print)
    sys.stdout.write(render_acl(passwords, args.prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
