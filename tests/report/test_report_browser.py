"""The report in a real browser: Debian's headless Chromium, driven through chromedriver.

The page must load from a file with no console errors, and every chart on it must have
drawn marks with a size. The screenshot is kept in ``test-artifacts/report.png``.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
           "chromium-driver; .ci/run installs them)")

CHARTS_JS = """
return [...document.querySelectorAll('figure.chart')].map(f => [f.dataset.chart,
  [...f.querySelectorAll('.mark')].filter(m => {
     const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length]);
"""


def _codemix(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codemix", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trained_run(built_corpus, tmp_path_factory):
    """A real 10-step training run on the built corpus (one process), as a user runs it."""
    run = tmp_path_factory.mktemp("report-run") / "run"
    result = _codemix("train", "configs/demo-train.yaml",
                      "--set", f"data.manifest={built_corpus / 'manifest.json'}",
                      "--set", f"training.output_dir={run}", "--set", "training.steps=10",
                      "--set", "training.log_every=2", "--set", "training.eval_every=5",
                      "--set", "training.eval_sequences=2")
    assert result.returncode == 0, result.stderr[-2000:]
    return run


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--window-size=900,1200"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def test_the_report_renders_every_chart_without_console_errors(built_corpus, trained_run,
                                                               tmp_path):
    page = tmp_path / "report.html"
    result = _codemix("report", str(built_corpus), "--train", str(trained_run),
                      "--out", str(page))
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "<script" not in html

    components = [c["name"] for c in json.loads(
        (built_corpus / "manifest.json").read_text())["components"]]
    expected = {"funnel-components", "funnel-inputs", "mixture-tokens", "mixture-passes",
                "languages-docs", "languages-tokens", "licenses-docs", "licenses-tokens",
                "bytes-per-token", "cluster-sizes", "edits", "parse-health", "timings",
                "train-loss", "eval-loss", "lr", "tokens-per-s", "memory",
                *(f"lengths-{name}" for name in components)}
    driver = _browser()
    try:
        driver.get(page.as_uri())
        charts = dict(driver.execute_script(CHARTS_JS))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(900, height + 100)
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "report.png"))
    finally:
        driver.quit()
    assert errors == []
    assert set(charts) == expected
    assert {name: n for name, n in charts.items() if n == 0} == {}
    # A CPU run logs no MFU: the page says so instead of drawing an empty chart.
    assert "Model FLOPs utilisation</b>: not logged" in html
