"""E-mail digests: one Korean message per official with the alerts not sent before.

Every new alert also goes into ``P:notifier:pending:{official}``. A digest claims the
pending ids atomically, keeping only ids never sent (``P:notifier:sent:{official}``), and
sends them; if sending fails the claim is undone, so the next digest tries again. A crash
between the claim and the send loses that digest rather than sending a post twice.
"""
from __future__ import annotations

import email.utils
import html
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from email.message import EmailMessage

from notifier.feed import alert_times
from notifier.mail import Mailer, MailError
from notifier.store import AlertStore
from notifier.subscription import Subscription
from notifier.text import board_label, clean_text, korean_date, safe_url, snippet_html, snippet_plain

logger = logging.getLogger(__name__)

MAX_POSTS = 100

_CLAIM = """
local rows = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #rows, 2 do
  if redis.call('SADD', KEYS[2], rows[i]) == 1 then
    table.insert(out, rows[i]); table.insert(out, rows[i + 1])
  end
end
redis.call('DEL', KEYS[1])
return out
"""


def _grouped(official: Subscription, alerts: list[dict]) -> list[tuple[str, list[dict]]]:
    """Alerts under the first of their topics, topics in subscription order, newest first."""
    order = [t.name for t in official.topics]
    groups: dict[str, list[dict]] = {}
    for alert in alerts:
        topics = alert.get("topics") or ["기타"]
        groups.setdefault(topics[0], []).append(alert)
    return sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))


def _facts(alert: dict) -> str:
    published, _ = alert_times(alert)
    facts = [clean_text(alert.get("organization")), board_label(alert.get("board_kind")), korean_date(published),
             clean_text(alert.get("department"))]
    return " · ".join(f for f in facts if f)


def compose(official: Subscription, alerts: list[dict], sender: str, period_label: str, more: int = 0) -> EmailMessage:
    """The digest message: plain text and HTML (every crawled value escaped)."""
    name = clean_text(official.name)
    total = len(alerts) + more
    message = EmailMessage()
    message["Subject"] = f"[어딨노] {name}님의 키워드 브리핑 ({clean_text(period_label)}) 새 글 {total}건"
    message["From"] = sender
    message["To"] = email.utils.formataddr((name, official.email))
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain="nugo.local")
    intro = f"{name}님, 안녕하세요. {clean_text(period_label)} 구독하신 주제에 맞는 새 게시물 {total}건을 알려 드립니다."
    footer = "이 메일은 어딨노 키워드 브리핑이 자동으로 보냈습니다. 구독 주제를 바꾸려면 담당자에게 알려 주세요."
    text = [intro, ""]
    body = [f"<p>{html.escape(intro)}</p>"]
    for topic, group in _grouped(official, alerts):
        text.append(f"■ {clean_text(topic)} ({len(group)}건)")
        body.append(f"<h3>{html.escape(clean_text(topic))} ({len(group)}건)</h3><ol>")
        for number, alert in enumerate(group, 1):
            title = clean_text(alert.get("title")) or "(제목 없음)"
            url = safe_url(alert.get("url"))
            terms = alert.get("terms") or ()
            also = [t for t in alert.get("topics") or () if t != topic]
            if alert.get("reposts"):
                title += f" (재게시 {len(alert['reposts'])}회)"
            text.append(f"{number}. {title}")
            text.append(f"   {_facts(alert)}" + (f" (다른 주제: {', '.join(map(clean_text, also))})" if also else ""))
            plain = snippet_plain(alert.get("body"), terms, width=60)
            if plain:
                text.append(f"   {plain}")
            if url:
                text.append(f"   {url}")
            link = f'<a href="{html.escape(url, quote=True)}">{html.escape(title)}</a>' if url else html.escape(title)
            body.append(f"<li><p><strong>{link}</strong><br>{html.escape(_facts(alert))}</p>"
                        f"<p>{snippet_html(alert.get('body'), terms, width=60)}</p></li>")
        text.append("")
        body.append("</ol>")
    if more:
        text.append(f"외 {more}건은 피드에서 확인하세요.")
        body.append(f"<p>외 {more}건은 피드에서 확인하세요.</p>")
    text += ["", footer]
    body.append(f"<p><small>{html.escape(footer)}</small></p>")
    message.set_content("\n".join(text))
    message.add_alternative(f'<!DOCTYPE html><html lang="ko"><body>{"".join(body)}</body></html>', subtype="html")
    return message


@dataclass
class DigestReport:
    """What a digest pass did: posts sent per official, and one line per official whose mail failed."""

    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def send_digests(store: AlertStore, subscriptions: Iterable[Subscription], mailer: Mailer, period_label: str,
                 max_posts: int = MAX_POSTS) -> DigestReport:
    """Send each official with an e-mail address their new alerts. A post goes to an official at most once;
    a failed delivery puts its posts back for the next digest and is reported (never raised)."""
    client = store.client
    claim = client.register_script(_CLAIM)
    report = DigestReport()
    for official in subscriptions:
        pending, done = store.key("pending", official.id), store.key("sent", official.id)
        if not official.email:
            client.delete(pending)
            continue
        flat = claim(keys=[pending, done])
        rows = [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]
        if not rows:
            continue
        rows.sort(key=lambda r: (r[1], r[0]), reverse=True)
        alerts = store.load(official.id, rows[:max_posts])
        message = compose(official, alerts, mailer.sender, period_label, more=max(0, len(rows) - max_posts))
        try:
            mailer.send(message)
        except MailError as exc:
            report.failed[official.id] = str(exc)
            logger.info("digest for %s not sent (kept for the next one): %s", official.id, exc)  # the caller reports it
            pipe = client.pipeline()
            pipe.zadd(pending, {post_id: score for post_id, score in rows})
            pipe.srem(done, *[post_id for post_id, _ in rows])
            pipe.execute()
            continue
        report.sent[official.id] = len(rows)
        logger.info("digest sent to %s: %d post(s)", official.id, len(rows))
    return report


def scheduled_digest(cluster, client, official_id: str) -> dict:
    """One official's digest, sent by the scheduler at the official's digest time."""
    from notifier.subscription import load_subscriptions

    officials = [o for o in load_subscriptions(cluster.subscriptions_path) if o.id == official_id]
    with Mailer(cluster) as mailer:
        report = send_digests(AlertStore(client, cluster.key_prefix), officials, mailer, "정기")
    if report.failed:
        logger.error("요약 메일 실패 %s: %s (다음 요약 때 다시 보냄) / digest for %s not sent: %s", official_id,
                     report.failed[official_id], official_id, report.failed[official_id])
        return {"outcome": "failed", "official": official_id, "reason": report.failed[official_id]}
    return {"outcome": "sent", "official": official_id, "posts": report.sent.get(official_id, 0)}
