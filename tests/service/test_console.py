"""The web console at / in a real headless Chromium (Debian chromium + chromedriver, driven by selenium).

Loads the page against the running server, enters a key, picks a collection, types a query and
checks the neighbours shown against the library; classifies a pasted text; runs the probes sweep.
Set VECTREE_SCREENSHOT=path to keep a screenshot (the README's).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

import vectree

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.fail(
            "Debian chromium and chromium-driver are needed: `apt-get install chromium chromium-driver` (./run.sh "
            "test does it)"
        )
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium fetch a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="vectree-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1150",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_the_console_searches_classifies_and_sweeps_probes(browser, service_server, papers, arxiv_sample):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    name, clf = papers
    from selenium.common.exceptions import StaleElementReferenceException

    # (a list the page re-renders while the test reads it is read again, not an error)
    wait = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(service_server.url + "/")
    assert browser.title == "vectree console"
    browser.find_element(By.ID, "key").send_keys(service_server.keys["bob"])
    browser.find_element(By.ID, "save-key").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "whoami"), "tenant bob"))
    wait.until(
        lambda d: name in [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#collections option")]
    )
    Select(browser.find_element(By.ID, "collections")).select_by_value(name)
    wait.until(ec.text_to_be_present_in_element((By.ID, "info"), "classify"))
    assert "alice" in browser.find_element(By.ID, "info").text  # the owner

    query = "Graph neural networks for molecule property prediction"
    browser.find_element(By.ID, "query-text").send_keys(query)
    browser.find_element(By.ID, "search-btn").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results tr.neighbour")) == 10)
    shown = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in browser.find_elements(By.CSS_SELECTOR, "#results tr.neighbour")
    ]
    want = vectree.open_collection(clf.collection_.url).search(
        clf.embedder.encode([query]), k=10, probes=8, include_metadata=True
    )
    assert [row[1] for row in shown] == [str(i) for i in want.ids[0]]
    assert [row[2] for row in shown] == [str(v) for v in want.labels[0]]
    assert [float(row[3]) for row in shown] == pytest.approx(want.distances[0].tolist(), abs=1e-4)

    browser.find_element(By.ID, "classify-text").send_keys(arxiv_sample["titles"][3001])
    browser.find_element(By.ID, "classify-btn").click()
    wait.until(ec.presence_of_element_located((By.ID, "classify-label")))
    assert browser.find_element(By.CSS_SELECTOR, "#classify-label b").text == str(
        clf.predict([arxiv_sample["titles"][3001]])[0]
    )

    browser.find_element(By.ID, "sweep-btn").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sweep-svg .sweep-point")) == 7)
    recalls = [
        float(p.get_attribute("data-recall")) for p in browser.find_elements(By.CSS_SELECTOR, "#sweep-svg .sweep-point")
    ]
    assert recalls[-1] >= recalls[0] and recalls[-1] > 0.9  # 64 probes: nearly every bucket of this collection
    assert browser.find_element(By.ID, "error").text == ""
    shot = os.environ.get("VECTREE_SCREENSHOT")
    if shot:
        browser.save_screenshot(shot)
