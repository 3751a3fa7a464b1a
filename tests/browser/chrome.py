"""Debian's headless Chromium under Selenium, offline (Selenium Manager never downloads a
browser or driver), and a small page object for the web inbox. Waits are WebDriverWait on DOM
conditions, never sleeps."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.available import CHROMEDRIVER, CHROMIUM

ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-US",
)
WIDE = (1280, 800)
NARROW = (390, 844)


class Chromium:
    """One headless Chromium with its own profile and download directory."""

    def __init__(self) -> None:
        os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: never fetch anything
        self.home = Path(tempfile.mkdtemp(prefix="elektromail-chromium-"))
        self.downloads = self.home / "downloads"
        self.downloads.mkdir()
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in ARGS:
            options.add_argument(arg)
        options.add_argument(f"--user-data-dir={self.home / 'profile'}")
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(self.downloads),
                "download.prompt_for_download": False,
            },
        )
        self.driver: WebDriver = webdriver.Chrome(
            options=options, service=Service(str(CHROMEDRIVER))
        )
        self.resize(*WIDE)

    def resize(self, width: int, height: int) -> None:
        """The viewport (not the window) exactly `width` x `height` CSS pixels."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def downloaded(self, name: str, timeout: float = 10) -> bytes:
        """The bytes of the finished download `name`."""
        target = self.downloads / name
        WebDriverWait(self.driver, timeout).until(lambda _: target.exists())
        return target.read_bytes()


class Inbox:
    """The web inbox at `base_url`, driven through `driver`."""

    def __init__(self, driver: WebDriver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    # --- waiting ---

    def wait(self, condition: Callable[[], Any], timeout: float = 10, message: str = "") -> Any:
        def check(_driver):
            try:
                return condition()
            except StaleElementReferenceException:  # the list was drawn again meanwhile
                return False

        return WebDriverWait(self.driver, timeout).until(check, message)

    def press(self, *keys: str) -> None:
        """Type `keys` into whatever has the focus (no element reference to go stale)."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    # --- the page ---

    def open(self, query: str = "", live: bool = True) -> Inbox:
        self.driver.get(f"{self.base_url}/{query}")
        self.wait(lambda: self.js("return document.documentElement.dataset.ready") == "true")
        if live:
            self.wait(lambda: self.live_state() == "live", message="the event stream")
        return self

    def live_state(self) -> str:
        return self.el("live").get_attribute("data-state")

    def el(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def css(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def subjects(self) -> list[str]:
        return self.js(
            "return [...document.querySelectorAll('#messages .row .subject')]"
            ".map((e) => e.textContent)"
        )

    def wait_subjects(self, expected: list[str], timeout: float = 10) -> None:
        self.wait(
            lambda: self.subjects() == expected,
            timeout,
            f"subjects {expected}",
        )

    def row(self, subject: str) -> WebElement:
        for row in self.css("#messages .row"):
            if row.find_element(By.CSS_SELECTOR, ".subject").text == subject:
                return row
        raise AssertionError(f"no row {subject!r} in {self.subjects()}")

    def range_text(self) -> str:
        return self.el("range").text

    def open_message(self, subject: str) -> None:
        self.row(subject).click()
        self.wait_view(subject)

    def wait_view(self, subject: str) -> None:
        self.wait(
            lambda: self.el("view").is_displayed() and self.el("view-subject").text == subject,
            message=f"the view of {subject!r}",
        )

    def view_open(self) -> bool:
        return self.el("view").is_displayed()

    def tab(self, name: str) -> WebElement:
        return self.el(f"tab-{name}")

    def select_tab(self, name: str) -> WebElement:
        self.tab(name).click()
        panel = self.el(f"panel-{name}")
        self.wait(panel.is_displayed)
        return panel

    # --- dialogs ---

    def dialog_open(self, dialog_id: str) -> bool:
        return self.el(dialog_id).get_attribute("open") is not None

    def answer_confirm(self, ok: bool) -> None:
        self.wait(lambda: self.dialog_open("confirm-dialog"), message="the confirmation")
        self.el("confirm-ok" if ok else "confirm-cancel").click()
        self.wait(lambda: not self.dialog_open("confirm-dialog"))

    def toast(self) -> str:
        return self.el("toast").text
