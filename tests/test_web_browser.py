"""The page as a person uses it: `matcalc serve` on a free loopback port, driven in headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
Under CI a missing driver is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 90  # seconds: the machine may be busy



def _browser_available() -> bool:
    return bool(shutil.which("chromedriver") or os.path.exists(CHROMEDRIVER)) and os.path.exists(CHROMIUM)


if not _browser_available():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    pytest.skip("chromium / chromedriver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "matcalc.cli", "serve", "--port", str(port), "--workers", "2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + WAIT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"matcalc serve did not come up on {url}: {proc.stdout.read()}")
        time.sleep(0.3)
    assert proc.stdout.readline().startswith(f"matcalc serve: {url}")  # it prints its address
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="matcalc-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1280,1500"):
        opts.add_argument(arg)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(options=opts, service=service)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _until(driver, condition):
    """Wait for ``condition``; the page re-renders parts of itself, so a stale element means: look again."""
    return WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(condition)


def _wait(driver, css: str):
    return _until(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def _derive(driver, url: str, expr: str, wrt: str | None = None) -> None:
    driver.get(url)
    box = driver.find_element(By.ID, "expr")
    box.clear()
    box.send_keys(expr)
    driver.find_element(By.ID, "derive").click()
    _wait(driver, "#result-denominator .katex")
    if wrt is not None and Select(driver.find_element(By.ID, "wrt")).first_selected_option.text != wrt:
        Select(driver.find_element(By.ID, "wrt")).select_by_value(wrt)
        driver.find_element(By.ID, "derive").click()
        _until(driver, lambda d: f"respect to {wrt}" in d.find_element(By.ID, "results-title").text)


# expression typed, its two layouts as the page shows them in plain text
LAYOUT_CASES = [
    ("x'*A*x", {"denominator": "(A + A')*x", "numerator": "x'*(A + A')"}),
]


@pytest.mark.parametrize("expr, layouts", LAYOUT_CASES)
def test_both_layouts_rendered(server, browser, expr, layouts):
    _derive(browser, server, expr)
    for layout, text in layouts.items():
        card = browser.find_element(By.ID, f"result-{layout}")
        assert f"{layout} layout" in card.find_element(By.TAG_NAME, "h3").text
        assert card.find_elements(By.CSS_SELECTOR, ".katex-html")  # KaTeX rendered it
        assert card.find_element(By.CSS_SELECTOR, "code.plain").text == text
        assert "verified numerically" in card.text
        assert len(card.find_elements(By.CSS_SELECTOR, "button[data-copy]")) == 3
    assert "expr=" in browser.current_url  # the inputs are in the shareable URL


# expression, variable, the student's claim, the mistake the page must name
CHECK_CASES = [
    ("(lambd/(2*m))*normF(W1)^2", "W1", "lambd*sum(W1)/m", "sum-instead-of-matrix"),
]


@pytest.mark.parametrize("expr, wrt, claimed, tag", CHECK_CASES)
def test_check_my_answer_names_the_mistake(server, browser, expr, wrt, claimed, tag):
    _derive(browser, server, expr, wrt)
    browser.find_element(By.ID, "claimed").send_keys(claimed)
    browser.find_element(By.ID, "check").click()
    found = _wait(browser, "#mistake-tag")
    assert found.get_attribute("data-tag") == tag
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.get_attribute("data-correct") == "false"
    assert "Counterexample" in verdict.text
    assert verdict.find_elements(By.CSS_SELECTOR, ".katex")  # the explanation is rendered
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(ROOT / "docs" / "serve.png"))  # the README shows it


# a derivation, and the line whose error was planted
LEAST_SQUARES = (ROOT / "examples" / "least_squares_wrong_step.txt").read_text()
STEPS_CASES = [
    (LEAST_SQUARES, 5),  # (X'X + (X'X)')theta replaced by X'X theta
    ("J = x'*A*x\nd/dx J = A*x + A'*x\n  = 2*A'*x", 3),  # A is not symmetric
]


@pytest.mark.parametrize("text, line", STEPS_CASES)
def test_check_my_derivation_flags_the_line(server, browser, text, line):
    browser.get(server)
    area = browser.find_element(By.ID, "steps")
    area.clear()
    area.send_keys(text)
    browser.find_element(By.ID, "check-steps").click()
    summary = _wait(browser, "#steps-summary")
    assert summary.get_attribute("data-first-wrong") == str(line)
    wrong = browser.find_elements(By.CSS_SELECTOR, "#steps-result tr[data-status=wrong]")
    assert wrong and wrong[0].get_attribute("data-line") == str(line)


# bad input, and the column the page must mark
ERROR_CASES = [
    ("x'*A*", 6),
    ("x'*A*x)", 7),
]


@pytest.mark.parametrize("expr, column", ERROR_CASES)
def test_errors_marked_in_the_page(server, browser, expr, column):
    browser.get(server)
    browser.find_element(By.ID, "expr").send_keys(expr)
    browser.find_element(By.ID, "derive").click()
    where = _wait(browser, "#error pre.where")
    assert where.get_attribute("data-column") == str(column)
    assert f"column {column}" in browser.find_element(By.ID, "error").text


# expression, the variable whose assumption is picked in the table, the assumption, the new denominator result
EDIT_CASES = [
    ("x'*A*x", "A", "symmetric", "2*A*x"),
]


@pytest.mark.parametrize("expr, name, assumption, result", EDIT_CASES)
def test_edit_an_assumption_in_the_table(server, browser, expr, name, assumption, result):
    _derive(browser, server, expr)
    row = browser.find_element(By.CSS_SELECTOR, f"#vars tr[data-name='{name}']")
    Select(row.find_element(By.TAG_NAME, "select")).select_by_value(assumption)
    browser.find_element(By.ID, "derive").click()
    _until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#result-denominator code.plain").text == result)
    assert f"assume={name}%3D{assumption}" in browser.current_url
