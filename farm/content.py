"""Seeded Korean content: staff of a directory, posts of a board; same seed and site, same records."""
from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from bisect import bisect_right
from itertools import accumulate
from typing import NamedTuple

from conf.timezone import SEOUL
from farm import vocab

KST = SEOUL  # the farm writes its dates in Seoul time, as the real sites do
ANCHOR = datetime(2026, 11, 20, 18, 0, tzinfo=KST)  # newest generated post; published posts are dated now
SCRIPT_DUTIES = "<script>alert(1)</script> 홈페이지 보안취약점 점검"

_SURNAMES = [s for s, _ in vocab.SURNAMES]
_SURNAME_CUM = list(accumulate(w for _, w in vocab.SURNAMES))
_POSITIONS = [p for p, _ in vocab.STAFF_POSITIONS]
_POSITION_CUM = list(accumulate(w for _, w in vocab.STAFF_POSITIONS))
_DEPT_ORDER = {d[0]: i for i, d in enumerate(vocab.DEPARTMENTS)}
_DEPT_BY_NAME = {d[0]: d for d in vocab.DEPARTMENTS}

DATE_FORMATS = {  # name: (strftime pattern or None, shows time)
    "dash": ("%Y-%m-%d", False),
    "dot": ("%Y.%m.%d", False),
    "short_dot": ("%y.%m.%d", False),
    "short_dash": ("%y-%m-%d", False),
    "korean": (None, False),
    "dash_time": ("%Y-%m-%d %H:%M", True),
}


def rng_for(seed: int, *parts) -> random.Random:
    """A random generator that depends only on the seed and the given parts (str seeding is stable)."""
    return random.Random("|".join(map(str, (seed,) + parts)))


def has_final(word: str) -> bool:
    """Does the last Hangul syllable of the word end in a consonant (받침)?"""
    ch = word[-1]
    return "가" <= ch <= "힣" and (ord(ch) - 0xAC00) % 28 != 0


def josa(word: str, pair: str) -> str:
    """word + the right particle of the pair: josa('경남도', '은는') -> '경남도는'."""
    return word + (pair[0] if has_final(word) else pair[1])


def mask_name(name: str) -> str:
    """Mask a name as directories that hide personal data do: 홍길동 -> 홍*동, 김철 -> 김*."""
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def format_date(value: datetime, style: str) -> str:
    pattern, _ = DATE_FORMATS[style]
    if pattern is None:
        return f"{value.year}년 {value.month}월 {value.day}일"
    return value.strftime(pattern)


def manifest_date(value: datetime, style: str) -> str:
    """ISO date, with the time ('YYYY-MM-DD HH:MM') when the board shows it."""
    return value.strftime("%Y-%m-%d %H:%M" if DATE_FORMATS[style][1] else "%Y-%m-%d")


def collapse(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- staff

class Staff(NamedTuple):
    department: str
    team: str
    position: str
    name: str
    phone: str
    duties: str
    email: str


def person_name(rng: random.Random) -> str:
    surname = rng.choices(_SURNAMES, cum_weights=_SURNAME_CUM)[0]
    syllables = vocab.GIVEN_SYLLABLES
    if rng.random() < 0.03:
        return surname + rng.choice(syllables)
    return surname + rng.choice(syllables) + rng.choice(syllables)


def _duties(rng: random.Random, topics: tuple) -> str:
    count = rng.choice((1, 1, 2, 2, 2, 3))
    chosen = rng.sample(topics, min(count, len(topics)))
    return ", ".join(f"{t} {rng.choice(vocab.DUTY_SUFFIXES)}" for t in chosen)


def _split(rng: random.Random, total: int, parts: int, minimum: int) -> list[int]:
    weights = [rng.uniform(0.6, 1.4) for _ in range(parts)]
    sizes = [max(minimum, int(total * w / sum(weights))) for w in weights]
    sizes[-1] = max(minimum, sizes[-1] + total - sum(sizes))
    return sizes


class Segment(NamedTuple):
    start: int          # first row of the segment
    department: str
    team: str
    role: str           # head | leader | member


class StaffPlan(NamedTuple):
    """The shape of a directory (departments, teams, sizes): small, so rows can be made one at a time."""

    size: int
    segments: tuple[Segment, ...]
    starts: tuple[int, ...]
    fixed: dict                  # row -> duties placed on purpose (shared vocabulary, markup test)
    phone_base: int

    def segment(self, row: int) -> Segment:
        return self.segments[bisect_right(self.starts, row) - 1]

    def departments(self) -> list[tuple[str, int, int]]:
        """(department, first row, end row) in organization-chart order."""
        out: list[list] = []
        for seg in self.segments:
            if out and out[-1][0] == seg.department:
                continue
            if out:
                out[-1][2] = seg.start
            out.append([seg.department, seg.start, self.size])
        return [tuple(d) for d in out]


def staff_plan(seed: int, site) -> StaffPlan:
    rng = rng_for(seed, site.id, "plan")
    forced = [vocab.SHARED_DUTIES[key] for key in site.shared]
    forced_depts = {dept for dept, _ in forced}
    want = max(len(forced_depts) + 1, min(len(vocab.DEPARTMENTS), round(site.size / rng.uniform(9, 13))))
    others = [d[0] for d in vocab.DEPARTMENTS if d[0] not in forced_depts]
    names = sorted(forced_depts | set(rng.sample(others, want - len(forced_depts))), key=_DEPT_ORDER.__getitem__)
    segments, fixed, row = [], {}, 0
    for dept, size in zip(names, _split(rng, site.size, len(names), 4)):
        teams = _DEPT_BY_NAME[dept][2]
        teams = teams[: max(1, min(len(teams), (size - 1) // 3))]
        segments.append(Segment(row, dept, "", "head"))
        row += 1
        for number, (team, members) in enumerate(zip(teams, _split(rng, size - 1, len(teams), 2))):
            segments += [Segment(row, dept, team, "leader"), Segment(row + 1, dept, team, "member")]
            if number == 0:
                fixed.update({row + 1 + k: duty for k, (d, duty) in enumerate(d for d in forced if d[0] == dept)})
            row += members
    if site.script_row and row > 8:
        fixed[7] = SCRIPT_DUTIES
    return StaffPlan(row, tuple(segments), tuple(s.start for s in segments), fixed, rng.randrange(1000, 3000))


def staff_row(seed: int, site, plan: StaffPlan, row: int) -> Staff:
    """Row `row` of a directory, made from the seed alone (no other row is needed)."""
    seg = plan.segment(row)
    rng = random.Random(f"{seed}|{site.id}|row|{row}")
    if seg.role == "head":
        position = "담당관" if seg.department.endswith("담당관") else {"대변인": "대변인", "감사위원회": "감사위원장"}.get(seg.department, "과장")
        duties = f"{seg.department} 업무 총괄"
    elif seg.role == "leader":
        position, duties = "팀장", f"{seg.team} 업무 총괄"
    else:
        position = rng.choices(_POSITIONS, cum_weights=_POSITION_CUM)[0]
        duties = _duties(rng, _DEPT_BY_NAME[seg.department][3])
    name = person_name(rng)
    email = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 4))) + str(rng.randint(10, 999))
    phone = (plan.phone_base + 2 * row + rng.getrandbits(1)) % 10000
    return Staff(seg.department, seg.team, position, mask_name(name) if site.masked else name,
                 f"{site.phone_prefix}-{phone:04d}", plan.fixed.get(row, duties), f"{email}@{site.email_domain}")


def generate_staff(seed: int, site) -> list[Staff]:
    """Every row of a directory site in organization-chart order (heads first, then teams)."""
    plan = staff_plan(seed, site)
    return [staff_row(seed, site, plan, row) for row in range(plan.size)]


# ---------------------------------------------------------------- posts

@dataclass
class Post:
    post_id: int
    title: str
    date: datetime
    department: str
    phone: str
    paragraphs: list[str]
    attachments: list[str] = field(default_factory=list)
    pinned: bool = False

    @property
    def body(self) -> str:
        """The body as a crawler reads it: the text of the body element, whitespace collapsed."""
        return collapse(" ".join(self.paragraphs))


def _title(rng: random.Random, site, topic: str, when: datetime) -> str:
    fill = {"year": when.year, "topic": topic, "org": site.organization, "num": rng.randint(100, 999)}
    if site.board_kind == "press":
        who = site.short_name if site.org_kind != "ministry" else rng.choice(vocab.MINISTRIES)
        return f"{who}, {topic} {rng.choice(vocab.PRESS_EVENTS)}"
    forms = {"notice": vocab.NOTICE_FORMS, "announcement": vocab.ANNOUNCE_FORMS,
             "legislation": vocab.LEGISLATION_FORMS}[site.board_kind]
    return rng.choice(forms).format(**fill)


def _paragraphs(rng: random.Random, site, topic: str, dept: str, phone: str, when: datetime) -> list[str]:
    org = site.short_name if site.org_kind != "ministry" else dept
    place = rng.choice(vocab.PLACES)
    lines = [
        f"{josa(org, '은는')} {when.month}월 {when.day}일 {place}에서 {josa(topic, '을를')} 위한 "
        f"관계기관 회의를 열고 세부 추진방안을 논의했다고 밝혔다.",
        f"이번 사업은 {josa(topic, '을를')} 통해 지역 경제 활성화와 주민 삶의 질 향상을 도모하기 위해 마련됐다.",
        f"{josa(org, '은는')} 올해 총 {rng.randint(3, 480)}억 원을 투입해 {rng.randint(2, 12)}개 세부사업을 단계적으로 추진할 계획이다.",
        f"{dept} 관계자는 \"{rng.choice(vocab.QUOTES)}\"고 말했다.",
        f"자세한 사항은 {site.organization} 누리집을 참고하거나 {dept}({phone})로 문의하면 된다.",
    ]
    if site.board_kind != "press":
        start = when + timedelta(days=rng.randint(1, 5))
        end = start + timedelta(days=14)
        lines = [f"{when.year}년 {josa(topic, '과와')} 관련하여 다음과 같이 안내하오니 많은 관심과 참여 바랍니다.",
                 f"기간은 {start.month}월 {start.day}일부터 {end.month}월 {end.day}일까지이며, 방문 또는 우편으로 접수합니다.",
                 "제출서류는 붙임 서식을 참고하시기 바랍니다."] + lines[-1:]
    keep = rng.randint(3, len(lines))
    return lines[:1] + rng.sample(lines[1:], keep - 1) if keep > 1 else lines[:1]


def generate_posts(seed: int, site) -> list[Post]:
    """Posts of a board, newest first; some are pinned (공지) when the board pins rows."""
    rng = rng_for(seed, site.id, "posts")
    stamps = []
    day = ANCHOR
    for _ in range(site.size):
        stamps.append(day.replace(hour=rng.randint(9, 18), minute=rng.randrange(60)))
        day -= timedelta(days=rng.choice((0, 1, 1, 1, 2, 3)))
    stamps.sort(reverse=True)
    post_id = site.id_base + site.size * 3
    posts = []
    for when in stamps:
        topic = rng.choice(vocab.TOPICS)
        if site.org_kind == "ministry":
            dept = rng.choice(vocab.MINISTRIES)
        else:
            dept = rng.choice(vocab.DEPARTMENTS)[0]
        phone = f"{site.phone_prefix}-{rng.randrange(1000, 10000):04d}"
        title = _title(rng, site, topic, when)
        if site.org_kind == "ministry" and site.board_kind == "press":
            dept = title.split(",")[0]
        files = rng.sample(vocab.ATTACHMENT_NAMES, rng.choice((0, 1, 1, 2, 3)))
        if site.board_kind == "press" and rng.random() < 0.7:
            files.insert(0, f"{title}.hwp")
        posts.append(Post(post_id, title, when, dept, phone, _paragraphs(rng, site, topic, dept, phone, when), files))
        post_id -= rng.choice((1, 1, 1, 2, 3)) * site.id_step
    if site.pinned and len(posts) > 8:
        for index in rng.sample(range(3, min(len(posts), 40)), site.pinned):
            posts[index].pinned = True
    return posts
