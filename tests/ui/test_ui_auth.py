"""With a token (TRK_AUTH_TOKEN), the dashboard sits behind the same bearer token as the API."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from server_helpers import ServerProcess, start_server
from ui_browser import VIEWPORT, charts, shot

TOKEN = "s3cret-dashboard-token"


@pytest.fixture(scope="module")
def auth_server(ui_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second server on the seeded store, with a token."""
    root = tmp_path_factory.mktemp("ui-auth")
    seeded_artifacts = (
        Path(ui_server.seeded.backend.removeprefix("sqlite:///")).parent / "artifacts"
    )
    server = start_server(
        ui_server.seeded.backend,
        str(root / "proxied"),
        root / "server.log",
        "--allowed-artifact-roots",
        str(seeded_artifacts),
        env={"TRK_AUTH_TOKEN": TOKEN},
    )
    yield server
    server.kill(signal.SIGTERM)


def test_pages_load_with_the_token(
    browser: Browser, auth_server: ServerProcess, ui_server, tmp_path: Path
) -> None:
    context = browser.new_context(
        base_url=auth_server.url,
        viewport=VIEWPORT,
        extra_http_headers={"Authorization": f"Bearer {TOKEN}"},
    )
    try:
        page = context.new_page()
        assert page.goto("/").status == 200
        assert page.get_by_role("link", name="training <&>").is_visible()
        page.goto(f"/runs/{ui_server.seeded.run_ids['forest']}")
        assert [c["points"] for c in charts(page)] == [[10], [10]]  # static files got through
        shot(page, tmp_path / "run-with-token.png")
    finally:
        context.close()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_pages_refused_without_the_right_token(
    browser: Browser, auth_server: ServerProcess, headers: dict[str, str]
) -> None:
    context = browser.new_context(base_url=auth_server.url, extra_http_headers=headers)
    try:
        page = context.new_page()
        for path in ("/", "/models", "/static/uPlot.iife.min.js"):
            response = page.goto(path)
            assert response is not None and response.status == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
    finally:
        context.close()
