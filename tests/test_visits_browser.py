"""요있다 in a real headless Chromium: emulated position, one touch, the saved QR PNG verified by the CLI;
the standalone verifier page from file:// with the network off."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.servers import served
from tests.test_visits_support import CHANGWON, ROOT, Officials, make_service, official
from visits import base45, codec, qr
from visits.tokens import VisitState
from visits.trips import today
from visits.web import VisitApp

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.chromium import PHONE, SHOTS, browser_in, start_browser  # noqa: E402,F401
from tests.chromium import screenshot as save_screenshot  # noqa: E402
PREFIX = "YO1:"


@pytest.fixture
def browser(tmp_path):
    with browser_in(tmp_path, window="390,844", performance_log=True) as driver:
        yield driver


def wait(driver, condition, timeout: float = 20):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def screenshot(driver, name: str) -> None:
    """docs/screenshots/visit-*.png (when missing, or anew with NUGO_SCREENSHOTS=1): times differ on every run."""
    save_screenshot(driver, SHOTS / name)


def saved_file(driver, folder: Path, pattern: str, timeout: float = 20) -> Path:
    """The downloaded file, polled for until Chromium has finished writing it."""
    def done(_):
        files = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        return files[0] if files else None
    return wait(driver, done, timeout)


def cli(conf: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command line (`python3 -m visits.cli`, as `nugo visit …` will run it)."""
    return subprocess.run([sys.executable, "-m", "visits.cli", "--conf", str(conf), "visit", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def repack(text: str, edit) -> str:
    parts = list(cbor2.loads(zlib.decompress(base45.decode(text[len(PREFIX):]))).value)
    return PREFIX + base45.encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, edit(parts)))))


def flip_name(parts):
    payload = bytearray(parts[2])
    at = payload.index("김".encode())
    payload[at + 2] ^= 0x01
    return [parts[0], parts[1], bytes(payload), parts[3]]


def test_one_touch_issues_a_proof_whose_saved_png_the_cli_accepts(visit_cluster, redis_client, browser, tmp_path):
    """The issue's first 'done when': emulated position, the button, the saved PNG, `visit verify` and its refusals."""
    service = make_service(visit_cluster.data_dir, redis_client, visit_cluster.prefix)
    service.keys.rotate(now=int(time.time()) - 3600)  # the first key, made an hour ago
    trip = service.trips.add("kim-minsu", "창원시청 드론 실증 현장 점검", 35.2271, 128.6810, 300, today(),
                             today() + dt.timedelta(days=1))
    token = VisitState(redis_client, visit_cluster.prefix).link_token("kim-minsu")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with served(VisitApp(service, lambda: Officials(official()))) as root:
        browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": root, "permissions": ["geolocation"]})
        browser.execute_cdp_cmd("Emulation.setGeolocationOverride",
                                {"latitude": CHANGWON[0], "longitude": CHANGWON[1], "accuracy": 14})
        browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        browser.get(f"{root}/visit/{token}")
        assert browser.title == "요있다 · 출장 증빙"
        button = wait(browser, lambda d: d.find_element(By.ID, "go") if d.find_element(By.ID, "go").is_enabled() else None)
        assert button.text == "현재 위치로 출장 증빙"
        assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(browser, "visit-page.png")
        button.click()
        wait(browser, lambda d: "/proof/" in d.current_url and d.find_elements(By.ID, "save"))
        summary = browser.find_element(By.CSS_SELECTOR, "dl.summary").text
        assert "북위 35.227900°, 동경 128.681700°" in summary and "± 14 m" in summary
        assert "허용 반경 300 m 이내" in summary and f"{trip.id}번 창원시청 드론 실증 현장 점검" in summary
        assert browser.execute_script("return document.getElementById('qr').naturalWidth") > 100
        screenshot(browser, "visit-proof.png")
        browser.find_element(By.ID, "save").click()
        saved = saved_file(browser, downloads, "*.png")
    assert saved.name.endswith(".png")

    accepted = cli(visit_cluster.conf, "verify", str(saved))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "유효한 증빙입니다" in accepted.stdout and "김민수 주무관 (kim-minsu)" in accepted.stdout
    assert "허용 반경 300 m 이내" in accepted.stdout and "장부: 0번 항목과 일치합니다" in accepted.stdout

    import zxingcpp
    from PIL import Image

    text = zxingcpp.read_barcodes(Image.open(saved))[0].text
    kid, old_private = service.keys.signer()
    service.keys.rotate()
    refused = {
        "one byte of the claim": repack(text, flip_name),
        "another key": codec.encode(service.verify(text).claim, kid, Ed25519PrivateKey.generate(), PREFIX)[0],
        "a rotated-out key": codec.encode(service.verify(text).claim.__class__(
            **{**service.verify(text).claim.__dict__, "issued_at": int(time.time()) + 1}), kid, old_private, PREFIX)[0],
    }
    reasons = {"one byte of the claim": "서명이 맞지 않습니다", "another key": "서명이 맞지 않습니다",
               "a rotated-out key": "교체되었는데"}
    for case, bad in refused.items():
        image = tmp_path / f"{case}.png"
        image.write_bytes(qr.png(bad))
        result = cli(visit_cluster.conf, "verify", str(image))
        assert result.returncode == 1 and reasons[case] in result.stdout, (case, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    still = cli(visit_cluster.conf, "verify", str(saved))  # the original still holds under the rotated-out key
    assert still.returncode == 0 and "교체됨" in still.stdout

    open_verifier_offline(browser, visit_cluster.conf, tmp_path / "verifier.html")  # the same QR text, offline
    verdict, said = verify_in_page(browser, text)
    assert verdict == "valid" and "허용 반경 300 m 이내" in said and "교체됨" in said, said
    for case, bad in refused.items():
        verdict, said = verify_in_page(browser, bad)
        assert verdict == "invalid" and reasons[case] in said, (case, said)


def open_verifier_offline(driver, conf: Path, page: Path) -> None:
    """Write the verifier page with `nugo visit keys --verifier-page`, cut the network, open it from file://."""
    made = cli(conf, "keys", "--verifier-page", str(page))
    assert made.returncode == 0, made.stderr
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    driver.get(page.as_uri())
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")


def verify_in_page(driver, text: str) -> tuple[str, str]:
    """(valid | invalid, what the page says) for one QR text pasted into the verifier page."""
    driver.execute_script("document.getElementById('result').removeAttribute('data-result');"
                          "document.getElementById('text').value = arguments[0];", text)
    driver.find_element(By.ID, "verify").click()
    wait(driver, lambda d: d.find_element(By.ID, "result").get_attribute("data-result"))
    result = driver.find_element(By.ID, "result")
    return result.get_attribute("data-result"), result.text


def requests_sent(driver) -> list[str]:
    import json

    urls = []
    for item in driver.get_log("performance"):
        message = json.loads(item["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_verifier_page_works_offline_from_a_file(visit_cluster, redis_client, browser, tmp_path):
    """The issue's second 'done when': file://, network disabled, the same proof verifies; tampered ones do not."""
    service = make_service(visit_cluster.data_dir, redis_client, visit_cluster.prefix)
    issued = service.issue(official(), *CHANGWON, 14)
    page = tmp_path / "yoitda-verifier.html"
    open_verifier_offline(browser, visit_cluster.conf, page)
    other_key = codec.encode(issued.claim, bytes.fromhex(next(iter(service.keyring().keys))),
                             Ed25519PrivateKey.generate(), PREFIX)[0]
    cases = [(issued.text, "valid", "유효한 증빙입니다"), (repack(issued.text, flip_name), "invalid", "서명이 맞지 않습니다"),
             (other_key, "invalid", "서명이 맞지 않습니다"), (issued.text[:-3] + "AAA", "invalid", "믿을 수 없는 증빙"),
             ("HC1:NCFOXN", "invalid", "요있다 증빙이 아닙니다")]
    for text, verdict, words in cases:
        got, said = verify_in_page(browser, text)
        assert got == verdict and words in said, (text, said)
        if verdict == "valid":
            assert "김민수 주무관 (kim-minsu)" in said and "북위 35.227900°, 동경 128.681700°" in said
            assert "0번" in said and "경상남도" in said
    sent = [url for url in requests_sent(browser) if not url.startswith(("chrome://", "chrome-untrusted://"))]
    assert page.as_uri() in sent, sent  # the log saw the page load (browser internals of the new tab left out)
    assert all(url.startswith(("file://", "data:", "blob:")) for url in sent), sent
    # The page's own errors only (the new-tab page Chromium opened first may log failures of its own, offline).
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and page.name in e["message"]]
    assert not errors, errors


@pytest.fixture
def phone_page(tmp_path, redis_client, prefix):
    """The app on a free port and an official's link path."""
    service = make_service(tmp_path / "visits", redis_client, prefix)
    token = VisitState(redis_client, prefix).link_token("kim-minsu")
    with served(VisitApp(service, lambda: Officials(official()))) as root:
        yield root, f"/visit/{token}", service


def test_a_refused_location_permission_is_explained_in_korean(phone_page, browser):
    """Catches a page that hangs or fails silently when the official (or the browser) refuses the position."""
    root, path, service = phone_page
    browser.execute_cdp_cmd("Browser.setPermission", {"origin": root, "permission": {"name": "geolocation"},
                                                       "setting": "denied"})
    browser.get(root + path)
    button = wait(browser, lambda d: d.find_element(By.ID, "go") if d.find_element(By.ID, "go").is_enabled() else None)
    button.click()
    wait(browser, lambda d: "권한이 거부" in d.find_element(By.ID, "status").text)
    assert browser.find_element(By.ID, "go").is_enabled() and "/proof/" not in browser.current_url
    assert service.ledger.head()[0] == 0


def test_a_plain_http_address_tells_the_official_to_use_https(phone_page, tmp_path):
    """Browsers give no position to http:// pages other than localhost: the page must say so, not just fail."""
    root, path, _ = phone_page
    port = root.rsplit(":", 1)[1]
    driver = start_browser(tmp_path / "insecure", "--host-resolver-rules=MAP visit.test 127.0.0.1", window="390,844")
    try:
        driver.get(f"http://visit.test:{port}{path}")
        wait(driver, lambda d: "HTTPS" in d.find_element(By.ID, "status").text)
        assert driver.execute_script("return window.isSecureContext") is False
        assert not driver.find_element(By.ID, "go").is_enabled()
    finally:
        driver.quit()
