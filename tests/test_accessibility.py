"""axe-core (from the npm registry, installed by .ci/setup) in a real headless Chromium: no serious or critical
accessibility violation on the search, posts, status and empty pages, in light and in dark mode."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.chromium import browser_in
from tests.conftest import delete_prefix
from tests.servers import served
from tests.synthetic import staff_rows
from tests.test_browser import CRAWLED_AT
from tests.test_web import POSTS, STAFF, build_index
from web.app import make_app

AXE = Path(__file__).resolve().parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = {
    "search": "?q=" + quote("드론"),
    "search, two words": "?q=" + quote("청년 일자리"),
    "posts": "posts?q=" + quote("드론"),
    "status": "status",
    "empty start page": "",
    "no result": "?q=" + quote("없는낱말입니다"),
    "posts, no result": "posts?q=" + quote("없는낱말입니다"),
    "not found": "없는/주소",
}
SERIOUS = ("serious", "critical")


def test_axe_core_is_installed():
    assert AXE.is_file(), "run: bash .ci/setup (npm ci --prefix tests/a11y)"


@pytest.fixture(scope="module")
def site(redis_server, tmp_path_factory):
    client = redis_server.client()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    index_dir = tmp_path_factory.mktemp("a11y") / "index"
    build_index(client, prefix, index_dir, staff_rows(600, seed=5) + STAFF, POSTS, flagged=("busan",),
                ended_at=CRAWLED_AT)
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


def violations(driver) -> list[dict]:
    """axe.run on the loaded page: the violations (WCAG 2.x A and AA rules and best practices)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
           .then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify({error: String(e)})));""")
    result = json.loads(found)
    assert not isinstance(result, dict), result
    return result


def describe(items: list[dict]) -> str:
    return "\n".join(f"{v['impact']}: {v['id']}: {v['help']} ({len(v['nodes'])}×) e.g. {v['nodes'][0]['html'][:160]}"
                     for v in items)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_violation_on_any_page(site, browser, scheme):
    browser.set_script_timeout(60)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                         "value": scheme}]})
    seen, failing = [], {}
    for name, path in PAGES.items():
        browser.get(site + path)
        assert browser.execute_script("return matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
        found = violations(browser)
        seen.append(name)
        serious = [v for v in found if v["impact"] in SERIOUS]
        if serious:
            failing[name] = describe(serious)
    assert len(seen) == len(PAGES)
    assert not failing, "\n\n".join(f"[{scheme}] {name}\n{text}" for name, text in failing.items())


def test_the_check_finds_what_it_guards(site, browser):
    """The same check on a page made inaccessible (an image without alt text, grey text on grey) reports it:
    the assertion above can fail."""
    browser.set_script_timeout(60)
    browser.get(site + "?q=" + quote("드론"))
    browser.execute_script("""
        const img = document.createElement('img'); img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw='; 
        document.body.prepend(img);
        const p = document.createElement('p'); p.textContent = '잘 안 보이는 글'; p.style.color = '#999';
        p.style.background = '#aaa'; document.body.prepend(p);""")
    ids = {v["id"] for v in violations(browser) if v["impact"] in SERIOUS}
    assert {"image-alt", "color-contrast"} <= ids
