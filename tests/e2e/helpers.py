"""What the e2e tests share beside the server fixture: polling the live instance, a headless browser page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import DagsterServer

CHROMIUM = Path("/usr/bin/chromium")


def wait_for(what: str, fn: Callable[[], Any], timeout: float, server: DagsterServer, every: float = 0.5) -> Any:
    """``fn()``'s first truthy value, polled every ``every`` seconds; TimeoutError (with the server's log) after
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f}s\n{server.log_tail()}")
        time.sleep(every)


@contextmanager
def browser_page() -> Iterator[Any]:
    """A page of Debian's Chromium driven by playwright (never a downloaded browser); skips where it is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()
