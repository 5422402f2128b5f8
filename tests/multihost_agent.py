"""Each role's real code path, run inside a namespace host of the multi-host test as its Redis ACL user.

    ip netns exec HOST python3 -m tests.multihost_agent seed|index|web|probe

Reads NUGO_CONF, NUGO_REDIS_URL (redis://ROLE@198.18.0.1:6379/0), NUGO_REDIS_PASSWORD and NUGO_FARM_PORT
like every service; prints one JSON line. A missing ACL permission makes it fail (NoPermissionError).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import socket
import sys
from urllib.parse import urlsplit

import redis


def _cluster():
    from conf.loader import load_cluster

    return load_cluster()


def seed() -> dict:
    """The scheduler's job: robots.txt, politeness intervals, first requests of every site."""
    from conf.connection import redis_client
    from conf.loader import load_sites
    from crawlers.seed import seed_sites

    cluster = _cluster()
    sites = load_sites(cluster.sites_paths, {"FARM_PORT": os.environ["NUGO_FARM_PORT"]})
    runs = seed_sites(redis_client(cluster, start=False), cluster, list(sites.values()))
    return {"runs": runs, "sites": len(sites)}


def index() -> dict:
    """The index writer: consume the whole item stream (notifier registration included), then record
    one alert as the notifier does after a commit."""
    from conf.connection import redis_client
    from index.post_search import PostSearcher
    from index.state import site_status
    from notifier.store import AlertStore
    from notifier.subscription import load_subscriptions
    from workers.indexer import run_indexer

    cluster = _cluster()
    client = redis_client(cluster, start=False)
    post = None
    for _, fields in client.xrange(f"{cluster.key_prefix}:items", count=20000):
        if fields.get(b"type") == b"post":
            post = json.loads(fields[b"json"])
            post.setdefault("first_seen", "2030-01-01T00:00:00+09:00")
            break
    stats = run_indexer(cluster, once=True, client=client, lock_wait=60)  # it trims what it acknowledged
    official = load_subscriptions(cluster.subscriptions_path)[0]
    new = AlertStore(client, cluster.key_prefix).record(
        [(official.id, official.topics[0].name, post["id"], [])], [post], now=0.0) if post else 0
    flags = {k.decode(): json.loads(v) for k, v in client.hgetall(f"{cluster.key_prefix}:flags").items()}
    status = site_status(cluster.index_dir)
    live = [s for s in status.values() if s["live_run"]]
    return {"flags": flags, "judged": sum(1 for s in status.values() if s["last_run"]), "live": len(live),
            "staff_rows": sum(s["rows"] for s in live), "posts": len(PostSearcher(cluster.index_dir)),
            "acked": stats.acked, "alerts_recorded": new, "official": official.id, "post_title": post and post["title"]}


def web() -> dict:
    """The web service's Redis reads: a personal feed (token lookup, alerts), through the real WSGI app."""
    from conf.connection import redis_client
    from notifier.subscription import load_subscriptions
    try:
        from notifier.tokens import token_for
    except ImportError:  # before the tokens moved to their own module
        from notifier.subscription import token_for
    from web.app import make_app

    cluster = _cluster()
    official = load_subscriptions(cluster.subscriptions_path)[0]
    token = token_for(redis_client(cluster, start=False), cluster.key_prefix, official.id)
    app = make_app(cluster)
    out = {}
    for path in ("/healthz", f"/feeds/{token}.rss", "/api/search"):
        status, body = _get(app, path, "q=드론" if path == "/api/search" else "")
        out[path.replace(token or "-", "TOKEN")] = {"status": status, "bytes": len(body),
                                                    "body": body[:20000].decode("utf-8", "replace")}
    return out


def _get(app, path: str, query: str = "") -> tuple[int, bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "198.18.0.1",
               "SERVER_PORT": "8080", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "SERVER_PROTOCOL": "HTTP/1.1",
               "HTTP_HOST": "198.18.0.1:8080"}
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split()[0])

    body = b"".join(app(environ, start_response))
    return captured["status"], body


def _outcome(fn) -> str:
    try:
        fn()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "allowed"


def probe() -> dict:
    """What the server refuses, asked over the LAN: no credentials, a wrong password, commands and keys
    outside each role."""
    url = urlsplit(os.environ["NUGO_REDIS_URL"])
    host, port = url.hostname, url.port or 6379
    passwords = json.loads(os.environ["NUGO_TEST_PASSWORDS"])

    def client(user=None, password=None):
        return redis.Redis(host=host, port=port, username=user, password=password, socket_timeout=5)

    crawler = client("crawler", passwords["crawler"])
    web_user = client("web", passwords["web"])
    indexer = client("indexer", passwords["indexer"])
    with socket.create_connection((host, port), timeout=5) as sock:  # no client library: the bare protocol
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        raw = sock.recv(256).decode("utf-8", "replace").strip()
    return {
        "anonymous PING (bare RESP)": raw,
        "anonymous PING": _outcome(lambda: client().ping()),
        "anonymous GET": _outcome(lambda: client().get("nugo:active")),
        "crawler wrong password": _outcome(lambda: client("crawler", "wrong").ping()),
        "crawler PING": _outcome(crawler.ping),
        "crawler FLUSHALL": _outcome(crawler.flushall),
        "crawler FLUSHDB": _outcome(crawler.flushdb),
        "crawler CONFIG GET": _outcome(lambda: crawler.config_get("requirepass")),
        "crawler KEYS": _outcome(lambda: crawler.keys("*")),
        "crawler SHUTDOWN": _outcome(lambda: crawler.execute_command("SHUTDOWN", "NOSAVE")),
        "crawler ACL LIST": _outcome(crawler.acl_list),
        "crawler SCRIPT FLUSH": _outcome(crawler.script_flush),
        "crawler key outside the prefix": _outcome(lambda: crawler.set("other:key", "x")),
        "web writes a notifier key": _outcome(lambda: web_user.hset("nugo:notifier:modified", "x", "1")),
        "web writes a run": _outcome(lambda: web_user.hset("nugo:run:x", "status", "finished")),
        "crawler writes a 요있다 token": _outcome(lambda: crawler.set("nugo:visit:form:" + "x" * 20, "someone")),
        "indexer pushes to a crawl queue": _outcome(lambda: indexer.lpush("nugo:q:example", "x")),
        "indexer writes a run": _outcome(lambda: indexer.hset("nugo:run:x", "status", "finished")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.multihost_agent")
    parser.add_argument("job", choices=("seed", "index", "web", "probe"))
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = {"seed": seed, "index": index, "web": web, "probe": probe}[args.job]()
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
