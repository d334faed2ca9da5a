"""The HTML report: self-contained, and rendered by a real headless Chromium."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib

from ab_helpers import simulate

from trk.ab.evaluation import evaluate
from trk.ab.html import render_html, sequence_plot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"


def test_html_is_self_contained_with_plots(client):
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95}, replicas=2)
    page = render_html(evaluate(client, "iris"))
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    # 3 line plots x 2 variants, a bar plot, and one confidence sequence per proportion metric
    assert page.count("<svg") == 6 and page.count('class="sequence"') == 2
    assert page.count("<polyline") == 8 and page.count("<polygon") == 2
    assert "accuracy: challenger - champion, 95% confidence sequence" in page
    assert "challenger is better" in page and "version 2 (challenger) vs version 1" in page


def test_sequence_plot_band_narrows_and_leaves_zero(client):
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95}, replicas=2)
    report = evaluate(client, "iris")
    acc = next(c for c in report.comparisons if c.metric == "accuracy")
    svg = sequence_plot(acc, report.alpha)
    band = svg.split('<polygon fill="#d62728" fill-opacity="0.18" points="')[1].split('"')[0]
    ys = [float(p.split(",")[1]) for p in band.split()]
    half = len(ys) // 2
    highs, lows = ys[:half], ys[half:][::-1]  # SVG y grows downwards
    assert all(h <= lo for h, lo in zip(highs, lows, strict=True))
    widths = [lo - h for h, lo in zip(highs, lows, strict=True)]
    assert widths == sorted(widths, reverse=True)  # intersected: it never widens
    zero_y = float(svg.split("stroke-dasharray")[0].rsplit('y1="', 1)[1].split('"')[0])
    assert lows[-1] < zero_y  # the last band lies above zero: better


def test_chromium_renders_a_non_empty_screenshot(client, tmp_path):
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95}, replicas=2)
    html = tmp_path / "report.html"
    html.write_text(render_html(evaluate(client, "iris")), encoding="utf-8")
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height, pixels = png_pixels(data)
    assert (width, height) == (1200, 1600)
    assert len(set(pixels)) > 20  # text and plots, not a blank page


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (no imaging library needed)."""
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)
