"""Headless Debian Chromium through Playwright, and what the dashboard tests read from pages.

Playwright never downloads a browser here: it drives /usr/bin/chromium (apt's package,
installed by scripts/dev). The docs' screenshots come from `take_screenshots` too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 900}

# Per chart: series count, non-null points per series, and how many canvas pixels carry
# each series' colour (uPlot draws axes too, so "some ink" would not prove data was drawn).
CHART_STATE = """() => (window.trkCharts || []).map((u) => {
  const canvas = u.root.querySelector("canvas");
  const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const inked = u.series.slice(1).map((s, j) => {
    const color = typeof s.stroke === "function" ? s.stroke(u, j + 1) : s.stroke;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
    let n = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] > 200 && Math.abs(px[i] - r) < 40 && Math.abs(px[i + 1] - g) < 40
          && Math.abs(px[i + 2] - b) < 40) n++;
    }
    return n;
  });
  return {
    title: u.root.querySelector(".u-title").textContent,
    labels: u.series.slice(1).map((s) => s.label),
    points: u.data.slice(1).map((ys) => ys.filter((v) => v !== null).length),
    inked: inked,
  };
})"""


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def charts(page: Page) -> list[dict[str, Any]]:
    """What uPlot drew on the current page (see CHART_STATE)."""
    page.wait_for_function("() => window.trkCharts !== undefined")
    return page.evaluate(CHART_STATE)


def shot(page: Page, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000, f"{path} looks blank"
    return path


def take_screenshots(browser: Browser, base_url: str, experiment_id: str, out: Path) -> list[Path]:
    """The docs' two dashboard pictures (docs/dashboard.md): the runs table (sorted by accuracy) and the A/B page."""
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"/experiments/{experiment_id}?order_by=metrics.`accuracy` DESC")
        table = shot(page, out / "runs-table.png")
        page.goto("/ab/iris")
        charts(page)
        ab = shot(page, out / "ab-page.png")
    finally:
        page.close()
    return [table, ab]
