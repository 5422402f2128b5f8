"""A verified claim in Korean, as (label, value) rows: for the phone page, the CLI and the docs."""
from __future__ import annotations

from visits.claim import Claim
from visits.keys import PublicKey
from visits.korean import coordinates, korean_time, metres


def claim_rows(claim: Claim, key: PublicKey | None = None, trip_name: str | None = None) -> list[tuple[str, str]]:
    who = claim.name + (f" ({claim.official_id})" if claim.official_id else "")
    rows = [("공무원", who), ("소속", claim.organization or "(기록 없음)"),
            ("시각", korean_time(claim.issued_at) + " (서버 시각, 한국 표준시)"),
            ("위치", coordinates(claim.lat, claim.lon)), ("정확도", f"± {metres(claim.accuracy_m)} (휴대전화가 알려 온 값)")]
    if claim.trip_id is not None:
        rows.append(("출장", f"{claim.trip_id}번" + (f" {trip_name}" if trip_name else "")))
        if claim.destination is not None:
            rows.append(("목적지", coordinates(*claim.destination)))
            distance = claim.distance_m
            verdict = ""
            if claim.radius_m is not None:
                inside = "이내" if claim.within_radius else "밖"
                verdict = f" — 허용 반경 {metres(claim.radius_m)} {inside}"
            rows.append(("목적지까지", f"{metres(distance)}{verdict}"))
    else:
        rows.append(("출장", "지정 안 함"))
    rows.append(("장부 번호", f"{claim.ledger_index}번"))
    if key is not None:
        rows.append(("서명 키", f"{key.kid} ({key.status}, {korean_time(key.created, seconds=False)} 생성)"))
    return rows


def checkpoint_text(checkpoint) -> str:
    """The checkpoint as the lines of the operators' daily mail (keep it: `nugo visit audit --checkpoint`)."""
    import json

    from visits.korean import korean_time

    return (f"요있다 장부 체크포인트: 항목 {checkpoint.size}개, 머리 해시 {checkpoint.head}\n"
            f"서명 시각 {korean_time(checkpoint.time)}, 키 {checkpoint.kid}\n"
            "이 줄을 보관해 두면 나중에 장부가 고쳐졌는지 `nugo visit audit --checkpoint 파일`로 확인할 수 있습니다:\n"
            + json.dumps(checkpoint.to_json(), separators=(",", ":")))
