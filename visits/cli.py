"""`nugo visit …`: verify a proof, audit the ledger, manage keys, personal links and trips.

The lead mounts it with `visits.cli.add_commands(subparsers)`; `python3 -m visits.cli visit …` runs the same
commands stand-alone (tests use `main(argv)`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


class CommandError(Exception):
    """Bad input or state: one line on stderr and exit code `code`, never a traceback."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def _cluster(args):
    from conf.loader import load_cluster

    return load_cluster(getattr(args, "conf", None))


def _service(args, redis: bool = False):
    from visits.service import VisitService, visits_dir

    cluster = _cluster(args)
    client = None
    if redis:
        from conf.connection import redis_client

        client = redis_client(cluster, start=False)
    return VisitService(visits_dir(cluster), cluster.settings.get("visits") or None, client, cluster.key_prefix), cluster


def _officials(cluster):
    from notifier.subscription import load_subscriptions

    return {o.id: o for o in load_subscriptions(cluster.subscriptions_path)}


def _print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label}{'　' * (width - len(label))}  {value}")


# --- verify -----------------------------------------------------------------------

def read_proof_text(source: str, prefix: str) -> str:
    """The proof text of an argument: the text itself, '-' for stdin, a text file, or a photo/screenshot."""
    if source == "-":
        return sys.stdin.read().strip()
    if source.strip().startswith(prefix):
        return source.strip()
    path = Path(source)
    if not path.is_file():
        if len(source) > 200 or "/" not in source and "." not in source:
            return source.strip()  # not a file name: verify it as text (and say why it fails)
        raise CommandError(f"파일이 없습니다: {source}")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return _read_qr(image, prefix, path)
    except UnidentifiedImageError:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        return text


def _read_qr(image, prefix: str, path: Path) -> str:
    import zxingcpp

    results = zxingcpp.read_barcodes(image.convert("RGB"), formats=zxingcpp.BarcodeFormat.QRCode)
    texts = [r.text for r in results if r.text]
    ours = [t for t in texts if t.startswith(prefix)]
    if ours:
        if len(ours) > 1:
            print(f"사진에 요있다 QR 코드가 {len(ours)}개 있습니다: 첫 번째를 검증합니다.", file=sys.stderr)
        return ours[0]
    if texts:
        return texts[0]  # some other QR code: verification says why it is not a proof
    raise CommandError(f"사진에서 QR 코드를 찾지 못했습니다: {path}", 1)


def cmd_verify(args) -> int:
    from visits import codec
    from visits.describe import claim_rows
    from visits.errors import Rejected
    from visits.keys import KeyRing
    from visits.settings import resolve

    service = trips = None
    if args.keys:
        keyring = KeyRing.load(Path(args.keys))
        settings = resolve()
    else:
        service, _ = _service(args)
        keyring, settings, trips = service.keyring(), service.settings, service.trips
    text = read_proof_text(args.source, settings["qr_prefix"])
    try:
        verified = codec.verify(text, keyring, settings["qr_prefix"], skew_seconds=settings["clock_skew_seconds"])
    except Rejected as exc:
        print(f"믿을 수 없는 증빙입니다: {exc.reason}")
        return 1
    claim = verified.claim
    trip = trips.get(claim.trip_id) if trips is not None and claim.trip_id is not None else None
    print(f"유효한 증빙입니다: 서명이 맞습니다 (키 {verified.key.kid}, {verified.key.status}).")
    _print_rows(claim_rows(claim, verified.key, trip.name if trip and trip.official == claim.official_id else None))
    if claim.within_radius is False:
        print("주의: 보고된 위치가 출장 목적지의 허용 반경 밖입니다.")
    if service is not None and service.ledger.path.exists():
        return _check_in_ledger(service, verified)
    return 0


def _check_in_ledger(service, verified) -> int:
    """On the head PC: the proof must also be the ledger entry of its index."""
    for _, entry, _ in service.ledger.entries():
        if entry and entry.get("index") == verified.claim.ledger_index:
            if entry.get("proof_sha256") == verified.proof_hash:
                print(f"장부: {verified.claim.ledger_index}번 항목과 일치합니다.")
                return 0
            break
    print(f"믿을 수 없는 증빙입니다: 서명은 맞지만 장부의 {verified.claim.ledger_index}번 항목이 이 증빙이 아닙니다 "
          "(장부가 고쳐졌거나, 서명 키가 새어 나갔을 수 있습니다). `nugo visit audit`을 실행하세요.")
    return 1


# --- ledger ---------------------------------------------------------------------------

def cmd_audit(args) -> int:
    from visits.audit import audit
    from visits.ledger import Checkpoint

    service, _ = _service(args)
    extra = []
    for name in args.checkpoint or []:
        for line in Path(name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    extra.append(Checkpoint.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    raise CommandError(f"{name}: 체크포인트를 읽을 수 없습니다: {line[:60]}") from None
    report = audit(service.ledger, service.keyring(), service.settings["qr_prefix"], extra)
    if report.ok:
        print(f"장부 정상: 항목 {report.entries}개, 체크포인트 {report.checkpoints}개를 모두 확인했습니다.")
        return 0
    first = report.first_bad_index
    where = f" (처음 문제: {first}번 항목)" if first is not None else ""
    print(f"장부 문제 {len(report.problems)}건{where}:")
    for problem in report.problems:
        print(f"  [{problem.kind}] {problem.message}")
    return 1


def cmd_checkpoint(args) -> int:
    from visits.describe import checkpoint_text

    service, _ = _service(args)
    print(checkpoint_text(service.checkpoint(force=args.force)))
    return 0


# --- keys -------------------------------------------------------------------------------

def cmd_rotate_key(args) -> int:
    service, _ = _service(args)
    old = [k.kid for k in service.keyring().keys.values() if not k.retired and not k.revoked]
    new = service.keys.rotate(revoke_old=args.revoke_old)
    done = "폐기" if args.revoke_old else "교체"
    print(f"새 서명 키 {new.kid}를 만들었습니다." + (f" 이전 키 {', '.join(old)}는 {done}되었고 비밀 키 파일은 지웠습니다"
                                                     f"{' (공개 키는 계속 게시됩니다)' if not args.revoke_old else ''}." if old else ""))
    print("검증 페이지를 새로 배포하세요: nugo visit keys --verifier-page 파일.html")
    return 0


def cmd_keys(args) -> int:
    from visits.korean import korean_time
    from visits.verifier import verifier_page

    service, _ = _service(args)
    ring = service.keyring()
    if args.verifier_page:
        page, _ = verifier_page(ring, service.settings["qr_prefix"], service.settings["clock_skew_seconds"])
        Path(args.verifier_page).write_text(page, encoding="utf-8")
        print(f"검증 페이지를 썼습니다: {args.verifier_page} (공개 키 {len(ring.keys)}개 포함)")
        return 0
    if args.json:
        print(json.dumps(ring.to_json(), indent=1))
        return 0
    if not ring.keys:
        print("아직 서명 키가 없습니다 (첫 증빙을 발급할 때, 또는 `nugo visit rotate-key`로 만들어집니다).")
        return 0
    for key in sorted(ring.keys.values(), key=lambda k: k.created):
        extra = "".join(f", {label} {korean_time(ts, seconds=False)}" for label, ts in (("교체", key.retired), ("폐기", key.revoked)) if ts)
        print(f"{key.kid}  {key.status}  생성 {korean_time(key.created, seconds=False)}{extra}")
    return 0


# --- links and trips ----------------------------------------------------------------------

def cmd_link(args) -> int:
    service, cluster = _service(args, redis=True)
    if args.official not in _officials(cluster):
        raise CommandError(f"구독 설정에 없는 공무원입니다: {args.official}")
    token = service.state.link_token(args.official, new=args.new)
    web = cluster.settings.get("web") or {}
    base = (web.get("base_url") or f"http://{web.get('host', '127.0.0.1')}:{web.get('port', 8080)}").rstrip("/")
    print(f"{base}/visit/{token}")
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"날짜는 2024-05-01 형식이어야 합니다: {text!r}") from None


def cmd_trip(args) -> int:
    from visits.pages import trip_dates
    from visits.trips import today

    service, cluster = _service(args)
    if args.trip_action == "add":
        if args.official not in _officials(cluster):
            raise CommandError(f"구독 설정에 없는 공무원입니다: {args.official}")
        start = args.start or today()
        try:
            trip = service.trips.add(args.official, args.name, args.lat, args.lon,
                                     args.radius or service.settings["default_radius_m"], start, args.end or start)
        except ValueError as exc:
            raise CommandError(f"출장을 등록할 수 없습니다: {exc}") from None
        print(f"출장 {trip.id}번을 등록했습니다: {trip.name} ({trip_dates(trip.start, trip.end)}, 반경 {trip.radius_m} m)")
        return 0
    if args.trip_action == "remove":
        if not service.trips.remove(args.trip_id):
            raise CommandError(f"출장 {args.trip_id}번이 없습니다.", 1)
        print(f"출장 {args.trip_id}번을 지웠습니다 (이미 발급된 증빙은 그대로 유효합니다).")
        return 0
    trips = service.trips.for_official(args.official) if args.official else service.trips.all()
    if not trips:
        print("등록된 출장이 없습니다.")
    for trip in trips:
        print(f"{trip.id}  {trip.official}  {trip.name}  {trip_dates(trip.start, trip.end)}  "
              f"목적지 {trip.lat:.6f}, {trip.lon:.6f}  반경 {trip.radius_m} m")
    return 0


# --- wiring ---------------------------------------------------------------------------------

def _run(func):
    """Wrap a command: Korean one-line errors and exit codes instead of tracebacks."""
    def run(args) -> int:
        import redis

        from conf.yamlsource import ConfigError
        from visits.errors import Rejected

        try:
            return func(args)
        except CommandError as exc:
            print(f"오류: {exc}", file=sys.stderr)
            return exc.code
        except Rejected as exc:
            print(f"오류: {exc.reason}", file=sys.stderr)
            return 1
        except ConfigError as exc:
            print(f"설정 오류 {len(exc.problems)}건:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            return 2
        except redis.RedisError as exc:
            print(f"오류: Redis에 연결할 수 없습니다: {exc}", file=sys.stderr)
            return 2
        except (OSError, ValueError) as exc:
            print(f"오류: 처리할 수 없습니다: {exc}", file=sys.stderr)
            return 2
    return run


def add_commands(subparsers) -> None:
    """Register `visit …` on an argparse subparsers object (the parent parser has `--conf`)."""
    visit = subparsers.add_parser("visit", help="요있다: 출장 증빙 검증·장부 감사·키·개인 주소·출장 등록")
    sub = visit.add_subparsers(dest="visit_command", metavar="명령")
    sub.required = True

    p = sub.add_parser("verify", help="증빙 검증 (QR 사진·화면 캡처 파일, 또는 YO1:로 시작하는 글자)")
    p.add_argument("source", metavar="IMAGE_OR_TEXT", help="QR 이미지 파일, 글자 파일, 증빙 글자, 또는 - (표준 입력)")
    p.add_argument("--keys", help="공개 키 파일 (/visit/keys.json 사본): 주면 이 PC의 설정 없이 검증")
    p.set_defaults(func=_run(cmd_verify))

    p = sub.add_parser("audit", help="장부 감사: 해시 사슬·모든 증빙의 서명·체크포인트 확인")
    p.add_argument("--checkpoint", action="append", metavar="FILE",
                   help="따로 보관한 체크포인트 (메일·/visit/checkpoint 사본; 여러 번 줄 수 있음)")
    p.set_defaults(func=_run(cmd_audit))

    p = sub.add_parser("checkpoint", help="장부의 서명된 체크포인트를 만들고 출력 (운영자 메일용)")
    p.add_argument("--force", action="store_true", help="장부가 그대로여도 새로 서명")
    p.set_defaults(func=_run(cmd_checkpoint))

    p = sub.add_parser("rotate-key", help="새 서명 키로 교체 (이전 공개 키는 계속 게시되어 옛 증빙도 검증됨)")
    p.add_argument("--revoke-old", action="store_true", help="이전 키를 폐기 (키가 새어 나갔을 때: 그 키의 증빙은 더는 유효하지 않음)")
    p.set_defaults(func=_run(cmd_rotate_key))

    p = sub.add_parser("keys", help="공개 키 목록, 또는 오프라인 검증 페이지 만들기")
    p.add_argument("--json", action="store_true", help="keys.json 형식으로 출력")
    p.add_argument("--verifier-page", metavar="OUT.html", help="공개 키를 담은 오프라인 검증 페이지를 씀")
    p.set_defaults(func=_run(cmd_keys))

    p = sub.add_parser("link", help="공무원의 개인 요있다 주소 출력 (처음이면 만듦)")
    p.add_argument("official", metavar="OFFICIAL_ID", help="구독 설정의 공무원 id")
    p.add_argument("--new", action="store_true", help="새 주소로 바꿈 (이전 주소는 바로 막힘)")
    p.set_defaults(func=_run(cmd_link))

    trip = sub.add_parser("trip", help="출장 등록·목록·삭제")
    trips = trip.add_subparsers(dest="trip_action", metavar="동작")
    trips.required = True
    p = trips.add_parser("add", help="출장 등록 (목적지 좌표와 허용 반경)")
    p.add_argument("official", metavar="OFFICIAL_ID")
    p.add_argument("--name", required=True, help="출장 이름 (예: 창원시청 드론 실증 현장 점검)")
    p.add_argument("--lat", type=float, required=True, help="목적지 위도")
    p.add_argument("--lon", type=float, required=True, help="목적지 경도")
    p.add_argument("--radius", type=float, help="허용 반경(m, 기본: 설정의 default_radius_m)")
    p.add_argument("--from", dest="start", type=_date, help="시작 날짜 (기본: 오늘)")
    p.add_argument("--to", dest="end", type=_date, help="끝 날짜 (기본: 시작 날짜)")
    p.set_defaults(func=_run(cmd_trip))
    p = trips.add_parser("list", help="등록된 출장 목록")
    p.add_argument("official", metavar="OFFICIAL_ID", nargs="?")
    p.set_defaults(func=_run(cmd_trip))
    p = trips.add_parser("remove", help="출장 삭제")
    p.add_argument("trip_id", metavar="TRIP_ID", type=int)
    p.set_defaults(func=_run(cmd_trip))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nugo", description="요있다 — 출장 증빙 명령 (nugo visit …와 같음)")
    parser.add_argument("--conf", help="cluster.yaml 경로 (기본: conf/cluster.yaml 또는 NUGO_CONF)")
    parser.add_argument("-v", "--verbose", action="store_true", help="자세한 로그")
    sub = parser.add_subparsers(dest="command", metavar="명령")
    sub.required = True
    add_commands(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
