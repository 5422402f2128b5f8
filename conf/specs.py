"""The schemas of conf/cluster.yaml, conf/sites/*/*.yaml and conf/subscriptions.yaml."""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from dataclasses import replace

from conf.schedules import check_schedule
from conf.urls import netloc
from conf.schema import Bool, Choice, Ctx, DictOf, ListOf, Mapping, Num, Record, Str
from conf import defaults

REGIONS = ("서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원",
           "충북", "충남", "전북", "전남", "경북", "경남", "제주", "중앙")
ORG_KINDS = ("province", "city", "agency", "ministry")
BOARD_KINDS = ("press", "notice", "announcement", "legislation")
BOARD_KIND_LABELS = {"press": "보도자료", "notice": "공지사항", "announcement": "고시공고", "legislation": "입법예고"}
DIRECTORY_FIELDS = ("bureau", "department", "team", "position", "name", "phone", "duties", "email")
POST_FIELDS = ("title", "date", "department", "body", "attachments", "post_id", "author")


def _check_css(value: str) -> str | None:
    from parsel.csstranslator import GenericTranslator

    try:
        GenericTranslator().css_to_xpath(value)
    except Exception as exc:  # cssselect raises several kinds
        return f"invalid CSS selector {value!r}: {exc}"
    return None


def _check_xpath(value: str) -> str | None:
    from lxml import etree

    try:
        etree.XPath(value)
    except etree.XPathSyntaxError as exc:
        return f"invalid XPath {value!r}: {exc}"
    return None


def _check_regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"invalid regular expression {value!r}: {exc}"
    return None


def _check_url(value: str) -> str | None:
    if not re.match(r"^https?://[^/\s]+", value):
        return f"{value!r} is not an http(s) URL"
    return None


_PLACEHOLDER = re.compile(r"\{(\d+)\}")
EXTRA_NAME = r"[0-9A-Za-z_\uac00-\ud7a3]{1,20}"  # a post's extra field name: Korean, letters, digits (shown in pages)


def _field_check(value: dict, path: tuple, ctx: Ctx) -> None:
    if sum(bool(value.get(k)) for k in ("css", "xpath", "label")) != 1:
        ctx.fail(path, "give exactly one of 'css', 'xpath' or 'label'")
    if value.get("link") and (value.get("attr") or value.get("split")):
        ctx.fail(path + ("link",), "'link' reads each <a>'s text and href: it takes no 'attr' or 'split'")
    template = value.get("template")
    if template:
        groups = re.compile(value["regex"]).groups if value.get("regex") else 0
        try:
            template.format(*(["x"] * (groups + 1)))
        except (IndexError, KeyError, ValueError):
            used = sorted({int(n) for n in _PLACEHOLDER.findall(template)})
            have = f"its regex has {groups} group(s)" if value.get("regex") else "there is no regex, so only {0}"
            ctx.fail(path + ("template",), f"template {template!r} uses {{{used[-1] if used else '?'}}} but {have}; "
                     "placeholders are {0} (the whole match) and {1}…{n} (the groups)")


FIELD = Record(
    fields={
        "css": Str(help="CSS selector (parsel: ::text and ::attr(name) allowed)", check=_check_css),
        "xpath": Str(help="XPath expression, instead of css", check=_check_xpath),
        "label": ListOf(Str(), single_ok=True, min_items=1,
                        help="instead of css: the value next to this label (dd after <dt>성명</dt>, td after "
                             "<th>등록일</th>, the cell under a column header 성명); one label or a list of alternatives"),
        "match": Choice(("exact", "contains"), default="exact",
                        help="label matching: the whole label text (spaces and a trailing ':' ignored) or a part of it"),
        "attr": Str(help="take this attribute of the selected element instead of its text"),
        "regex": Str(help="keep only the first group (or whole match) of this regular expression", check=_check_regex),
        "template": Str(help="build the value from regex groups: {1}, {2}…; {0} is the whole value"),
        "split": Choice(("lines",), default=None,
                        help="lines: the list of items of a multi-line value (split at <br>, <p>, <li>, <div>)"),
        "strip_prefix": Str(default=None, help="characters removed from the start of each item, e.g. '○-·'"),
        "link": Bool(default=False, help="each <a> matched (or inside a match) gives {name: its text, url: its href "
                                         "made absolute}: attachments as name and URL, never fetched"),
        "many": Bool(default=False, help="collect every match as a list (else the first)"),
        "join": Str(default=None, nonempty=False, help="join many values into one text with this separator"),
        "required": Bool(default=False, help="a row missing this field is reported as broken"),
        "default": Str(default=None, nonempty=False, help="value when nothing matches"),
    },
    shorthand="css",
    check=_field_check,
    help="where a value is on the page",
)

REQUEST = Record(
    fields={
        "url": Str(help="absolute, or relative to base_url"),
        "method": Choice(("GET", "POST"), default="GET"),
        "formdata": DictOf(Str(nonempty=False), default={}, key_pattern=r".+",
                           help="form fields sent with a POST"),
    },
    required=("url",),
    shorthand="url",
)

PAGINATION = Record(
    fields={
        "next": replace(FIELD, help="link to the next list page"),
        "param": Str(help="name of the page-number parameter (query for GET, form field for POST)"),
        "method": Choice(("GET", "POST"), default="GET", help="how page-number pages are requested"),
        "first": Num(integer=True, default=1, help="number of the first page"),
        "last_page": replace(FIELD, help="where the number of the last page is written"),
        "until_empty": Bool(default=False, help="keep requesting pages until one has no rows"),
    },
    help="how to reach the other list pages",
)

LIST = Record(
    fields={
        "rows": Str(help="CSS selector (or xpath: prefix) of one record on a list page"),
        "expand_rowspan": Bool(default=False, help="copy rowspan/colspan cells into every row they cover before selecting"),
        "fields": DictOf(FIELD, default={}, help="record fields read from each row"),
        "page_fields": DictOf(FIELD, default={}, help="fields read once per page and given to every row"),
        "skip": Str(default=None, help="rows matching this CSS selector (tested on the row) are skipped", check=_check_css),
        "group_rows": Record(fields={
            "match": Str(help="CSS selector (tested on the row) of a separator row, e.g. tr.sub_tit", check=_check_css),
            "field": Str(help="the record field the separator's value is carried into, e.g. team"),
            "value": replace(FIELD, help="where the value is in the separator row (default: its whole text)"),
        }, required=("match", "field"), default=None,
            help="separator rows (<tr class=sub_tit><th colspan=4>기획팀</th>) whose value is carried into the "
                 "following rows' field until the next separator"),
        "pinned": Str(default=None, check=_check_css,
                      help="rows matching this CSS selector (tested on the row) are pinned notices (공지), repeated on every page"),
        "extra": DictOf(FIELD, default={}, key_pattern=EXTRA_NAME,
                        help="more post fields, shown and searchable by their name (e.g. 공고번호, 담당자, 조회수)"),
        "detail_link": replace(FIELD, help="link (or JavaScript argument) to the detail page"),
        "follow": replace(FIELD, help="links to more list pages (organization trees)"),
        "pagination": PAGINATION,
    },
    required=("rows",),
    help="how to read a list page",
)

DETAIL = Record(
    fields={"fields": DictOf(FIELD, default={}, help="fields read from the detail page"),
            "extra": DictOf(FIELD, default={}, key_pattern=EXTRA_NAME,
                            help="more post fields read from the detail page (e.g. 공고번호: {label: 공고번호})")},
    help="how to read a detail page (boards)",
)


def _check_rows_selector(value: str) -> str | None:
    if value.startswith("xpath:"):
        return _check_xpath(value[len("xpath:"):].strip())
    return _check_css(value)


LIST.fields["rows"] = Str(help=LIST.fields["rows"].help, check=_check_rows_selector)


def _site_check(site: dict, path: tuple, ctx: Ctx) -> None:
    hosts = {netloc(site["base_url"])} | set(site["allowed_hosts"])
    for i, start in enumerate(site["start"]):
        url = urljoin(site["base_url"], start["url"])
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            ctx.fail(path + ("start", i, "url"), f"{start['url']!r}: a start URL must be http or https")
        elif netloc(url) not in hosts:
            ctx.fail(path + ("start", i, "url"), f"{start['url']!r} is not on the site's hosts ({', '.join(sorted(hosts))}); "
                     "add its host to allowed_hosts")
    kind = site["kind"]
    fields = set(site["list"]["fields"]) | set(site["list"]["page_fields"])
    if kind == "board":
        if not site.get("board_kind"):
            ctx.fail(path, "missing required field 'board_kind' (boards only)")
        fields |= set((site.get("detail") or {}).get("fields") or {})
        allowed = POST_FIELDS
        if "title" not in fields:
            ctx.fail(path + ("list", "fields"), "a board needs a 'title' field")
    else:
        allowed = DIRECTORY_FIELDS
        if "name" not in fields and "duties" not in fields:
            ctx.fail(path + ("list", "fields"), "a directory needs a 'name' or 'duties' field")
        if site.get("detail") and site["detail"].get("fields"):
            ctx.fail(path + ("detail",), "directories have no detail pages")
    for section, names in (("fields", site["list"]["fields"]), ("page_fields", site["list"]["page_fields"])):
        for name in names:
            if name not in allowed:
                ctx.fail(path + ("list", section, name), f"unknown {kind} field; allowed: {', '.join(allowed)}")
    group = site["list"].get("group_rows")
    if group and group["field"] not in allowed:
        ctx.fail(path + ("list", "group_rows", "field"), f"unknown {kind} field {group['field']!r}; allowed: {', '.join(allowed)}")
    if kind == "directory" and (site["list"]["extra"] or site["list"]["pinned"]):
        ctx.fail(path + ("list",), "'extra' and 'pinned' are board options")
    for name in ((site.get("detail") or {}).get("fields") or {}):
        if name not in allowed:
            ctx.fail(path + ("detail", "fields", name), f"unknown {kind} field; allowed: {', '.join(allowed)}")


SITE = Record(
    fields={
        "name": Str(help="display name in Korean (e.g. 경상남도 직원검색)"),
        "organization": Str(help="organization shown with every record (e.g. 경상남도)"),
        "region": Choice(REGIONS, help="region, for filters"),
        "org_kind": Choice(ORG_KINDS, default="province", help="province | city | agency | ministry"),
        "kind": Choice(("directory", "board"), help="staff directory or board"),
        "board_kind": Choice(BOARD_KINDS, default=None, help="press | notice | announcement | legislation (boards)"),
        "base_url": Str(help="scheme and host (and port) of the site; other URLs may be relative to it", check=_check_url),
        "encoding": Choice(("auto", "utf-8", "cp949", "euc-kr"), default="auto",
                           help="page encoding; auto reads the header and meta tag, then tries UTF-8 and CP949"),
        "verified": Bool(default=True, help="false for a real site whose selectors were not checked against the live site"),
        "enabled": Bool(default=True, help="false leaves the site out of crawls"),
        "schedule": Str(default=None, check=check_schedule,
                        help="cron expression (Asia/Seoul) or 'every N s/m/h/d'; default from cluster.yaml"),
        "interval": Num(minimum=0.0, default=None, help="seconds between two requests to this host, cluster-wide; default from cluster.yaml"),
        "obey_robots": Bool(default=True, help="honour robots.txt (and its Crawl-delay)"),
        "max_pages": Num(integer=True, minimum=1, default=5000, help="stop a run after this many pages (trap guard)"),
        "max_depth": Num(integer=True, minimum=1, default=10,
                         help="stop following links deeper than this (pagination does not count; an endless calendar "
                              "linked from every page stops after this many pages)"),
        "max_list_pages": Num(integer=True, minimum=1, maximum=100_000, default=500,
                              help="read at most this many pages of one paginated list; more is an error of the run"),
        "deny": ListOf(Str(check=_check_regex), default=[], single_ok=True,
                       help="links whose URL matches one of these regular expressions are never followed "
                            "(e.g. [\"/calendar\", \"date=\"]: trap guard)"),
        "allowed_hosts": ListOf(Str(pattern=r"[a-z0-9.-]+(:[0-9]{1,5})?"), default=[], single_ok=True,
                                help="other hosts (host or host:port) the crawl may follow links to, besides base_url's"),
        "allow_private_addresses": Bool(default=False,
                                        help="allow hosts that resolve to loopback, link-local or private addresses "
                                             "(the site farm, an intranet site); never the cluster's own services"),
        "start": ListOf(REQUEST, min_items=1, single_ok=True, help="first request(s) of a run"),
        "list": LIST,
        "detail": DETAIL,
    },
    required=("name", "organization", "region", "kind", "base_url", "start", "list"),
    check=_site_check,
)


def _check_visits(value: dict) -> str | None:
    from visits.settings import resolve  # 요있다 declares its settings, with their defaults, in one table

    try:
        resolve(value)
    except ValueError as exc:
        return str(exc)
    return None


def _cluster_check(cluster: dict, path: tuple, ctx: Ctx) -> None:
    renew = cluster.get("lease_renew_seconds")
    if renew is not None and renew * 2 > cluster["lease_seconds"]:
        ctx.fail(path + ("lease_renew_seconds",), f"{renew} s is more than half of lease_seconds ({cluster['lease_seconds']} s): "
                 "one late renewal would let a live worker's leases expire")


CLUSTER = Record(
    fields={
        "redis_url": Str(default=None, help="redis://host:port/db of the cluster's Redis; empty starts an embedded private one. The password comes from NUGO_REDIS_PASSWORD"),
        "allow_insecure_redis": Bool(default=False, help="start even when the cluster's Redis accepts clients without a password (a lab only; warned on every start)"),
        "data_dir": Str(default="var", help="where the embedded Redis, the index and the feeds live (relative to the project)"),
        "key_prefix": Str(default=defaults.KEY_PREFIX, pattern=r"[a-z0-9_-]+", help="prefix of every Redis key"),
        "sites_dirs": ListOf(Str(), default=["sites/farm"], single_ok=True, help="folders of site YAML files, relative to conf/"),
        "subscriptions": Str(default="subscriptions.yaml", help="subscription file (or folder of files), relative to conf/"),
        "timezone": Choice((defaults.TIMEZONE,), default=defaults.TIMEZONE, help="dates and schedules are Seoul time (the only zone supported)"),
        "directory_schedule": Str(default="0 1 * * *", check=check_schedule, help="default schedule of directory crawls"),
        "board_schedule": Str(default="*/30 * * * *", check=check_schedule, help="default schedule of board crawls"),
        "index_schedule": Str(default="every 5s", check=check_schedule,
                              help="how often the index writer takes what the crawlers sent (alerts follow it)"),
        "housekeeping_schedule": Str(default="every 1m", check=check_schedule,
                                     help="how often health checks, operator alerts and trimming run"),
        "digest_schedule": Str(default="0 8 * * 1-5", check=check_schedule,
                               help="default time of an official's e-mail digest (08:00 on weekdays, Seoul)"),
        "celery_visibility_timeout": Num(integer=True, minimum=10, default=600,
                                         help="seconds before a task taken by a worker that vanished is given to another (longer than any task)"),
        "scheduler_tick_seconds": Num(minimum=0.1, maximum=60, default=5.0,
                                      help="the scheduler looks at its entries at least this often; its lock lasts five ticks"),
        "operators": ListOf(Str(check=lambda v: None if "@" in v and " " not in v else f"{v!r} is not an e-mail address"),
                            default=[], single_ok=True, help="e-mail addresses of the cluster's operators (alerts)"),
        "board_missed_cycles": Num(integer=True, minimum=1, default=3,
                                   help="operators are alerted when a board had no healthy crawl for this many of its cycles"),
        "repost_window_days": Num(minimum=0, default=14,
                                  help="a post re-published on the same board with the same title within this many days "
                                       "is one alert (noted 재게시); 0 turns this off"),
        "min_free_disk_mb": Num(integer=True, minimum=0, default=500,
                                help="the index writer commits nothing while its disk has less free space (and alerts)"),
        "default_interval": Num(minimum=0.0, default=1.0, help="seconds between two requests to one host, cluster-wide"),
        "crawl_worker_max_memory_mb": Num(minimum=64, default=768,
                                          help="a crawl worker using more memory returns its work and is restarted"),
        "lease_seconds": Num(minimum=1, default=defaults.LEASE_SECONDS,
                             help="a request leased by a worker that stops renewing it (the worker died or hung) goes back "
                                  "to the queue this long after the last renewal; a live worker renews its leases and its "
                                  "hosts' send slots while it works on them, however long a download takes"),
        "lease_renew_seconds": Num(minimum=0.1, default=None,
                                   help="how often a worker renews its leases and send slots (default lease_seconds / 3; "
                                        "less than half of lease_seconds)"),
        "download_timeout": Num(minimum=1, default=30, help="seconds before a request times out"),
        "retries": Num(integer=True, minimum=0, default=3, help="retries of a failing request"),
        "max_page_bytes": Num(integer=True, minimum=1024, default=5_000_000, help="larger pages are skipped with a logged reason"),
        "healthy_ratio": Num(minimum=0.0, maximum=1.0, default=defaults.HEALTHY_RATIO, help="a directory run is healthy when it has at least this share of the previous row count"),
        "user_agent": Str(default="nugo-bot/0.1 (+staff directory search for public officials)"),
        "web": Record(fields={
            "host": Str(default="127.0.0.1"),
            "port": Num(integer=True, minimum=0, maximum=65535, default=8080),
            "base_url": Str(default=None, help="public URL of the web service, for feed links (default http://host:port)"),
            "tls_cert": Str(default=None, help="certificate file (PEM): the service speaks HTTPS (geolocation needs it)"),
            "tls_key": Str(default=None, help="private key file (PEM) of tls_cert"),
        }, default={"host": "127.0.0.1", "port": 8080, "base_url": None, "tls_cert": None, "tls_key": None}),
        "visits": Mapping(default={}, check=_check_visits,
                          help="settings of 요있다 (trip proofs): see the table in docs/VISITS.md"),
        "smtp": Record(fields={
            "host": Str(default="localhost"),
            "port": Num(integer=True, minimum=1, maximum=65535, default=25),
            "sender": Str(default="nugo@localhost", help="From: of digests and operator mail"),
            "security": Choice(("none", "starttls", "ssl"), default="none", help="none | starttls (port 587) | ssl (port 465)"),
            "username": Str(default=None, help="log in as this user (password from NUGO_SMTP_PASSWORD)"),
        }, default={"host": "localhost", "port": 25, "sender": "nugo@localhost", "security": "none", "username": None}),
    },
    check=_cluster_check,
)
