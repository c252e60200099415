"""Helpers the borrower page's browser tests share: a headless Chromium at phone width, waits
that say what the page said, screenshots in test-artifacts/, and an injected wallet."""

import base64
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import REPO, headless_chromium

ARTIFACTS = REPO / "test-artifacts"
PHONE = (390, 844)  # CSS pixels of a common phone screen
STATUSES = ("key-status", "consent-status", "trail-status", "report-status", "boot")


@contextlib.contextmanager
def phone_browser(tmp_path: Path) -> Iterator[tuple[WebDriver, Path]]:
    """Headless Chromium at phone width with its own profile and downloads folder."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = headless_chromium(tmp_path / "profile", PHONE, downloads=downloads)
    try:
        yield driver, downloads
    finally:
        driver.quit()


def until(driver: WebDriver, what: str, predicate: Any, timeout: float = 60) -> Any:
    """Wait for the page; on timeout, say what was awaited and what the page said."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: predicate(d))
    except Exception:
        statuses = {i: el.text for i in STATUSES for el in driver.find_elements(By.ID, i)}
        logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
        raise AssertionError(f"waited for {what}; page says {statuses}; console {logs}") from None


def text(driver: WebDriver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def shown(driver: WebDriver, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).is_displayed()


def screenshot(driver: WebDriver, element_id: str, name: str) -> Path:
    """The whole element, however far it runs below the window, as a PNG in test-artifacts/."""
    x, y, width, height = driver.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return [r.x + scrollX, r.y + scrollY, r.width, r.height]", element_id)  # fmt: skip
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": x, "y": y, "width": width, "height": height, "scale": 1}})  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def wider_than_screen(driver: WebDriver) -> list[str]:
    """The elements that run off the side of the window (none, on a page usable at phone
    width)."""
    return driver.execute_script(
        "const w = document.documentElement.clientWidth;"
        "return [...document.querySelectorAll('body *')].filter(e => e.getClientRects().length"
        " && e.getBoundingClientRect().right > w + 1).map(e => e.id || e.className || e.tagName)"
    )


INJECTED = """
window.__signed = [];
window.__refuseNext = true;
window.ethereum = {
  async request({ method, params }) {
    const { Wallet } = await import("/borrower/vendor/ethers.min.js");
    const wallet = new Wallet("%s");
    if (method === "eth_requestAccounts") return [wallet.address.toLowerCase()];
    if (method !== "eth_signTypedData_v4") throw Object.assign(new Error(method), { code: 4200 });
    if (window.__refuseNext) {
      window.__refuseNext = false;
      throw Object.assign(new Error("User rejected the request."), { code: 4001 });
    }
    const typed = JSON.parse(params[1]);
    window.__signed.push({ address: params[0], typed });
    const types = { ...typed.types };
    delete types.EIP712Domain;
    return wallet.signTypedData(typed.domain, types, typed.message);
  },
};
"""
