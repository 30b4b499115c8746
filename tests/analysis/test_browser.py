"""The HTML report opens in a real headless Chromium and every figure decodes there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import tunehooks as th
from tunehooks import analysis as an

# runs after the page (and its images) loaded; writes what the browser decoded into the DOM
CHECK = """<script>
window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("figure img").forEach(function (img) {
    out.push({id: img.parentElement.id, w: img.naturalWidth, h: img.naturalHeight});
  });
  var pre = document.createElement("pre");
  pre.id = "image-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    """The browser scripts/system-deps.sh installs (Debian's ``chromium``)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "Chromium is not installed: run scripts/system-deps.sh (apt-get install chromium); "
            "the HTML report must be checked in a real browser"
        )
    return found


def decoded_images(html: str, tmp_path) -> list[dict[str, object]]:
    page = tmp_path / "check.html"
    page.write_text(html.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    out = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    m = re.search(r'<pre id="image-check">(.*?)</pre>', out.stdout, re.S)
    assert m is not None, f"the check script did not run; DOM: {out.stdout[:500]}"
    result: list[dict[str, object]] = json.loads(m.group(1))
    return result


@pytest.mark.slow
def test_report_renders_in_headless_chromium(lr_sweep: th.Experiment, tmp_path) -> None:
    html = an.report_html(lr_sweep)
    images = decoded_images(html, tmp_path)
    assert [i["id"] for i in images] == [
        "fig-trace",
        "fig-curves",
        "fig-parallel",
        "fig-importance",
        "fig-slices",
        "fig-pareto",
    ]
    for img in images:
        assert isinstance(img["w"], int) and img["w"] > 100, img
        assert isinstance(img["h"], int) and img["h"] > 100, img
    # the check sees a broken image: a corrupted figure decodes to nothing
    broken = re.sub(r"(base64,)[A-Za-z0-9+/]{40}", r"\1" + "A" * 40, html, count=1)
    assert decoded_images(broken, tmp_path)[0]["w"] == 0


def screenshot(html: str, tmp_path, *, height: int = 6000):
    """The page as Chromium paints it (1200 px wide), as an RGB array."""
    import numpy as np
    from PIL import Image

    page = tmp_path / "shot.html"
    page.write_text(html, encoding="utf-8")
    png = tmp_path / "shot.png"
    out = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile-shot'}",
            f"--window-size=1200,{height}",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0 and png.exists(), out.stderr[-2000:]
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


@pytest.mark.slow
def test_report_screenshot_shows_the_figures_and_the_importance_warning(
    storage_url: str, tmp_path
) -> None:
    import numpy as np

    exp = th.Experiment.create(
        "few",
        th.SearchSpace({"lr": th.Float(1e-4, 1.0, log=True), "opt": th.Categorical(["a", "b"])}),
        metrics=[th.Metric("loss", goal="minimize")],
        budget=th.Budget(trials=8),
        storage=storage_url,
        method="sobol",
    )
    for t in exp.ask_loop():
        t.report(1, {"loss": 2.0})
        t.complete({"loss": abs(np.log10(t.params["lr"]) + 2)})
    html = an.report_html(exp)
    assert "only 8 trials" in html
    img = screenshot(html, tmp_path)
    assert img.shape[1] == 1200
    # painted, not blank: a large share of the page is not background white
    ink = np.any(img < 235, axis=2)
    assert ink.mean() > 0.015, ink.mean()
    # the warning box is drawn: its orange border (#e07b00) and its pale background (#fff4e5)
    border = np.all(np.abs(img - np.array([0xE0, 0x7B, 0x00])) < 12, axis=2)
    pale = np.all(np.abs(img - np.array([0xFF, 0xF4, 0xE5])) < 4, axis=2)
    assert border.sum() > 50 and pale.sum() > 2000, (border.sum(), pale.sum())
    # the figures are painted as images of the size the browser decoded
    images = decoded_images(html, tmp_path)
    assert {i["id"] for i in images} == {
        "fig-trace",
        "fig-curves",
        "fig-parallel",
        "fig-importance",
        "fig-slices",
    }
    # viridis (the parallel coordinates' lines and colour bar) is on the page: its yellow end
    yellow = np.all(np.abs(img - np.array([0xFD, 0xE7, 0x25])) < 20, axis=2)
    assert yellow.sum() > 100, yellow.sum()
