"""The official's personal page (issue 14), driven in headless Chromium against the real web service:
add a topic, see it in the YAML file and its next post in the feed; a broken edit refused; tokens rotated."""
from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conf.embedded_redis import free_port
from farm import Farm
from notifier.tokens import ensure_tokens, token_for
from tests.crawlkit import CrawlKit
from tests.servers import web_server
from tests.chromium import SHOTS, browser_in, screenshot
from workers.indexer import run_indexer

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
KIM = """# 김민수 주무관의 구독 (개인 페이지에서 고칠 수 있습니다)
name: 김민수 주무관
email: kim@example.go.kr
topics:
  # 드론 산업 담당
  - name: 드론
    query: 드론 -채용
"""


def status_of(url: str, data: bytes | None = None, headers: dict | None = None) -> int:
    try:
        return urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def browser(tmp_path):
    with browser_in(tmp_path, window="1100,1400") as driver:
        yield driver


def test_an_official_adds_a_topic_and_its_next_post_reaches_the_feed(private_redis, tmp_path, browser):
    officials = tmp_path / "officials"
    officials.mkdir()
    (officials / "kim.yaml").write_text(KIM, encoding="utf-8")
    port = free_port()
    with Farm(seed=1) as farm:
        kit = CrawlKit(tmp_path, farm, private_redis,
                       extra=f"subscriptions: {officials}\nweb: {{host: 127.0.0.1, port: {port}}}\n")
        kit.start_workers(1)
        env = {"NUGO_REDIS_URL": private_redis.url, "NUGO_FARM_PORT": str(farm.port)}
        try:
            kit.seed(["gyeongnam-press"])
            kit.wait()
            run_indexer(kit.cluster, once=True, client=kit.client)  # the board's baseline
            me = ensure_tokens(kit.client, "nugo", ["kim"], kind="me")["kim"]
            feed = ensure_tokens(kit.client, "nugo", ["kim"])["kim"]
            with web_server(kit.conf, env, workers=1, port=None) as (_, url, _):
                assert url == f"http://127.0.0.1:{port}/"
                assert status_of(f"{url}me/{feed}") == 404  # the feed token opens no personal page
                browser.get(f"{url}me/{me}")
                assert "김민수 주무관님의 어딨노" in browser.title
                form = browser.find_element(By.ID, "add-form")
                form.find_element(By.NAME, "name").clear()
                form.find_element(By.NAME, "name").send_keys("수소 충전")
                form.find_element(By.NAME, "query").send_keys("수소 충전소 -폐쇄")
                form.find_element(By.CSS_SELECTOR, "input[name=regions][value='경남']").click()
                form.find_element(By.CSS_SELECTOR, "button[value=add]").click()
                WebDriverWait(browser, 15).until(lambda d: "주제를 추가했습니다" in d.page_source)
                text = (officials / "kim.yaml").read_text(encoding="utf-8")
                assert "# 드론 산업 담당" in text and "# 김민수 주무관의 구독" in text  # comments kept
                assert "name: 수소 충전" in text and "query: 수소 충전소 -폐쇄" in text and "regions: [경남]" in text
                screenshot(browser, SHOTS / "personal-page.png")

                # a broken edit is refused in Korean; the file and the old topics stay
                form = browser.find_element(By.ID, "add-form")
                form.find_element(By.NAME, "name").clear()
                form.find_element(By.NAME, "name").send_keys("깨진 주제")
                query = form.find_element(By.NAME, "query")
                query.clear()
                query.send_keys('"수소')
                form.find_element(By.CSS_SELECTOR, "button[value=add]").click()
                WebDriverWait(browser, 15).until(lambda d: "저장하지 않았습니다" in d.page_source)
                assert "unbalanced quote" in browser.page_source
                assert (officials / "kim.yaml").read_text(encoding="utf-8") == text

                # the next matching post reaches the feed (the topic began when the file was written)
                farm.publish("gyeongnam-press", title="경남 수소 충전소 확충", body="도내 수소 충전소를 늘린다.")
                farm.publish("gyeongnam-press", title="드론 실증 특구 지정", body="드론 산업을 키운다.")
                kit.runs.clear()
                kit.seed(["gyeongnam-press"])
                kit.wait()
                run_indexer(kit.cluster, once=True, client=kit.client)
                body = urllib.request.urlopen(f"{url}feeds/{feed}.rss", timeout=10).read().decode()
                assert "경남 수소 충전소 확충" in body and "드론 실증 특구 지정" in body
                topic_feed = urllib.request.urlopen(
                    f"{url}feeds/{feed}/{urllib.parse.quote('수소 충전')}.rss", timeout=10).read().decode()
                assert "경남 수소 충전소 확충" in topic_feed and "드론 실증" not in topic_feed

                # cross-site POSTs are refused (no Origin of this site, or no form token)
                assert status_of(f"{url}me/{me}", b"action=rotate-feed&form=x",
                                 {"Origin": "http://evil.example"}) == 403
                assert status_of(f"{url}me/{me}", b"action=rotate-feed&form=1.abc", {"Origin": url.rstrip("/")}) == 403

                # rotating the feed token: the old feed URL 404s, the new one works
                browser.get(f"{url}me/{me}")
                browser.find_element(By.CSS_SELECTOR, "button[value=rotate-feed]").click()
                WebDriverWait(browser, 15).until(lambda d: "피드 주소를 바꿨습니다" in d.page_source)
                new_feed = token_for(kit.client, "nugo", "kim")
                assert new_feed != feed and new_feed in browser.page_source
                assert status_of(f"{url}feeds/{feed}.rss") == 404 and status_of(f"{url}feeds/{new_feed}.rss") == 200
                # and the management token: the old page 404s, the browser is on the new one
                browser.find_element(By.CSS_SELECTOR, "button[value=rotate-me]").click()
                WebDriverWait(browser, 15).until(lambda d: "이 페이지의 주소를 바꿨습니다" in d.page_source)
                new_me = token_for(kit.client, "nugo", "kim", kind="me")
                assert new_me != me and browser.current_url.startswith(f"{url}me/{new_me}")
                assert status_of(f"{url}me/{me}") == 404 and status_of(f"{url}me/{new_me}") == 200
                opml = urllib.request.urlopen(f"{url}me/{new_me}/opml", timeout=10).read().decode()
                assert opml.count("<outline") == 3 and new_feed in opml
        finally:
            kit.stop_workers()
