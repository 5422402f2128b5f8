"""The search page in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from index.results import organization_key
from tests.synthetic import ORGANIZATIONS, staff_rows
from tests.conftest import delete_prefix
from tests.test_web import STAFF, build_index
from web.app import make_app

from selenium.webdriver.common.by import By  # noqa: E402  (installed by `bash .ci/setup`, like chromium)
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.chromium import CHROMEDRIVER, CHROMIUM, PHONE, SHOTS, browser_in, screenshot  # noqa: E402,F401
from tests.servers import served  # noqa: E402

CRAWLED_AT = 1_714_521_600  # 2024-05-01 09:00 in Seoul: a fixed date keeps the screenshots stable


def test_chromium_is_installed():
    """The README's setup installs Debian's chromium and chromium-driver; the browser test needs them."""
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), "run: bash .ci/setup"


@pytest.fixture(scope="module")
def site(redis_server, tmp_path_factory):
    """The web app over a few thousand synthetic officials and the hand-made rows, on a free local port."""
    client = redis_server.client()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    index_dir = tmp_path_factory.mktemp("browser") / "index"
    build_index(client, prefix, index_dir, staff_rows(3000, seed=5) + [r for r in STAFF if r["site"] != "suwon"],
                flagged=("busan",), ended_at=CRAWLED_AT)
    try:
        with served(make_app(index_dir=index_dir)) as url:
            yield url + "/"
    finally:
        delete_prefix(client, prefix)
        client.close()


@pytest.fixture
def browser(tmp_path):
    with browser_in(tmp_path) as driver:
        yield driver


def expected_order() -> list[str]:
    meta = {org: (org, region, kind) for _, org, region, kind, _ in ORGANIZATIONS}
    return sorted(meta, key=lambda org: organization_key(*meta[org]))


def test_typing_a_keyword_lists_grouped_results(site, browser):
    browser.get(site)
    assert browser.title == "누고 · 공무원 업무 담당자 검색"
    box = browser.find_element(By.CSS_SELECTOR, "input[name=q]")
    box.send_keys("드론")
    browser.find_element(By.CSS_SELECTOR, "form.search button").click()
    WebDriverWait(browser, 15, poll_frequency=0.05).until(
        lambda d: "q=" in d.current_url and d.find_elements(By.CSS_SELECTOR, "section.group"))
    assert browser.find_element(By.CSS_SELECTOR, "input[name=q]").get_attribute("value") == "드론"

    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "section.group h2 > span:first-child")]
    order = expected_order()
    assert len(headings) >= 3 and headings == [org for org in order if org in headings]
    rows = browser.find_elements(By.CSS_SELECTOR, "li.person")
    assert len(rows) == 20 and all("드론" in row.text for row in rows)
    assert browser.find_elements(By.CSS_SELECTOR, "li.person mark")
    assert "2024년 5월 1일 09:00 수집" in browser.find_element(By.CSS_SELECTOR, "section.group h2").text
    assert browser.find_elements(By.CSS_SELECTOR, 'li.person a[href^="tel:"]')
    assert not browser.find_elements(By.CSS_SELECTOR, "script")
    screenshot(browser, SHOTS / "search-drone.png")

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        browser.refresh()
        WebDriverWait(browser, 15, poll_frequency=0.05).until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.group"))
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways on a phone"
        screenshot(browser, SHOTS / "search-drone-mobile.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
