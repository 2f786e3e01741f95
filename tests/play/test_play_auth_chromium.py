"""play-auth's consent click in real headless Chromium (Debian packages)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from devkit.play.auth import AuthOptions, authorize

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium "
    "chromium-driver; .ci/run installs them)",
)


class ChromiumBrowser:
    """A webbrowser-style opener: headless Chromium opens the URL and clicks Allow."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.final_url = ""
        self.final_text = ""
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __call__(self, url: str) -> bool:
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()
        return True

    def wait(self) -> None:
        assert self._thread is not None
        self._thread.join(60)
        if self.error is not None:
            raise self.error

    def _run(self, url: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM  # selenium-manager never downloads
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={self.profile}",
        ):
            options.add_argument(flag)
        try:
            driver = webdriver.Chrome(
                service=Service(executable_path=CHROMEDRIVER), options=options
            )
            try:
                driver.set_page_load_timeout(30)
                driver.get(url)
                driver.find_element(By.ID, "allow").click()
                WebDriverWait(driver, 30).until(
                    ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "close")
                )
                self.final_url = driver.current_url
                self.final_text = driver.find_element(By.TAG_NAME, "body").text
            finally:
                driver.quit()
        except BaseException as exc:  # noqa: BLE001 - reported by wait()
            self.error = exc


def test_consent_in_real_headless_chromium(fake, desktop_client, tmp_path):
    pytest.importorskip("selenium", reason="selenium is in the dev extra")
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists()
    _, client_file = desktop_client
    browser = ChromiumBrowser(tmp_path / "profile")
    result = authorize(
        AuthOptions(client_secrets=client_file, output=tmp_path / "c.json", timeout=60),
        opener=browser,
    )
    browser.wait()
    assert (
        json.loads(result.path.read_text())["refresh_token"]
        == (fake.issued_refresh_tokens[-1])
    )
    assert browser.final_url.startswith(result.redirect_uri)
    assert "devkit received the authorization" in browser.final_text
    assert "You can close this window" in browser.final_text
