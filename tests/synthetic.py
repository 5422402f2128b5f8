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


# ---------------------------------------------------------------- posts (press releases, notices)

CITIES = ("창원시", "진주시", "통영시", "김해시", "양산시", "거제시", "수원시", "성남시", "고양시", "용인시", "화성시",
          "청주시", "충주시", "천안시", "아산시", "전주시", "익산시", "목포시", "여수시", "순천시", "포항시", "경주시",
          "구미시", "안동시", "춘천시", "원주시", "강릉시", "제주시", "서귀포시", "해운대구", "수성구", "유성구")
BOARD_KINDS = (("press", 6), ("notice", 3), ("announcement", 2), ("legislation", 1))
TOPIC_TAILS = ("육성", "지원", "활성화", "확대", "강화", "조성", "개선", "혁신", "창출", "확산", "보급", "유치", "관리",
               "안전관리", "기반 조성", "종합계획", "시범사업", "공모사업", "실증사업", "특구 지정")
EVENTS = ("업무협약 체결", "공모사업 최종 선정", "성과보고회 개최", "본격 추진", "설명회 개최", "지원 대폭 확대",
          "민관 합동 점검", "국비 확보", "우수기관 선정", "시범사업 착수", "추진단 출범", "현장 간담회 개최",
          "종합계획 발표", "토론회 개최", "참여자 모집", "박람회 개최", "협의회 구성", "실태조사 실시",
          "대상자 모집", "기본계획 수립", "전담팀 신설", "평가 최우수", "예산 조기 집행", "현장점검 나서")
NOTICE_FORMS = ("{year}년 {topic} 참여자 모집 안내", "{topic} 사업 설명회 개최 안내", "{topic} 관련 의견 수렴 안내",
                "{year}년 {topic} 지원사업 신청 안내", "{topic} 교육생 모집 공고", "{topic} 유공자 포상 추천 안내",
                "{org} 고시 제{year}-{num}호 {topic} 시행계획 공고", "{year}년 {topic} 보조사업자 선정 공고",
                "{org} {topic}에 관한 조례 일부개정조례안 입법예고", "{topic} 기본계획 열람 공고")
PLACES = ("도청 대회의실", "시청 다목적홀", "본청 중회의실", "청사 소통마당", "컨벤션센터", "지역혁신센터", "창업보육센터",
          "농업기술센터", "문화예술회관", "테크노파크", "산업단지 관리공단", "읍면동 행정복지센터")
PARTNERS = ("한국전력공사", "한국토지주택공사", "중소벤처기업진흥공단", "한국관광공사", "국민건강보험공단", "한국농어촌공사",
            "지역 대학", "상공회의소", "테크노파크", "창조경제혁신센터", "신용보증재단", "사회복지협의회", "교육청", "경찰청")
GROUPS = ("청년", "소상공인", "중소기업", "어르신", "장애인", "한부모가족", "다문화가족", "농어업인", "예비창업자",
          "저소득층", "취약계층", "아동", "학부모", "관광객", "도민", "시민", "근로자", "귀농귀촌인")
QUOTES = ("이번 사업이 지역 경제에 활력을 불어넣는 계기가 되길 기대한다",
          "현장의 목소리를 반영해 실질적인 지원이 이뤄지도록 하겠다",
          "주민이 체감할 수 있는 성과를 내는 데 최선을 다하겠다",
          "관계기관과 긴밀히 협력해 차질 없이 추진하겠다",
          "앞으로도 적극적인 지원을 아끼지 않겠다",
          "지속 가능한 발전 모델을 만들어 가겠다")
LEADS = (
    "{org}{p_eun} {month}월 {day}일 {place}에서 {topic}{p_eul} 위한 관계기관 회의를 열고 세부 추진방안을 논의했다고 {said}.",
    "{org}{p_eun} {topic}{p_eul} 위해 {year}년까지 {money}억 원 규모의 사업을 추진한다고 {day}일 {said}.",
    "{org}{p_eun} {month}월 {day}일 {partner}{p_pwa} {topic} 협약을 맺고 본격적인 협력에 나선다고 {said}.",
    "{org} {dept}는 {group}의 {field} 부담을 덜기 위해 {topic} 계획을 마련했다고 {said}.",
    "{org}{p_eun} {topic} 성과를 점검하는 보고회를 {place}에서 개최했다.",
    "{group}{p_eul2} 위한 {topic} 사업이 {city}에서 첫발을 뗐다.",
    "{org}가 추진하는 {topic}{p_i} 정부 공모에 선정돼 국비 {money}억 원을 확보했다.",
)
SENTENCES = (
    "이번 사업은 {topic}{p_eul} 통해 지역 경제 활성화와 주민 삶의 질 향상을 도모하기 위해 마련됐다.",
    "{org}{p_eun} 올해 총 {money}억 원을 투입해 {count}개 세부사업을 단계적으로 추진할 계획이다.",
    "주요 내용은 {field}{action}, {field2} {action2}, {group} 맞춤형 지원 등이다.",
    "특히 {group}{p_eul2} 대상으로 {field} 분야 {action} 프로그램을 새롭게 운영한다.",
    "{partner}{p_pwa} 손잡고 {field}{action} 협력체계를 구축하기로 했다.",
    "지원 대상은 {org_short} 내 {group} {count}백여 명이며, 1인당 최대 {small}백만 원을 지원한다.",
    "신청은 {month}월 {day}일부터 {month2}월 {day2}일까지 {org_short} 누리집 또는 {place}에서 받는다.",
    "지난해에는 {group} {count}천여 명이 참여해 만족도 {pct}%를 기록했다.",
    "{dept} 관계자는 \"{quote}\"고 말했다.",
    "{person} {role}{p_role} \"{quote}\"며 {field2} 분야의 관심을 당부했다.",
    "{city}와 {city2}에서 먼저 시범 운영한 뒤 {year}년까지 전 지역으로 확대할 예정이다.",
    "이와 함께 {field2} {action2} 관련 제도 개선도 정부에 건의할 방침이다.",
    "{org_short}{p_eun2} 앞서 {year0}년 {field} 분야 정부 평가에서 우수기관으로 선정된 바 있다.",
    "행사에는 {person} {role}, {partner} 관계자 등 {count}0여 명이 참석했다.",
    "자세한 사항은 {org} 누리집을 참고하거나 {dept}({phone})로 문의하면 된다.",
    "{field}{action} 성과를 점검하고 {field2} 분야 과제 {count}건을 새로 발굴했다.",
    "{year}년 {topic} 기본계획에 따라 {field} 인프라를 확충하고 전문인력 {count}백 명을 양성한다.",
    "현장 의견을 반영해 {group} 부담을 줄이고 절차를 간소화한 것이 특징이다.",
    "{city} {place}에는 {field} 상담창구를 두고 {group}의 문의에 답한다.",
    "참가자들은 {field}{p_wa} {field2}{p_reul2} 연계한 {action} 방안에 대해 의견을 나눴다.",
    "{count}개 읍면동을 순회하며 {group} 대상 설명회도 함께 연다.",
    "{field} 분야 전문가 {count}명으로 자문단을 꾸려 사업 전 과정을 점검한다.",
    "올해 상반기 {field}{action} 실적은 목표 대비 {pct}%로 집계됐다.",
    "사업비는 국비 {small}억 원과 지방비 {money}억 원으로 마련한다.",
    "{partner}{p_eun3} 기술 자문과 현장 실습을 맡는다.",
    "{group} 가구에는 {field} 이용권을 {small}만 원씩 지급한다.",
    "{month2}월에는 {city}에서 {field} 박람회를 열어 성과를 공유할 계획이다.",
    "위원회는 {field2} 관련 조례 개정안 {count}건을 심의해 원안대로 의결했다.",
    "{org_short}{p_eun2} {field}{action} 분야에서 {count}년 연속 최우수 평가를 받았다.",
    "온라인 신청이 어려운 {group}{p_eun4} 가까운 행정복지센터를 방문하면 된다.",
    "{field} 데이터를 분석해 {group} 수요가 많은 지역부터 우선 지원한다.",
    "{year}년까지 {field2} 일자리 {count}천 개를 만드는 것이 목표다.",
    "이번 협약으로 {partner}{p_eun3} 인력과 장비를 지원하고 {org_short}{p_eun2} 행정 지원을 맡는다.",
    "{field} 시설 {count}곳을 새로 짓고 노후 시설 {small}곳은 리모델링한다.",
    "{person} {role}{p_role} 이날 {city} 현장을 찾아 {field2} 추진 상황을 살폈다.",
    "안전사고 예방을 위해 {field} 시설 {count}백여 곳을 대상으로 합동 점검을 벌인다.",
)
SAID = ("밝혔다", "전했다", "설명했다", "발표했다")
ROLES = ("도지사", "시장", "부지사", "부시장", "국장", "의장", "위원장", "센터장", "대표이사", "교수")


def _josa(word: str, pair: str) -> str:
    ch = word[-1]
    final = "가" <= ch <= "힣" and (ord(ch) - 0xAC00) % 28 != 0
    return pair[0] if final else pair[1]


def _topic(rng: random.Random) -> str:
    a = rng.choice(FIELDS_)
    if rng.random() < 0.4:
        a = f"{a}{rng.choice(FIELDS_)}" if rng.random() < 0.5 else f"{a} {rng.choice(FIELDS_)}"
    return f"{a} {rng.choice(TOPIC_TAILS)}"


def _post_body(rng: random.Random, org: str, short: str, dept: str, phone: str, topic: str, when) -> str:
    target = rng.randint(300, 800)
    order = [-1] + rng.sample(range(len(SENTENCES)), len(SENTENCES))  # the lead sentence first
    parts, length = [], 0
    for k in order:
        field, field2 = rng.sample(FIELDS_, 2)
        group = rng.choice(GROUPS)
        fill = {
            "org": org, "org_short": short, "topic": topic, "dept": dept, "phone": phone, "place": rng.choice(PLACES),
            "month": when.month, "day": when.day, "month2": 1 + (when.month + 1) % 12, "day2": rng.randint(1, 28),
            "money": rng.randint(3, 480), "count": rng.randint(2, 12), "small": rng.randint(1, 30),
            "pct": rng.randint(70, 98), "field": field, "field2": field2, "action": rng.choice(ACTIONS),
            "action2": rng.choice(ACTIONS), "group": group, "partner": rng.choice(PARTNERS), "quote": rng.choice(QUOTES),
            "city": rng.choice(CITIES), "city2": rng.choice(CITIES), "year": when.year + rng.randint(1, 4),
            "year0": when.year - rng.randint(1, 3), "person": _name(rng),
            "p_eun": _josa(org, "은는"), "p_eul": _josa(topic, "을를"), "p_eul2": _josa(group, "을를"),
            "p_eun2": _josa(short, "은는"), "p_eun3": _josa(fill_partner := rng.choice(PARTNERS), "은는"),
            "p_eun4": _josa(group, "은는"), "p_role": _josa(role := rng.choice(ROLES), "은는"),
            "p_wa": _josa(field, "과와"), "p_pwa": _josa(fill_partner, "과와"), "p_reul2": _josa(field2, "을를"), "p_i": _josa(topic, "이가"), "said": rng.choice(SAID),
        }
        fill["partner"] = fill_partner
        fill["role"] = role
        sentence = (rng.choice(LEADS) if k < 0 else SENTENCES[k]).format(**fill)
        parts.append(sentence)
        length += len(sentence) + 1
        if length >= target:
            break
    return " ".join(parts)


def post_items(n: int, *, seed: int = 11, start: int = 0, run: str = "r1", days: int = 1500) -> list[dict]:
    """`n` press-release-like posts (title ~30 characters, body 300-800) as the board crawler emits
    them; ids `{site}-{start + i}`, dates spread over `days` days before 2026-11-20 (3% undated)."""
    from datetime import datetime, timedelta, timezone

    rng = random.Random(seed * 1_000_003 + start)
    kst = timezone(timedelta(hours=9))
    anchor = datetime(2026, 11, 20, 18, 0, tzinfo=kst)
    kinds, kind_weights = zip(*BOARD_KINDS)
    weights = [5 if o[3] == "province" else 2 for o in ORGANIZATIONS]
    out = []
    for i in range(start, start + n):
        slug, org, region, org_kind, area = rng.choices(ORGANIZATIONS, weights)[0]
        kind = rng.choices(kinds, kind_weights)[0]
        site = f"{slug}-{kind}"
        when = anchor - timedelta(minutes=rng.randrange(days * 24 * 60))
        topic = _topic(rng)
        dept = f"{rng.choice(FIELDS_)}{rng.choice(SUFFIX_DEPT)}"
        phone = f"{area}-{rng.randint(200, 299)}-{rng.randint(0, 9999):04d}"
        short = org.replace("특별자치", "").replace("광역", "").replace("특별", "")
        if kind == "press":
            title = f"{short}, {topic} {rng.choice(EVENTS)}"
            if rng.random() < 0.6:
                title += f"… {rng.choice(GROUPS)} {rng.choice(ACTIONS)}"
        else:
            title = rng.choice(NOTICE_FORMS).format(year=when.year, topic=topic, org=org, num=rng.randint(100, 999))
        out.append({
            "type": "post", "id": f"{site}-{i}", "site": site, "organization": org, "region": region,
            "org_kind": org_kind, "board_kind": kind, "url": f"https://{slug}.example.kr/board/{kind}/{i}",
            "title": title, "date": None if rng.random() < 0.03 else when.isoformat(timespec="minutes"),
            "department": dept, "author": _name(rng) if rng.random() < 0.5 else "",
            "body": _post_body(rng, org, short, dept, phone, topic, when),
            "attachments": [f"{title}.hwp"] if rng.random() < 0.6 else [], "post_id": str(i),
            "run_id": f"{site}-{run}",
        })
    return out
