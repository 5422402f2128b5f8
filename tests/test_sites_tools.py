"""`nugo try-site` and `nugo draft-site` on every farm layout family, over real HTTP."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.draft_sites import families, measure
from conf.loader import load_site
from farm import Farm

ROOT = Path(__file__).resolve().parent.parent
FARM_SITES = ROOT / "conf" / "sites" / "farm"


@pytest.fixture(scope="module")
def farm():
    with Farm(seed=1) as running:
        yield running


def nugo(farm, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUGO_FARM_PORT": str(farm.port)}
    return subprocess.run([sys.executable, "-m", "workers.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("site_id", families(Farm(seed=1)))
def test_try_site_shows_rows_links_and_next_page_of_every_family(farm, site_id):
    farm.clear_request_log()
    proc = nugo(farm, "try-site", str(FARM_SITES / f"{site_id}.yaml"), "--pages", "2", "--interval", "0.2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "== 목록 1:" in out and "robots.txt 준수" in out and "문제 0건" in out
    site = load_site(FARM_SITES / f"{site_id}.yaml", {"FARM_PORT": str(farm.port)})
    header = "성명" if site["kind"] == "directory" else "제목"
    assert header in out
    assert "다음 페이지:" in out or "따라갈 링크" in out
    if site["kind"] == "board":
        assert "== 상세:" in out and "본문:" in out
    host = farm.site(site_id).site.host
    log = [(at, path) for h, at, _, path in farm.request_log() if h == host]
    assert log[0][1] == "/robots.txt" and 2 <= len(log) <= 4  # robots.txt, two list pages, one detail page
    gaps = [b[0] - a[0] for a, b in zip(log, log[1:])]
    assert min(gaps) >= 0.2 - 0.01  # the interval between requests, robots.txt included


def test_try_site_reports_selectors_that_match_nothing_and_obeys_robots(farm, tmp_path):
    text = (FARM_SITES / "seoul.yaml").read_text(encoding="utf-8").replace("td.phone", "td.telephone")
    broken = tmp_path / "seoul.yaml"
    broken.write_text(text, encoding="utf-8")
    proc = nugo(farm, "try-site", str(broken), "--interval", "0.05")
    assert proc.returncode == 1 and "일치 없음: list.fields.phone" in proc.stdout
    daejeon = FARM_SITES / "daejeon.yaml"
    proc = nugo(farm, "try-site", str(daejeon), "--url", farm.url("daejeon", "/admin/orgManage.do"), "--interval", "0.05")
    assert "robots.txt가 막음" in proc.stdout
    assert not [p for _, _, _, p in farm.request_log() if p.startswith("/admin/")]


@pytest.mark.parametrize("site_id", families(Farm(seed=1)))
def test_the_unedited_draft_of_every_family_reaches_the_truth(farm, site_id):
    """The measure of docs/SITES.md: draft from the start URL, crawl the draft unedited, compare each field."""
    result = measure(farm, site_id)
    assert not result["problems"], result["problems"]
    wrong = {name: counts for name, counts in result["fields"].items() if counts[0] < counts[1]}
    assert result["exact"] and not wrong, (wrong, result.get("yaml"))


def test_draft_site_writes_a_file_that_passes_check_config(farm, tmp_path):
    out = tmp_path / "sites" / "changwon-gosi.yaml"
    out.parent.mkdir()
    proc = nugo(farm, "draft-site", farm.site("changwon-gosi").base_url + farm.site("changwon-gosi").start_paths()[0],
                "-o", str(out), "--interval", "0.05")
    assert proc.returncode == 0, proc.stderr
    assert "초안을 썼습니다" in proc.stdout and "fn_egov_link_page(N) → POST pageIndex" in proc.stdout
    site = load_site(out, {})
    assert site["verified"] is False and site["kind"] == "board" and site["board_kind"] == "announcement"
    conf = tmp_path / "cluster.yaml"
    conf.write_text(f"sites_dirs: [{out.parent}]\n", encoding="utf-8")
    check = subprocess.run([sys.executable, "-m", "workers.cli", "--conf", str(conf), "check-config"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_draft_site_says_why_when_there_is_nothing_to_draft(farm, tmp_path):
    proc = nugo(farm, "draft-site", farm.url("seoul", "/robots.txt"), "-o", str(tmp_path / "x.yaml"), "--interval", "0")
    assert proc.returncode == 1 and "초안을 만들지 못했습니다" in proc.stderr and "Traceback" not in proc.stderr
