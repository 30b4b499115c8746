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
