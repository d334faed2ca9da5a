"""Dashboard fixtures: one seeded `trk server` subprocess for the session, one headless
Chromium per module, and a fresh browser context per test that may only talk to the server."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The server and A/B tests keep their helpers (start_server, simulate) as plain modules
# beside their conftest files; reuse them rather than keep copies.
for _folder in ("server", "ab"):
    _path = str(Path(__file__).parent.parent / _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402
from server_helpers import ServerProcess, start_server  # noqa: E402
from ui_browser import VIEWPORT, launch  # noqa: E402
from ui_seed import Seeded, seed  # noqa: E402


@dataclass
class UiServer:
    url: str
    seeded: Seeded
    process: ServerProcess


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """`trk server` on a free loopback port over a seeded sqlite file, stopped by pid."""
    root = tmp_path_factory.mktemp("ui-server")
    seeded = seed(root)
    # The seed logs its artifacts straight to root/artifacts: an explicitly allowed root.
    roots = ("--allowed-artifact-roots", str(root / "artifacts"))
    proc = start_server(seeded.backend, str(root / "proxied"), root / "server.log", *roots)
    yield UiServer(proc.url, seeded, proc)
    proc.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, ui_server: UiServer) -> Iterator[Page]:
    """A page on the server; afterwards, no request went anywhere else (no CDN, no internet)."""
    context = browser.new_context(base_url=ui_server.url, viewport=VIEWPORT)
    elsewhere: list[str] = []
    context.on(
        "request",
        lambda r: None if r.url.startswith(ui_server.url) else elsewhere.append(r.url),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not elsewhere, f"the page reached beyond the server: {elsewhere}"
    assert not errors, f"JavaScript errors: {errors}"
