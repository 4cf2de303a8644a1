#!/usr/bin/env python3
"""Real-browser tests of profd's interactive HTML report, in headless Chromium (Debian's chromium and
chromium-driver, python3-selenium).

  html_report_test.py check SESSION_DIR   # session.html and its route/request reports: DOM, search, XSS, screenshot
  html_report_test.py bench FILE.html     # first paint of a large report, asserted under --budget-ms

Prints one line per check and exits non-zero on the first failure.
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

HOSTILE_ROUTE = "<script>alert(1)</script>"
HOSTILE_FUNCTION = "f<img src=x onerror=alert(2)>"
ALERT_TRAP = """
window.__alerts = [];
window.alert = window.confirm = window.prompt = function (m) { window.__alerts.push(String(m)); };
"""


def log(msg):
    print(msg, flush=True)


def fail(msg):
    print("FAIL - " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    log("ok   - " + msg)


def make_driver(width=1400, height=1500):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1",
                "--no-first-run", "--disable-extensions"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ALERT_TRAP})
    return driver


def load(driver, path):
    driver.get(pathlib.Path(path).resolve().as_uri())
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") == "1")


def severe_console_errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def common_page_checks(driver, name):
    errors = severe_console_errors(driver)
    check(not errors, f"{name}: no console errors or CSP violations {errors[:3]}")
    check(driver.execute_script("return window.__alerts.length") == 0, f"{name}: no alert/confirm/prompt ran")
    check(driver.execute_script("return document.querySelectorAll('script').length") == 2,
          f"{name}: exactly the report's two script elements")
    check(driver.execute_script("return document.querySelectorAll('img,iframe,object,embed').length") == 0,
          f"{name}: no img/iframe/object elements")
    csp = driver.execute_script(
        "var m = document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]'); return m && m.content")
    check(csp and "default-src 'none'" in csp, f"{name}: CSP meta tag present")


def dispatch_click(driver, canvas_id, x, y):
    """Clicks a canvas at (x, y) in its own CSS pixels, scrolling it into view first."""
    driver.execute_script("""
        var c = document.getElementById(arguments[0]);
        c.scrollIntoView({block: 'center'});
        var r = c.getBoundingClientRect();
        var opts = {bubbles: true, clientX: r.left + arguments[1], clientY: r.top + arguments[2]};
        c.dispatchEvent(new MouseEvent('mousemove', opts));
        c.dispatchEvent(new MouseEvent('click', opts));
    """, canvas_id, x, y)


def type_search(driver, box, term):
    """Types into the search box like a person and waits until the (debounced) search has run."""
    box.clear()
    box.send_keys(term)
    WebDriverWait(driver, 5).until(
        lambda d: d.execute_script("return window.profd.state.query") == term.strip().lower())
    return driver.find_element(By.ID, "search-info").text


def rows(driver):
    return driver.execute_script("return window.profd.state.rows.length")


def pick_search_term(driver):
    """The application function with the most self time in the folded tree."""
    return driver.execute_script("""
        var D = window.profd.data, s = D.stride, a = D.folded, best = -1, bestSelf = -1;
        for (var i = 1; i < a.length / s; i++) {
          if (a[i*s] === 0 && a[i*s+5] > bestSelf && D.strings[a[i*s+1]].length > 3) { best = i; bestSelf = a[i*s+5]; }
        }
        return best < 0 ? null : D.strings[a[best*s+1]];
    """)


def flame_match_pixels(driver):
    return driver.execute_script("""
        var c = document.getElementById('flame'), g = c.getContext('2d');
        var d = g.getImageData(0, 0, c.width, c.height).data, n = 0;
        for (var i = 0; i < d.length; i += 4) if (d[i] === 224 && d[i+1] === 64 && d[i+2] === 251) n++;
        return n;
    """)


def cmd_check(args):
    session_dir = pathlib.Path(args.session_dir)
    session_html = session_dir / "session.html"
    if not session_html.exists():
        fail(f"{session_html} does not exist (the session must be written with --formats ...,html)")
    session_json = json.loads((session_dir / "session.json").read_text()) if (session_dir / "session.json").exists() else {}
    artifacts = pathlib.Path(args.artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    driver = make_driver()
    try:
        t0 = time.time()
        load(driver, session_html)
        log(f"loaded {session_html} in {1000 * (time.time() - t0):.0f} ms")
        common_page_checks(driver, "session")
        samples = driver.execute_script("return window.profd.data.samples")
        check(samples > 0, f"session has samples ({samples})")
        check(driver.find_element(By.CSS_SELECTOR, "#tree .row .name").text != "", "the call tree has rows")

        # The timeline: one bar per kept request, or a note that there are none.
        kept = driver.execute_script("return window.profd.data.timeline.requests.length")
        note = driver.find_element(By.ID, "timeline-note").text
        if kept == 0:
            check("No kept requests" in note, f"timeline says there are no kept requests: {note!r}")
        else:
            check(str(kept) in note, f"timeline lists {kept} kept requests: {note!r}")

        # Collapse, then expand one node by clicking it.
        driver.find_element(By.ID, "collapse-all").click()
        collapsed = rows(driver)
        target = driver.find_elements(By.CSS_SELECTOR, "#tree .row")[1]
        toggle_before = target.find_element(By.CSS_SELECTOR, ".tg").text
        target.click()
        expanded = rows(driver)
        check(toggle_before == "▸" and expanded > collapsed,
              f"clicking a collapsed row expands it ({collapsed} rows -> {expanded})")
        check(driver.find_elements(By.CSS_SELECTOR, "#tree .row")[1].find_element(By.CSS_SELECTOR, ".tg").text == "▾",
              "the expanded row shows ▾")
        target.click()
        check(rows(driver) == collapsed, "clicking it again collapses it")

        # Search: matching rows are highlighted, the tree is expanded to them and the first is in view.
        term = args.search or pick_search_term(driver)
        check(term is not None, f"search term {term!r}")
        box = driver.find_element(By.ID, "search")
        info = type_search(driver, box, term)
        check("no match" not in info, f"searching {term!r} finds it: {info!r}")
        matched = driver.find_elements(By.CSS_SELECTOR, "#tree .row.match")
        check(any(term in r.find_element(By.CSS_SELECTOR, ".name").text for r in matched),
              f"{len(matched)} highlighted rows name {term!r}")
        current = driver.find_element(By.CSS_SELECTOR, "#tree .row.current")
        in_view = driver.execute_script("""
            var r = arguments[0].getBoundingClientRect(), t = document.getElementById('tree').getBoundingClientRect();
            return r.top >= t.top && r.bottom <= t.bottom && r.height > 0;
        """, current)
        check(current.is_displayed() and in_view, "the current match is visible inside the tree panel")
        check(driver.execute_script("return arguments[0].querySelector('.name mark') !== null", current),
              "the matched text is marked")
        check(flame_match_pixels(driver) > 0, "the flame graph paints the matches in the highlight colour")
        box.send_keys(Keys.ENTER)
        check(driver.execute_script("return window.profd.state.current") == (1 if len(matched) > 1 else 0)
              or driver.execute_script("return window.profd.state.matchList.length") == 1, "Enter moves to the next match")

        # Flame graph: clicking a frame on the second row zooms to it.
        frame = driver.execute_script("""
            var t = window.profd.state.tree, kids = t.children(0);
            return kids.length ? kids[0] : -1;
        """)
        if frame >= 0:
            dispatch_click(driver, "flame", 5, 18 + 9)
            zoom = driver.execute_script("return window.profd.state.zoom")
            check(zoom == frame, f"clicking a flame frame zooms to it (node {zoom})")
            check("zoomed to" in driver.find_element(By.ID, "flame-crumbs").text, "the zoom is named above the graph")
            driver.find_element(By.CSS_SELECTOR, "#flame-crumbs button").click()
            check(driver.execute_script("return window.profd.state.zoom") == 0, "reset zoom")

        # Library frames: folded by default; the toggle shows them.
        folded_nodes = driver.execute_script("return window.profd.state.tree.n")
        driver.find_element(By.ID, "show-lib").click()
        full_nodes = driver.execute_script("return window.profd.state.tree.n")
        check(full_nodes >= folded_nodes and driver.execute_script("return window.profd.state.tree === null") is False,
              f"the toggle switches to the unfolded tree ({folded_nodes} -> {full_nodes} nodes)")
        if args.library_search:
            info = type_search(driver, box, args.library_search)
            check("no match" not in info, f"with library frames shown, {args.library_search!r} is found: {info!r}")
            check(len(driver.find_elements(By.CSS_SELECTOR, "#tree .row.lib")) > 0, "library rows are shown")
            driver.find_element(By.ID, "show-lib").click()
            check("no match" in driver.find_element(By.ID, "search-info").text,
                  f"folded again, {args.library_search!r} is hidden")
        else:
            driver.find_element(By.ID, "show-lib").click()

        # Screenshot of the session with a search highlighted.
        type_search(driver, box, term)
        driver.execute_script("window.scrollTo(0, 0)")
        shot = artifacts / "html-report.png"
        driver.save_screenshot(str(shot))
        check(shot.stat().st_size > 10_000, f"screenshot saved to {shot}")

        # Clicking a request in the timeline opens its report.
        if kept > 0:
            rect = driver.execute_script("var r = window.profd.timeline.rects[0]; return [r.x, r.y, r.w, r.h];")
            href = driver.execute_script("return window.profd.data.timeline.requests[0].href")
            dispatch_click(driver, "timeline", rect[0] + rect[2] / 2, rect[1] + rect[3] / 2)
            WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith(href))
            WebDriverWait(driver, 10).until(
                lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") == "1")
            check(driver.find_element(By.TAG_NAME, "h1").text.startswith("profd · request"),
                  f"clicking the first timeline bar opens {href}")
            common_page_checks(driver, "request report")
            driver.save_screenshot(str(artifacts / "html-report-request.png"))

        # Hostile names: shown as text, never run.
        hostile = [r for r in session_json.get("routes", []) if r["route"] == HOSTILE_ROUTE]
        if hostile:
            load(driver, session_dir / hostile[0]["files"]["html"])
            common_page_checks(driver, "hostile route report")
            check(driver.title == "profd · route " + HOSTILE_ROUTE, f"the <script> route is the page title as text: {driver.title!r}")
            check(HOSTILE_ROUTE in driver.find_element(By.TAG_NAME, "h1").text, "and the heading, as text")
            n = driver.execute_script("return window.profd.search('img')")
            names = [r.find_element(By.CSS_SELECTOR, ".name").text for r in driver.find_elements(By.CSS_SELECTOR, "#tree .row.match")]
            check(n >= 1 and HOSTILE_FUNCTION in names, f"the <img> function is a row of text: {names}")
            check(driver.execute_script("return window.__alerts.length") == 0, "still no alert after rendering it")
            driver.save_screenshot(str(artifacts / "html-report-hostile.png"))
            hostile_requests = [r for r in session_json.get("keptRequests", []) if r["route"] == HOSTILE_ROUTE]
            if hostile_requests:
                load(driver, session_dir / hostile_requests[0]["files"]["html"])
                common_page_checks(driver, "hostile request report")
                check(HOSTILE_ROUTE in driver.title, "the hostile request's title is text")
        elif args.expect_hostile:
            fail("the session has no <script> route")
        if args.no_samples_page:
            load(driver, args.no_samples_page)
            common_page_checks(driver, "report without samples")
            check("No samples" in driver.find_element(By.ID, "no-samples").text, "a report without samples says so")
    finally:
        driver.quit()
    log("all browser checks passed")


def cmd_bench(args):
    page = pathlib.Path(args.file).resolve()
    size = page.stat().st_size
    driver = make_driver(1400, 1000)
    results = []
    try:
        for run in range(args.runs):
            driver.get("about:blank")
            t0 = time.time()
            driver.get(page.as_uri() + f"?run={run}")
            WebDriverWait(driver, 60).until(
                lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") == "1")
            # Let the first frame after the script paint, then read the entries.
            driver.execute_async_script("var done = arguments[0]; requestAnimationFrame(function () { setTimeout(done, 50); });")
            m = driver.execute_script("""
                var p = {}; performance.getEntriesByType('paint').forEach(function (e) { p[e.name] = e.startTime; });
                var nav = performance.getEntriesByType('navigation')[0] || {};
                return {fp: p['first-paint'], fcp: p['first-contentful-paint'], ready: window.profd.readyMs,
                        dcl: nav.domContentLoadedEventEnd, nodes: window.profd.data.folded.length / window.profd.data.stride,
                        full: window.profd.data.full.length / window.profd.data.stride,
                        samples: window.profd.data.samples, requests: window.profd.data.timeline.requests.length,
                        dom: document.getElementsByTagName('*').length};
            """)
            m["wall"] = 1000 * (time.time() - t0)
            # Interactions on the big tree.
            t = driver.execute_script("var s = performance.now(); window.profd.search('handle4'); return performance.now() - s;")
            m["search"] = t
            t = driver.execute_script("var s = performance.now(); window.profd.showLibraryFrames(true); return performance.now() - s;")
            m["toggle"] = t
            driver.execute_script("window.profd.showLibraryFrames(false); window.profd.search('');")
            results.append(m)
            log(f"run {run + 1}: first paint {m['fp']:.0f} ms, first contentful paint {m['fcp']:.0f} ms, "
                f"data-ready {m['ready']:.0f} ms, DOMContentLoaded {m['dcl']:.0f} ms, wall {m['wall']:.0f} ms; "
                f"search {m['search']:.0f} ms, library toggle {m['toggle']:.0f} ms; {m['dom']} DOM elements")
        errors = severe_console_errors(driver)
        check(not errors, f"no console errors {errors[:3]}")
        if args.screenshot:
            driver.save_screenshot(args.screenshot)
    finally:
        driver.quit()
    m = results[0]
    log(f"report: {size / 1e6:.1f} MB, {m['samples']} samples, {m['full']:.0f} tree nodes ({m['nodes']:.0f} folded), "
        f"{m['requests']} timeline requests")
    fcp = statistics.median(r["fcp"] for r in results)
    ready = statistics.median(r["ready"] for r in results)
    worst = max(max(r["fcp"], r["ready"]) for r in results)
    log(f"median: first contentful paint {fcp:.0f} ms, data-ready {ready:.0f} ms; slowest run (cold) {worst:.0f} ms "
        f"(budget {args.budget_ms:.0f} ms)")
    check(m["full"] >= args.min_nodes, f"the profile has at least {args.min_nodes} nodes")
    check(worst < args.budget_ms, f"first paint with the tree drawn, every run: {worst:.0f} ms < {args.budget_ms:.0f} ms")
    check(max(r["search"] for r in results) < 1000 and max(r["toggle"] for r in results) < 1000,
          "search and the library toggle take under 1 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("session_dir")
    c.add_argument("--search", help="function to search for (default: the app function with the most self time)")
    c.add_argument("--library-search", help="a library function that only the unfolded tree shows")
    c.add_argument("--no-samples-page", help="also load this report without samples")
    c.add_argument("--expect-hostile", action="store_true", help="fail unless the session has the <script> route")
    c.add_argument("--artifacts", default=os.environ.get("ARTIFACTS", "artifacts"))
    b = sub.add_parser("bench")
    b.add_argument("file")
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--budget-ms", type=float, default=2000)
    b.add_argument("--min-nodes", type=int, default=50_000)
    b.add_argument("--screenshot")
    args = parser.parse_args()
    {"check": cmd_check, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    main()
