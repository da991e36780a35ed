"""The browser tier (issue 10): Debian's headless Chromium driven by Selenium against the session's embedded stack
(tests/conftest.py `stack`), which serves the web page at `web_url`.

Chromium and its driver come from Debian (`chromium`, `chromium-driver`), installed by `.ci/install-system-packages`
as `make test` sets itself up: a missing driver fails these tests loudly instead of skipping them. Selenium is given
the driver's and the browser's paths, so Selenium Manager never tries to download either (CI reaches package
registries only). Screenshots go to build/screenshots/ (git-ignored; CI keeps them as artifacts).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
WINDOW = (1366, 768)


def _driver(tmp: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver") or CHROMEDRIVER
    browser_path = shutil.which("chromium") or CHROMIUM
    if not Path(driver_path).exists() or not Path(browser_path).exists():
        pytest.fail("Chromium or chromedriver is missing: run .ci/install-system-packages "
                    "(Debian packages chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for arg in ("--headless=new", "--no-sandbox", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--disable-gpu",
                "--disable-dev-shm-usage", "--lang=vi-VN", "--no-first-run", f"--user-data-dir={tmp}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = _driver(tmp_path_factory.mktemp("chromium"))
    driver.set_window_size(*WINDOW)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str, *, full_page: bool = False) -> Path:
    """build/screenshots/<name>.png; `full_page`: the whole page at the window's width (for docs/images)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if full_page:
        width = driver.get_window_size()["width"]
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(width, min(max(height + 120, WINDOW[1]), 2400))
        driver.save_screenshot(str(path))
        driver.set_window_size(*WINDOW)
    else:
        driver.save_screenshot(str(path))
    return path


def page_errors(driver: Any) -> list[str]:
    """The browser console's errors since the last call (a failed script, a CSP refusal, an uncaught promise)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """A failed browser test leaves a screenshot of the page as it was: build/screenshots/FAILED-<test>.png."""
    report = yield
    driver = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if report.failed and driver is not None:
        try:
            screenshot(driver, f"FAILED-{item.name}")
            (SCREENSHOTS / f"FAILED-{item.name}.txt").write_text(
                driver.find_element("tag name", "body").text, encoding="utf-8")
        except Exception:  # noqa: S110 (a screenshot must never hide the failure itself)
            pass
    return report
