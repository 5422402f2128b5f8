"""`nugo visit …` through visits.cli.main and as a real process: Korean output, exit codes, no tracebacks."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.test_visits_support import CHANGWON, ROOT, make_service, official
from visits.cli import main
from visits.tokens import VisitState


def run(capsys, conf, *args: str) -> tuple[int, str, str]:
    code = main(["--conf", str(conf), "visit", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def issued(visit_cluster, redis_client):
    """A cluster data dir with five proofs in its ledger and one checkpoint."""
    service = make_service(visit_cluster.data_dir, redis_client, visit_cluster.prefix)
    for i in range(5):
        service.issue(official(), CHANGWON[0] + i * 0.00001, CHANGWON[1], 10)
    service.checkpoint()
    return service


def test_verify_accepts_text_and_a_text_file(capsys, visit_cluster, issued, tmp_path):
    """The auditor's two plain inputs; on the head PC the proof is also matched to its ledger entry."""
    text = issued.state.recent("kim-minsu", 1)[0][1]
    code, out, _ = run(capsys, visit_cluster.conf, "verify", text)
    assert code == 0 and "유효한 증빙입니다" in out and "장부: 4번 항목과 일치합니다" in out
    saved = tmp_path / "proof.txt"
    saved.write_text(text + "\n")
    assert run(capsys, visit_cluster.conf, "verify", str(saved))[0] == 0


def test_verify_with_an_auditors_copy_of_the_keys_needs_no_cluster(capsys, visit_cluster, issued, tmp_path):
    """Catches a verify that needs the head PC (its config, data dir or Redis) when given a keys.json copy."""
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(issued.keyring().to_json()))
    text = issued.state.recent("kim-minsu", 1)[0][1]
    code = main(["--conf", str(tmp_path / "missing.yaml"), "visit", "verify", "--keys", str(keys), text])
    out = capsys.readouterr().out
    assert code == 0 and "유효한 증빙입니다" in out and "장부:" not in out


def test_a_proof_missing_from_the_ledger_is_not_accepted_on_the_head_pc(capsys, visit_cluster, issued):
    """A validly signed proof that is not its ledger entry (a stolen key's backdated proof) is flagged."""
    text = issued.state.recent("kim-minsu", 1)[0][1]
    lines = issued.ledger.path.read_text().splitlines()
    issued.ledger.path.write_text("\n".join(lines[:4]) + "\n")
    code, out, _ = run(capsys, visit_cluster.conf, "verify", text)
    assert code == 1 and "장부의 4번 항목이 이 증빙이 아닙니다" in out


def test_verify_explains_bad_input_without_a_traceback(capsys, visit_cluster, issued, tmp_path):
    """Catches tracebacks or exit 0 for a foreign QR text, a missing file, or a photo with no QR code."""
    code, out, _ = run(capsys, visit_cluster.conf, "verify", "HC1:NCFOXN")
    assert code == 1 and "요있다 증빙이 아닙니다" in out
    code, _, err = run(capsys, visit_cluster.conf, "verify", str(tmp_path / "nope.png"))
    assert code == 2 and err.startswith("오류: 파일이 없습니다")
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), "white").save(blank)
    code, _, err = run(capsys, visit_cluster.conf, "verify", str(blank))
    assert code == 1 and "QR 코드를 찾지 못했습니다" in err


def test_audit_passes_then_names_deleted_edited_and_reordered_entries(capsys, visit_cluster, issued):
    """The issue's third 'done when', through the command."""
    code, out, _ = run(capsys, visit_cluster.conf, "audit")
    assert code == 0 and "장부 정상: 항목 5개, 체크포인트 1개" in out
    lines = issued.ledger.path.read_text().splitlines()

    def audit_after(new_lines) -> str:
        issued.ledger.path.write_text("\n".join(new_lines) + "\n")
        code, out, _ = run(capsys, visit_cluster.conf, "audit")
        assert code == 1
        return out

    deleted = audit_after(lines[:1] + lines[2:])
    assert "(처음 문제: 1번 항목)" in deleted and "1번 항목이 삭제" in deleted
    edited = json.loads(lines[3])
    edited["time"] += 1
    assert "3번 항목의 내용이 바뀌었습니다" in audit_after(lines[:3] + [json.dumps(edited)] + lines[4:])
    assert "순서가 바뀌었습니다" in audit_after([lines[0], lines[2], lines[1]] + lines[3:])
    assert "끝의 4번 항목이 삭제" in audit_after(lines[:4])


def test_checkpoint_for_the_mail_is_accepted_by_audit(capsys, visit_cluster, issued, tmp_path):
    """Catches a mail checkpoint that audit cannot read back, or an audit that ignores kept checkpoints."""
    code, out, _ = run(capsys, visit_cluster.conf, "checkpoint", "--force")
    assert code == 0 and "요있다 장부 체크포인트: 항목 5개" in out
    mail = tmp_path / "mail.txt"
    mail.write_text(out)
    issued.ledger.checkpoints_path.unlink()
    lines = issued.ledger.path.read_text().splitlines()
    issued.ledger.path.write_text("\n".join(lines[:3]) + "\n")
    code, out, _ = run(capsys, visit_cluster.conf, "audit", "--checkpoint", str(mail))
    assert code == 1 and "3번부터 4번까지의 항목이 삭제" in out


def test_rotate_key_and_keys(capsys, visit_cluster, issued, tmp_path):
    """Catches a rotation that breaks old proofs or the audit, or that leaves the old private key on disk."""
    old = next(iter(issued.keyring().keys))
    code, out, _ = run(capsys, visit_cluster.conf, "rotate-key")
    assert code == 0 and "새 서명 키" in out and old in out
    code, out, _ = run(capsys, visit_cluster.conf, "keys")
    assert code == 0 and f"{old}  교체됨" in out and "사용 중" in out
    code, out, _ = run(capsys, visit_cluster.conf, "keys", "--json")
    assert len(json.loads(out)["keys"]) == 2
    text = issued.state.recent("kim-minsu", 1)[0][1]
    assert run(capsys, visit_cluster.conf, "verify", text)[0] == 0  # old proofs still verify
    code, out, _ = run(capsys, visit_cluster.conf, "audit")
    assert code == 0, out
    private = list((visit_cluster.data_dir / "keys").iterdir())
    assert len(private) == 1 and old not in private[0].name


def test_link_prints_the_personal_url(capsys, visit_cluster, redis_client):
    """Catches an unstable link, a `--new` that leaves the old link working, or links for unknown officials."""
    code, out, _ = run(capsys, visit_cluster.conf, "link", "kim-minsu")
    url = out.strip()
    assert code == 0 and url.startswith("https://visit.example.go.kr/visit/")
    token = url.rsplit("/", 1)[1]
    assert VisitState(redis_client, visit_cluster.prefix).official_for(token) == "kim-minsu"
    assert run(capsys, visit_cluster.conf, "link", "kim-minsu")[1].strip() == url  # stable
    new = run(capsys, visit_cluster.conf, "link", "kim-minsu", "--new")[1].strip()
    assert new != url and VisitState(redis_client, visit_cluster.prefix).official_for(token) is None
    code, _, err = run(capsys, visit_cluster.conf, "link", "nobody")
    assert code == 2 and "구독 설정에 없는 공무원" in err


def test_trip_add_list_remove(capsys, visit_cluster):
    """Catches impossible trips (latitude 95) being registered, and remove reporting success twice."""
    code, out, _ = run(capsys, visit_cluster.conf, "trip", "add", "kim-minsu", "--name", "창원 드론 실증 점검",
                       "--lat", "35.2271", "--lon", "128.681", "--radius", "300", "--from", "2026-05-01", "--to", "2026-05-02")
    assert code == 0 and "출장 1번을 등록했습니다" in out
    code, out, _ = run(capsys, visit_cluster.conf, "trip", "list", "kim-minsu")
    assert "창원 드론 실증 점검" in out and "반경 300 m" in out
    code, _, err = run(capsys, visit_cluster.conf, "trip", "add", "kim-minsu", "--name", "x", "--lat", "95", "--lon", "1")
    assert code == 2 and "출장을 등록할 수 없습니다" in err
    assert run(capsys, visit_cluster.conf, "trip", "remove", "1")[0] == 0
    assert run(capsys, visit_cluster.conf, "trip", "remove", "1")[0] == 1


def test_the_command_runs_as_a_process_and_fails_in_one_line(visit_cluster):
    """No traceback for a missing Redis: one Korean line and a non-zero exit."""
    conf = visit_cluster.conf.parent / "broken.yaml"
    conf.write_text(visit_cluster.conf.read_text().replace(visit_cluster.redis_url, "redis://127.0.0.1:1/0"))
    result = subprocess.run([sys.executable, "-m", "visits.cli", "--conf", str(conf), "visit", "link", "kim-minsu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("오류: Redis에 연결할 수 없습니다") and len(result.stderr.strip().splitlines()) == 1
