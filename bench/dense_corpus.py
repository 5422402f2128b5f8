"""The dense generated data of the first matching benchmark: random Zipf words, posts in which each
topic matches often (about 0.75 % of all topics per post). Denser than any real briefing, so no longer
benchmarked (bench/bench_match.py uses realistic subscriptions), but it exercises every query feature on
few posts: tests/test_notifier.py checks the matcher against brute force on it (bench_match.generate).
"""
from __future__ import annotations

import itertools
import random

from notifier.query import parse_query
from notifier.subscription import Subscription, Topic

REAL_WORDS = ("드론 청년 일자리 탄소중립 온실가스 수소 충전소 저출생 출산 지원 조례 관광 축제 인공지능 디지털 전환 재난 안전 "
              "예산 산업 육성 채용 교육 주택 교통 버스 도로 농업 어업 스마트 공모 사업 계획 개정 시행 설명회 모집 "
              "환경 기후 에너지 복지 노인 아동 보육 의료 병원 문화 체육 도서관 공원 하천 상수도 하수도 미세먼지").split()
REGIONS = ("서울", "부산", "경남", "경기", "전남", "중앙")
BOARD_KINDS = ("press", "notice", "announcement", "legislation")
SITES = ("seoul-press", "busan-notice", "gyeongnam-press", "gyeonggi-legislation", "jeonnam-press", "korea-kr-press")
DEPARTMENTS = ("기획조정실", "경제정책과", "청년정책관", "환경정책과", "교통정책과", "복지정책과", "재난안전과")


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """Real policy words first, then made-up 2-4 syllable words (frequent words first)."""
    words = list(dict.fromkeys(REAL_WORDS))
    seen = set(words)
    while len(words) < size:
        word = "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(rng.choice((2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Corpus:
    """Zipf-distributed words and a set of frequent two-word compounds (for phrases)."""

    def __init__(self, seed: int = 7, size: int = 20_000):
        self.rng = random.Random(seed)
        self.words = vocabulary(size, self.rng)
        # Posts: Zipf-distributed words. Queries: topical words, flatter, no very common words.
        self.cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(self.words))))
        self.query_cumulative = list(itertools.accumulate(0.0 if rank < 10 else 1.0 / (rank + 1) ** 0.6
                                                          for rank in range(len(self.words))))
        self.compounds = [(self.word(self.query_cumulative), self.word()) for _ in range(500)]

    def word(self, cumulative: list[float] | None = None) -> str:
        return self.rng.choices(self.words, cum_weights=cumulative or self.cumulative)[0]

    def chunk(self) -> str:
        """A word, a compound written as one word, or a compound with a space."""
        roll = self.rng.random()
        if roll < 0.15:
            a, b = self.rng.choice(self.compounds)
            return a + b if roll < 0.08 else f"{a} {b}"
        return self.word()

    def post(self, number: int) -> dict:
        rng = self.rng
        return {
            "type": "post", "id": f"post{number:06d}", "site": rng.choice(SITES), "organization": "테스트시",
            "region": rng.choice(REGIONS), "org_kind": "city", "board_kind": rng.choice(BOARD_KINDS),
            "url": f"https://example.go.kr/board/{number}", "title": " ".join(self.chunk() for _ in range(rng.randint(3, 7))),
            "date": None, "department": rng.choice(DEPARTMENTS), "author": "",
            "body": " ".join(self.chunk() for _ in range(rng.randint(20, 60))), "attachments": [],
            "post_id": str(number), "first_seen": f"2024-05-01T{number % 24:02d}:{number % 60:02d}:00+00:00",
        }

    def term(self) -> str:
        roll = self.rng.random()
        if roll < 0.12:
            a, b = self.rng.choice(self.compounds)
            return f'"{a} {b}"'
        return self.word(self.query_cumulative)

    def query(self) -> str:
        rng = self.rng
        parts = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            if rng.random() < 0.2:
                parts.append(" OR ".join(self.term() for _ in range(rng.randint(2, 3))))
            else:
                parts.append(self.term())
        if rng.random() < 0.3:
            parts.append("-" + self.term())
        return " ".join(parts)

    def topic(self, number: int) -> Topic:
        rng = self.rng
        while True:
            try:
                query = parse_query(self.query())
                break
            except ValueError:  # e.g. a word both required and excluded: draw again
                continue
        return Topic(f"주제{number}", query,
                     frozenset(rng.sample(SITES, 2)) if rng.random() < 0.05 else None,
                     frozenset(rng.sample(REGIONS, 2)) if rng.random() < 0.2 else None,
                     frozenset(rng.sample(BOARD_KINDS, 2)) if rng.random() < 0.1 else None)

    def subscription(self, number: int) -> Subscription:
        return Subscription(f"official-{number}", f"공무원{number}",
                            tuple(self.topic(i) for i in range(self.rng.randint(1, 3))))


def generate(posts: int, subscriptions: int, seed: int = 7) -> tuple[list[dict], list[Subscription]]:
    corpus = Corpus(seed)
    return [corpus.post(i) for i in range(posts)], [corpus.subscription(i) for i in range(subscriptions)]
