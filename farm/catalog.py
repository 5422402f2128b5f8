"""Which sites a farm has: ids, families, hosts and family options (demo and large scale)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from farm import vocab
from farm.content import rng_for

DIRECTORY_FAMILIES = ("staff_table", "org_tree", "euckr_rowspan", "masked_cards")
BOARD_FAMILIES = ("egov", "egov_post", "briefing", "report")
# layouts of issue 15 (labels, multi-line duties, separator rows, bureaus, 고시공고): demo scale only
LABEL_FAMILIES = ("dl_cards", "group_table", "gosi")
BOARD_SLUGS = {"press": "press", "notice": "notice", "announcement": "announce", "legislation": "legislation"}
PROVINCE = {p[0]: p for p in vocab.PROVINCES}


@dataclass(frozen=True)
class SiteDef:
    """One farm site: identity, family and the family's options. `size` is rows (directories) or posts."""

    id: str
    index: int
    kind: str
    family: str
    organization: str
    region: str
    org_kind: str
    short_name: str
    phone_prefix: str
    email_domain: str
    prefix: str
    size: int
    board_kind: str | None = None
    method: str = "GET"           # staff_table: how list pages are requested
    link: str = "onclick"         # egov: "onclick" (fn_view) or "href"
    page_size: int = 10
    date_style: str = "dash"
    pinned: int = 0               # pinned (공지) rows on boards that pin
    bbs_id: str = ""
    menu_id: str = ""
    id_base: int = 1000
    id_step: int = 1
    until_empty: bool = False     # masked_cards: YAML pages until a page is empty instead of following 'next'
    yaml_encoding: str = "auto"
    robots: str = "allow"         # allow | disallow (Disallow: /admin/) | delay (also Crawl-delay: 2)
    masked: bool = False
    script_row: bool = False
    shared: tuple = field(default=())
    address: str = ""             # listen here instead of the default loopback address (Farm's address_base)

    @property
    def host(self) -> str:
        return self.address or host_for(self.index)

    @property
    def encoding(self) -> str:
        return "euc-kr" if self.family == "euckr_rowspan" else "utf-8"


def host_for(index: int) -> str:
    """Site number i listens on 127.0.(1 + i // 250).(1 + i % 250); demo sites are 127.0.1.x."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def address_for(base: str, index: int) -> str:
    """Site number i listens on `base` + i (IPv4), e.g. 198.18.0.100, .101, … in the multi-host test."""
    address = ipaddress.IPv4Address(base) + index
    return str(address)


# ---------------------------------------------------------------- demo scale

_DIRECTORY_PLAN = {  # province: family and options
    "seoul": ("staff_table", {"method": "POST", "page_size": 20}),
    "busan": ("staff_table", {"method": "POST", "page_size": 15}),
    "daegu": ("staff_table", {"method": "GET", "page_size": 20}),
    "incheon": ("org_tree", {"robots": "disallow"}),
    "gwangju": ("org_tree", {}),
    "daejeon": ("org_tree", {"robots": "delay"}),
    "ulsan": ("euckr_rowspan", {"page_size": 40}),
    "sejong": ("masked_cards", {"page_size": 12}),
    "gyeonggi": ("masked_cards", {"page_size": 15, "until_empty": True}),
    "gangwon": ("euckr_rowspan", {"page_size": 50}),
    "chungbuk": ("org_tree", {}),
    "chungnam": ("masked_cards", {"page_size": 12}),
    "jeonbuk": ("euckr_rowspan", {"page_size": 30, "yaml_encoding": "cp949"}),
    "jeonnam": ("euckr_rowspan", {"page_size": 40}),
    "gyeongbuk": ("staff_table", {"method": "GET", "page_size": 10}),
    "gyeongnam": ("staff_table", {"method": "POST", "page_size": 10, "script_row": True}),
    "jeju": ("masked_cards", {"page_size": 10, "until_empty": True}),
}
_SHARED = {
    "드론": ("seoul", "busan", "daegu", "gyeonggi", "gangwon", "chungbuk", "gyeongbuk", "gyeongnam", "jeju"),
    "탄소중립": ("seoul", "incheon", "gwangju", "ulsan", "sejong", "chungnam", "jeonbuk", "jeonnam", "gyeongnam", "jeju"),
    "한부모": ("busan", "daegu", "daejeon", "gyeonggi", "gangwon", "jeonnam", "gyeongbuk", "gyeongnam"),
}

# id, province (None: korea.kr), board kind, family, options
_BOARD_PLAN = (
    ("seoul-press", "seoul", "press", "egov", {"link": "onclick", "date_style": "dash", "pinned": 2}),
    ("seoul-legislation", "seoul", "legislation", "egov", {"link": "href", "date_style": "dot", "pinned": 1}),
    ("busan-notice", "busan", "notice", "egov", {"link": "href", "date_style": "dash_time", "pinned": 3, "page_size": 15}),
    ("busan-announce", "busan", "announcement", "egov_post", {"date_style": "dot", "pinned": 2}),
    ("daegu-press", "daegu", "press", "egov_post", {"date_style": "short_dot", "pinned": 0}),
    ("incheon-notice", "incheon", "notice", "egov", {"link": "onclick", "date_style": "korean", "pinned": 2}),
    ("gwangju-press", "gwangju", "press", "briefing", {"date_style": "dash", "page_size": 15}),
    ("daejeon-announce", "daejeon", "announcement", "egov_post", {"date_style": "dash", "pinned": 3}),
    ("ulsan-press", "ulsan", "press", "report", {"date_style": "short_dash"}),
    ("sejong-notice", "sejong", "notice", "egov", {"link": "href", "date_style": "dot", "pinned": 2, "page_size": 12}),
    ("gyeonggi-press", "gyeonggi", "press", "briefing", {"date_style": "dot"}),
    ("gyeonggi-legislation", "gyeonggi", "legislation", "egov_post", {"date_style": "short_dot", "pinned": 1}),
    ("gangwon-press", "gangwon", "press", "egov", {"link": "onclick", "date_style": "dash", "pinned": 0, "page_size": 15}),
    ("chungbuk-announce", "chungbuk", "announcement", "egov_post", {"date_style": "korean", "pinned": 2}),
    ("chungnam-press", "chungnam", "press", "report", {"date_style": "dash"}),
    ("jeonbuk-legislation", "jeonbuk", "legislation", "egov", {"link": "href", "date_style": "dash", "pinned": 0}),
    ("jeonnam-notice", "jeonnam", "notice", "briefing", {"date_style": "dash_time", "page_size": 12}),
    ("gyeongbuk-press", "gyeongbuk", "press", "report", {"date_style": "short_dash"}),
    ("gyeongnam-press", "gyeongnam", "press", "egov", {"link": "onclick", "date_style": "dot", "pinned": 2}),
    ("gyeongnam-notice", "gyeongnam", "notice", "egov", {"link": "onclick", "date_style": "dash", "pinned": 3}),
    ("jeju-press", "jeju", "press", "briefing", {"date_style": "dash", "robots": "disallow"}),
    ("korea-kr-press", None, "press", "briefing", {"date_style": "dot"}),
)

_BOARD_CODES = {"press": "bbs_bodo", "notice": "bbs_gongji", "announcement": "gosi_notice", "legislation": "law_notice"}


def _board(seed, index, site_id, prov, organization, region, org_kind, short, board_kind, family, size_range, options):
    number = 100 + (index * 37) % 900
    ids = {"egov": (1000 + number * 7, 1), "egov_post": (20000 + number * 11, 1), "gosi": (70000 + number * 13, 1),
           "briefing": (156738000 + number * 1000, 1), "report": (506270001 + number * 100000, 300)}[family]
    bbs = {"egov": f"BBSMSTR_000000000{number:03d}", "egov_post": f"normal_0{number:03d}",
           "briefing": "", "report": _BOARD_CODES[board_kind], "gosi": ""}[family]
    options = {"page_size": 10, **options}
    return SiteDef(
        id=site_id, index=index, kind="board", family=family, organization=organization, region=region,
        org_kind=org_kind, short_name=short, phone_prefix=prov[4] if prov else "044-202",
        email_domain=prov[5] if prov else "korea.kr", prefix=f"/{prov[0]}" if prov else "",
        size=rng_for(seed, site_id, "size").randint(*size_range), board_kind=board_kind,
        bbs_id=bbs, menu_id=str(6000 + number), id_base=ids[0], id_step=ids[1], **options)


# id, province, organization, short name, kind, family, board kind, options (after the boards: older ids keep their hosts)
_CITY_PLAN = (
    ("changwon", "gyeongnam", "경상남도 창원시", "창원시", "directory", "dl_cards", None, {"page_size": 5}),
    ("suwon", "gyeonggi", "경기도 수원시", "수원시", "directory", "group_table", None, {}),
    ("changwon-gosi", "gyeongnam", "경상남도 창원시", "창원시", "board", "gosi", "announcement",
     {"date_style": "dot", "pinned": 2}),
)


def _city_sites(seed: int, first_index: int) -> list[SiteDef]:
    sites = []
    for offset, (site_id, pid, organization, short, kind, family, board_kind, options) in enumerate(_CITY_PLAN):
        prov, index = PROVINCE[pid], first_index + offset
        if kind == "board":
            sites.append(_board(seed, index, site_id, prov, organization, prov[2], "city", short, board_kind, family,
                                (30, 120), options))
            continue
        sites.append(SiteDef(
            id=site_id, index=index, kind="directory", family=family, organization=organization, region=prov[2],
            org_kind="city", short_name=short, phone_prefix=prov[4], email_domain=prov[5], prefix=f"/{site_id}",
            size=rng_for(seed, site_id, "size").randint(270, 330), shared=("청년일자리", "드론"), **options))
    return sites


def demo_sites(seed: int) -> list[SiteDef]:
    """The demo farm: 17 provincial directories, 22 boards, then the city sites of issue 15's layouts;
    conf/sites/farm holds their YAML."""
    sites = []
    for index, prov in enumerate(vocab.PROVINCES):
        pid = prov[0]
        family, options = _DIRECTORY_PLAN[pid]
        shared = ("청년일자리",) + tuple(k for k, where in _SHARED.items() if pid in where)
        sites.append(SiteDef(
            id=pid, index=index, kind="directory", family=family, organization=prov[1], region=prov[2],
            org_kind="province", short_name=prov[3], phone_prefix=prov[4], email_domain=prov[5],
            prefix=f"/{pid}", size=rng_for(seed, pid, "size").randint(150, 400) if pid != "daejeon" else 150,
            masked=family == "masked_cards", shared=shared, **options))
    for offset, (site_id, pid, board_kind, family, options) in enumerate(_BOARD_PLAN):
        index = len(vocab.PROVINCES) + offset
        if pid is None:
            sites.append(_board(seed, index, site_id, None, "대한민국 정책브리핑", "중앙", "ministry", "정책브리핑",
                                board_kind, family, (60, 120), options))
        else:
            prov = PROVINCE[pid]
            sites.append(_board(seed, index, site_id, prov, prov[1], prov[2], "province", prov[3],
                                board_kind, family, (30, 120), options))
    return sites + _city_sites(seed, len(sites))


# ---------------------------------------------------------------- large scale

def _organizations() -> list[tuple]:
    """(province row, local slug number, organization, org_kind, short name), provinces first, then interleaved."""
    orgs = [(p, 0, p[1], "province", p[3]) for p in vocab.PROVINCES]
    queues = {p[0]: [(c, "city") for c in vocab.CITIES[p[0]]] + [(a, "agency") for a in vocab.AGENCIES]
              for p in vocab.PROVINCES}
    number = {p[0]: 0 for p in vocab.PROVINCES}
    while any(queues.values()):
        for p in vocab.PROVINCES:
            if queues[p[0]]:
                name, kind = queues[p[0]].pop(0)
                number[p[0]] += 1
                orgs.append((p, number[p[0]], f"{p[1]} {name}", kind, name))
    return orgs


def large_sites(seed: int, directories: int = 300, boards: int = 200) -> list[SiteDef]:
    """Hundreds of sites reusing the demo families; ~1,000 staff per directory (~300,000 rows in all)."""
    orgs = _organizations()
    sites = []
    for i in range(directories):
        prov, number, organization, org_kind, short = orgs[i % len(orgs)]
        site_id = f"{prov[0]}-{number:02d}" + (f"-{i // len(orgs)}" if i >= len(orgs) else "")
        family = DIRECTORY_FAMILIES[i % 4]
        options = {"staff_table": {"method": ("POST", "GET")[i // 4 % 2], "page_size": 20},
                   "org_tree": {}, "euckr_rowspan": {"page_size": 50},
                   "masked_cards": {"page_size": 20, "until_empty": bool(i // 4 % 2)}}[family]
        sites.append(SiteDef(
            id=site_id, index=i, kind="directory", family=family, organization=organization, region=prov[2],
            org_kind=org_kind, short_name=short, phone_prefix=prov[4], email_domain=prov[5], prefix=f"/{prov[0]}",
            size=rng_for(seed, site_id, "size").randint(600, 1400), masked=family == "masked_cards",
            shared=("청년일자리", "드론", "탄소중립", "한부모")[: 1 + i % 4], **options))
    kinds = ("press", "notice", "announcement", "legislation")
    for j in range(boards):
        prov, number, organization, org_kind, short = orgs[j % len(orgs)]
        board_kind = kinds[j % 4]
        site_id = f"{prov[0]}-{number:02d}-{BOARD_SLUGS[board_kind]}" + (f"-{j // len(orgs)}" if j >= len(orgs) else "")
        family = BOARD_FAMILIES[j // 4 % 4]
        options = {"egov": {"link": ("onclick", "href")[j % 2], "pinned": 2, "date_style": "dash"},
                   "egov_post": {"pinned": 1, "date_style": "dot"}, "briefing": {"date_style": "dash_time"},
                   "report": {"date_style": "short_dash"}}[family]
        sites.append(_board(seed, directories + j, site_id, prov, organization, prov[2], org_kind, short,
                            board_kind, family, (30, 120), options))
    return sites
