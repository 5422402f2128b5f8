"""Operator alerts: conditions that start and clear, each reported once each way, by feed and by e-mail.

The checks (ops.housekeeping) say which conditions hold now, as {id: text}. `reconcile` compares that
with the conditions in force (`ops:conditions`): a new one is an event "start", a vanished one an event
"clear". Events go to `ops:events` (the operators' RSS/Atom feed, `/ops/TOKEN.rss`) and `ops:outbox`
(mailed to the operators of cluster.yaml by `send_pending_mail`, at most once each).
"""
from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import secrets
import time

from email.message import EmailMessage
from feedgen.feed import FeedGenerator

from conf.keys import Keys
from notifier.mail import Mailer, MailError
from notifier.text import clean_text, from_epoch, korean_date

logger = logging.getLogger(__name__)

EVENTS_KEPT = 500
KIND_KO = {"start": "발생", "clear": "해소"}

_RECONCILE = """
local now = ARGV[1]
local current = cjson.decode(ARGV[2])
local events = {}
for id, text in pairs(current) do
  if redis.call('HEXISTS', KEYS[1], id) == 0 then
    redis.call('HSET', KEYS[1], id, cjson.encode({since = tonumber(now), text = text}))
    table.insert(events, cjson.encode({id = id, kind = 'start', at = tonumber(now), text = text}))
  end
end
for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
  if current[id] == nil then
    local held = cjson.decode(redis.call('HGET', KEYS[1], id))
    redis.call('HDEL', KEYS[1], id)
    table.insert(events, cjson.encode({id = id, kind = 'clear', at = tonumber(now), text = held.text, since = held.since}))
  end
end
for _, e in ipairs(events) do
  redis.call('LPUSH', KEYS[2], e)
  redis.call('RPUSH', KEYS[3], e)
end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
return events
"""

_CLAIM = """
local out = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return out
"""


def reconcile(client, prefix: str, current: dict[str, str], now: float | None = None) -> list[dict]:
    """Record the conditions holding now; returns the events (start / clear), in one atomic step."""
    keys = Keys(prefix)
    script = client.register_script(_RECONCILE)
    raw = script(keys=[keys.ops("conditions"), keys.ops("events"), keys.ops("outbox")],
                 args=[repr(time.time() if now is None else now), json.dumps(current or {}, ensure_ascii=False) if current
                       else "{}", EVENTS_KEPT])
    events = [json.loads(e) for e in raw]
    for event in events:
        logger.warning("운영 알림 %s: %s / operator alert %s: %s", KIND_KO[event["kind"]], event["text"], event["kind"],
                       event["id"])
    return events


def events(client, prefix: str, limit: int = 100) -> list[dict]:
    return [json.loads(e) for e in client.lrange(Keys(prefix).ops("events"), 0, limit - 1)]


def feed_token(client, prefix: str) -> str:
    """The operators' feed token (made on first use)."""
    key = Keys(prefix).ops("token")
    client.set(key, secrets.token_urlsafe(24), nx=True)
    value = client.get(key)
    return value.decode() if isinstance(value, bytes) else value


def render_feed(items: list[dict], kind: str, base_url: str, self_url: str) -> bytes:
    """The operators' feed: newest event first, stable ids, dates from the events (never "now")."""
    fg = FeedGenerator()
    fg.id("urn:nugo:operators")
    fg.title("누고·어딨노 운영 알림")
    fg.subtitle("클러스터 운영자에게 보내는 알림: 수집 결과 보류, 게시판 수집 중단, 색인 지연, 작업자 중단")
    fg.link(href=self_url, rel="self")
    fg.link(href=base_url, rel="alternate")
    fg.author({"name": "누고 운영"})
    fg.language("ko")
    fg.updated(from_epoch(max((e["at"] for e in items), default=0)))
    for event in items:
        entry = fg.add_entry(order="append")
        stamp = from_epoch(event["at"])
        entry.guid(f"urn:nugo:ops:{clean_text(event['id'])}:{event['kind']}:{event['at']:.3f}", permalink=False)
        entry.title(f"[{KIND_KO[event['kind']]}] {clean_text(event['text'])}")
        entry.link(href=base_url.rstrip("/") + "/status", rel="alternate")
        entry.published(stamp)
        entry.updated(stamp)
        entry.summary(f"{KIND_KO[event['kind']]}: {clean_text(event['text'])} ({korean_date(stamp)} "
                      f"{stamp.astimezone(dt.timezone(dt.timedelta(hours=9))):%H:%M}) · {clean_text(event['id'])}")
    return fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)


def compose(items: list[dict], sender: str, recipients: list[str], status_url: str) -> EmailMessage:
    starts = sum(1 for e in items if e["kind"] == "start")
    message = EmailMessage()
    message["Subject"] = f"[누고 운영] 알림 {starts}건 발생, {len(items) - starts}건 해소"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain="nugo.local")
    lines = ["누고·어딨노 클러스터의 운영 알림입니다.", ""]
    for event in items:
        stamp = from_epoch(event["at"]).astimezone(dt.timezone(dt.timedelta(hours=9)))
        lines.append(f"[{KIND_KO[event['kind']]}] {stamp:%Y-%m-%d %H:%M} {clean_text(event['text'])}")
        lines.append(f"    ({clean_text(event['id'])})")
    lines += ["", f"상태 페이지: {status_url}", "무엇을 해야 하는지는 docs/RUNBOOK.md의 '운영 알림' 절에 있습니다."]
    message.set_content("\n".join(lines))
    return message


def send_pending_mail(cluster, client) -> dict:
    """Mail the events not mailed yet to cluster.operators (claimed first: a crash loses a mail, never doubles it;
    an SMTP failure puts them back for the next pass)."""
    keys = Keys(cluster.key_prefix)
    if not cluster.operators:
        client.delete(keys.ops("outbox"))
        return {"outcome": "no operators"}
    raw = client.register_script(_CLAIM)(keys=[keys.ops("outbox")])
    items = [json.loads(e) for e in raw]
    if not items:
        return {"outcome": "nothing to send"}
    with Mailer(cluster) as mailer:
        try:
            mailer.send(compose(items, mailer.sender, list(cluster.operators), cluster.public_url + "/status"))
        except MailError as exc:
            client.lpush(keys.ops("outbox"), *reversed(raw))
            logger.error("운영 알림 메일 실패: %s (다음에 다시 보냄) / operator mail not sent: %s", exc, exc)
            return {"outcome": "failed", "reason": str(exc)}
    return {"outcome": "sent", "events": len(items)}


def mail_now(cluster, text: str) -> bool:
    """An alert mailed at once, without Redis (which may be the thing that is down or full)."""
    if not cluster.operators:
        return False
    event = {"id": "redis", "kind": "start", "at": time.time(), "text": text}
    with Mailer(cluster) as mailer:
        try:
            mailer.send(compose([event], mailer.sender, list(cluster.operators), cluster.public_url + "/status"))
        except MailError as exc:
            logger.error("운영 알림 메일 실패 / operator mail not sent: %s", exc)
            return False
    return True
