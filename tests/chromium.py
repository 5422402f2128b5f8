"""Debian's headless Chromium driven by Selenium through Debian's chromedriver (nothing downloaded)."""
from __future__ import annotations

import base64
import contextlib
import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--lang=ko-KR",
         "--hide-scrollbars")
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


def start_browser(profile: Path, *extra: str, window: str = "1280,1000", performance_log: bool = False):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + extra:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={window}")
    if performance_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@contextlib.contextmanager
def browser_in(tmp_path: Path, **kwargs):
    """A browser with its own profile under `tmp_path`, quit (and the profile removed) at the end."""
    driver = start_browser(tmp_path / "profile", **kwargs)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def screenshot(driver, path: Path) -> None:
    """Write a screenshot into docs/screenshots when missing, or anew with NUGO_SCREENSHOTS=1 (a test run does
    not change tracked files otherwise)."""
    if path.exists() and os.environ.get("NUGO_SCREENSHOTS") != "1":
        return
    png = base64.b64decode(driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
