"""Regenerate the dashboard pictures in docs/img from a seeded `trk server`.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]     # default: docs/img

Seeds a throwaway sqlite store the way the dashboard tests do (tests/ui/ui_seed.py), starts
`trk server` on a free loopback port, and saves runs-table.png and ab-page.png with headless
/usr/bin/chromium (tests/ui/ui_browser.py: the test suite runs the same function).
"""

from __future__ import annotations

import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The test helpers are plain modules; the pictures show exactly the data the tests check.
for folder in ("tests", "tests/ui", "tests/server", "tests/ab"):
    sys.path.insert(0, str(ROOT / folder))

from playwright.sync_api import sync_playwright  # noqa: E402
from server_helpers import start_server  # noqa: E402
from ui_browser import launch, take_screenshots  # noqa: E402
from ui_seed import seed  # noqa: E402


def main(out: Path) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="trk-shots-") as tmp:
        seeded = seed(Path(tmp))
        roots = ("--allowed-artifact-roots", f"{tmp}/artifacts")  # where the seed logged
        server = start_server(seeded.backend, f"{tmp}/proxied", Path(tmp) / "server.log", *roots)
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    return take_screenshots(browser, server.url, seeded.experiment_id, out)
                finally:
                    browser.close()
        finally:
            server.kill(signal.SIGTERM)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img"
    for path in main(target):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
