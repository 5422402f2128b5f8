"""Synthetic staff rows with realistic Korean vocabulary, for tests, the benchmark and demos."""
from __future__ import annotations

import random

# (site slug, organization, region, org_kind, area code)
ORGANIZATIONS = (
    ("seoul", "서울특별시", "서울", "province", "02"),
    ("busan", "부산광역시", "부산", "province", "051"),
    ("daegu", "대구광역시", "대구", "province", "053"),
    ("incheon", "인천광역시", "인천", "province", "032"),
    ("gwangju", "광주광역시", "광주", "province", "062"),
    ("daejeon", "대전광역시", "대전", "province", "042"),
    ("ulsan", "울산광역시", "울산", "province", "052"),
    ("sejong", "세종특별자치시", "세종", "province", "044"),
    ("gyeonggi", "경기도", "경기", "province", "031"),
    ("gangwon", "강원특별자치도", "강원", "province", "033"),
    ("chungbuk", "충청북도", "충북", "province", "043"),
    ("chungnam", "충청남도", "충남", "province", "041"),
    ("jeonbuk", "전북특별자치도", "전북", "province", "063"),
    ("jeonnam", "전라남도", "전남", "province", "061"),
    ("gyeongbuk", "경상북도", "경북", "province", "054"),
    ("gyeongnam", "경상남도", "경남", "province", "055"),
    ("jeju", "제주특별자치도", "제주", "province", "064"),
    ("changwon", "창원시", "경남", "city", "055"),
    ("gimhae", "김해시", "경남", "city", "055"),
    ("suwon", "수원시", "경기", "city", "031"),
    ("pohang", "포항시", "경북", "city", "054"),
    ("mois", "행정안전부", "중앙", "ministry", "044"),
    ("kosme", "중소벤처기업진흥공단", "중앙", "agency", "055"),
)

FIELDS_ = ("행정", "기획", "예산", "감사", "인사", "재정", "세정", "회계", "정보", "통신", "디지털", "데이터",
           "경제", "산업", "투자", "일자리", "청년", "노동", "고용", "창업", "기업", "소상공인", "전통시장",
           "농업", "축산", "해양", "수산", "산림", "환경", "기후", "탄소", "에너지", "수소", "원자력",
           "교통", "도로", "철도", "항공", "드론", "물류", "항만", "건축", "주택", "도시", "재생", "공원",
           "문화", "관광", "체육", "예술", "콘텐츠", "복지", "아동", "노인", "장애인", "여성", "가족", "보육",
           "보건", "감염병", "식품", "의약", "안전", "재난", "소방", "하천", "상수도", "하수도", "민원",
           "정산", "경관", "자치", "협력", "국제", "통상", "교육", "인구", "균형발전", "미래", "혁신", "스마트",
           "한부모", "다문화", "귀농", "어촌", "농촌", "마을", "공동체", "사회적경제", "평생학습", "청렴")
SUFFIX_DEPT = ("정책과", "지원과", "담당관", "운영과", "관리과", "진흥과", "육성과", "산업과", "기획과", "총괄과")
BUREAUS = ("기획조정실", "행정국", "경제통상국", "문화관광국", "복지여성국", "농정국", "해양수산국", "도시건축국",
           "환경산림국", "교통물류국", "재난안전실", "미래전략국", "자치행정국", "보건의료국")
TEAM_SUFFIX = ("팀", "담당", "계")
ACTIONS = ("육성", "지원", "관리", "운영", "기획", "총괄", "조정", "점검", "평가", "홍보", "정산", "심사", "추진",
           "계획수립", "사업", "협력", "교육", "조사", "개선", "발굴", "지도", "단속", "확충", "시스템운영")
EXTRAS = ("업무", "관련 업무", "및 민원처리", "사업 추진", "예산 편성", "보조금 정산", "국회·도의회 업무",
          "실태조사", "종합계획 수립", "위원회 운영", "통계 관리", "서무", "기록물 관리", "대외협력")
POSITIONS = ("주무관", "주무관", "주무관", "주무관", "주사", "주사보", "서기", "사무관", "팀장", "과장", "국장",
             "공무직", "임기제", "연구사", "지방행정주사", "실무관")
SURNAMES = ("김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진지엄채원천방공"
            "현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모남탁국어은편용예경봉사부가복태목형피두감호제")
GIVEN = "민서준지현우수영진호성훈정은하윤재도연동희경태석상혁주원승용철규광명보아나라유리소미선혜인찬빈건"


def _name(rng: random.Random) -> str:
    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
    if rng.random() < 0.05:  # some sites mask the middle syllable
        name = name[0] + "*" + name[2]
    return name


def _duty(rng: random.Random) -> str:
    a, b = rng.sample(FIELDS_, 2)
    act = rng.choice(ACTIONS)
    shape = rng.random()
    if shape < 0.35:
        core = f"{a}{b}{act}"            # compound: 드론산업육성
    elif shape < 0.6:
        core = f"{a} {b} {act}"          # spaced
    elif shape < 0.8:
        core = f"{a}{act}"
    else:
        core = f"{a}·{b} {act}"
    if rng.random() < 0.5:
        core += " " + rng.choice(EXTRAS)
    return core


def _duties(rng: random.Random) -> str:
    return ", ".join(_duty(rng) for _ in range(rng.choice((1, 1, 2, 2, 3))))


def staff_rows(n: int, *, seed: int = 7, run: str = "r1", sites=None) -> list[dict]:
    """`n` staff rows spread over the organizations; each site's rows carry run id `{site}-{run}`."""
    rng = random.Random(seed)
    orgs = list(sites or ORGANIZATIONS)
    weights = [5 if o[3] == "province" else 2 for o in orgs]
    rows = []
    depts: dict[str, list[tuple[str, str]]] = {}
    for i in range(n):
        site, org, region, kind, area = rng.choices(orgs, weights)[0]
        if site not in depts:
            depts[site] = []
            for _ in range(40):
                field = rng.choice(FIELDS_)
                dept = f"{field}{rng.choice(SUFFIX_DEPT)}"
                if rng.random() < 0.3:
                    dept = f"{rng.choice(BUREAUS)} {dept}"
                team = ""
                if rng.random() < 0.6:
                    team = f"{rng.choice(FIELDS_)}{rng.choice(ACTIONS)}{rng.choice(TEAM_SUFFIX)}"
                depts[site].append((dept, team))
        dept, team = rng.choice(depts[site])
        exchange = rng.randint(2100, 2199) if area == "02" else rng.randint(200, 299)
        phone = f"{area}-{exchange}-{rng.randint(0, 9999):04d}"
        row = {
            "type": "staff", "site": site, "organization": org, "region": region, "org_kind": kind,
            "url": f"https://{site}.example.kr/staff?page={i // 20 + 1}", "department": dept, "team": team,
            "position": rng.choice(POSITIONS), "name": _name(rng), "phone": phone, "duties": _duties(rng),
            "email": f"user{i}@{site}.go.kr" if rng.random() < 0.2 else "", "run_id": f"{site}-{run}",
        }
        row["id"] = f"{site}-{seed}-{i:07d}"
        rows.append(row)
    return rows
