#!/usr/bin/env bash
# mets station in a real browser: headless Chromium, driven by Selenium through chromedriver (Debian's
# chromium, chromium-driver and python3-selenium), loads the station while metsd scores two beds on the
# development broker: bed-12 the demo recording (MIT-BIH 201: AF from its start to 78 s) and bed-03 the
# same record's sinus rhythm (80 s to 170 s), both at 5 times real time. The AF alert must appear on
# bed-12's tile (and never on bed-03's), with its priority's colour, then clear; bed-12's page must list the
# raise and the clear, and its figure link must give the alert's SVG figure on ECG paper. A screenshot of
# the station with the alert up goes to $work (to $METS_STATION_SCREENSHOT too, when set: docs/station.png).
# usage: test_station.sh PATH/TO/mets PATH/TO/metsd   (exit 77 = skipped: no chromium, chromedriver or selenium)
set -euo pipefail
METS=${1:?usage: test_station.sh PATH/TO/mets PATH/TO/metsd}
METSD=${2:?usage: test_station.sh PATH/TO/mets PATH/TO/metsd}
. "$(dirname "$0")/lib.sh"
# Debian's own Python: where python3-selenium is (a python3 earlier on PATH, e.g. pyenv's, lacks it).
py=/usr/bin/python3
command -v chromium >/dev/null && command -v chromedriver >/dev/null && "$py" -c 'import selenium' 2>/dev/null \
  || { echo "SKIP: chromium, chromedriver or python3-selenium not installed"; exit 77; }
start_broker
start_metsd_on_broker
"$METS" station --bootstrap "$bootstrap" --listen 127.0.0.1:0 --keep-s 300 2>"$work/station.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'http://' "$work/station.log" && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$work/station.log") || fail "the station did not start: $(cat "$work/station.log")"

"$py" - "$url" "$METS" "$bootstrap" "$work" <<'PY' || fail "the station in Chromium"
import subprocess, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, mets, bootstrap, work = sys.argv[1:]
opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,700", "--disable-dev-shm-usage"):
    opts.add_argument(a)
service = Service(executable_path="/usr/bin/chromedriver", log_path=f"{work}/chromedriver.log")
driver = webdriver.Chrome(options=opts, service=service)
replays = []
try:
    driver.get(url)
    time.sleep(1)
    for args in (["-s", "bed-12"], ["-s", "bed-03", "--start", "80", "--duration", "90"]):
        replays.append(subprocess.Popen([mets, "replay", "-q", "--bootstrap", bootstrap, "-x", "5", *args,
                                         "demo/mitdb_201_demo"]))

    bed03_af = []  # bed-03 plays sinus rhythm: looked at whenever the test waits

    def wait(what, cond, timeout=90):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if driver.find_elements(By.CSS_SELECTOR, '.tile[data-bed="bed-03"] li[data-label="AFIB"]'):
                    bed03_af.append(time.time())
                if cond():
                    return
            except Exception:
                pass
            time.sleep(0.2)
        driver.save_screenshot(f"{work}/failed.png")
        raise AssertionError(f"{what}: not within {timeout} s; page: {driver.find_element(By.ID, 'ward').text!r}")

    af = '.tile[data-bed="bed-12"] li[data-label="AFIB"]'
    # the tiles are redrawn at every update: read an alert's element in one go, in the page
    read = """const li = document.querySelector(arguments[0]);
              return li && {priority: li.dataset.priority, cls: li.className, text: li.innerText,
                            colour: getComputedStyle(li).backgroundColor};"""
    wait("both tiles", lambda: len(driver.find_elements(By.CSS_SELECTOR, ".tile")) == 2)
    wait("the AF alert on bed-12's tile", lambda: driver.execute_script(read, af))
    li = driver.execute_script(read, af)
    prio = li["priority"]
    assert prio in ("1", "2", "3") and f"p{prio}" in li["cls"].split(), li
    assert li["colour"] in ("rgb(238, 51, 51)", "rgb(232, 194, 31)", "rgb(59, 184, 232)"), li
    assert "atrial fibrillation" in li["text"] and "since" in li["text"], li  # conf/labels.yaml's words
    time.sleep(1)  # let the strips fill
    driver.save_screenshot(f"{work}/station.png")
    print("AF on bed-12:", li["text"].replace("\n", " "), "| priority", prio, li["colour"])
    wait("the AF alert of bed-12 cleared", lambda: not driver.execute_script(read, af))
    for r in replays:
        assert r.wait(timeout=120) == 0, "a replay failed"
    wait("the last look at bed-03", lambda: True)
    assert not bed03_af, "AF on bed-03's tile, which plays sinus rhythm"

    # bed-12's page: the raise and the clear, and the figure of the alert.
    href = driver.find_element(By.CSS_SELECTOR, '.tile[data-bed="bed-12"] .bed a').get_attribute("href")
    driver.get(href)
    wait("bed-12's page", lambda: driver.find_elements(By.CSS_SELECTOR, '#history tr[data-label="AFIB"]'))
    rows = driver.find_elements(By.CSS_SELECTOR, '#history tr[data-label="AFIB"]')
    states = [r.get_attribute("data-state") for r in rows]
    assert "raised" in states and "cleared" in states, states
    figure = driver.find_elements(By.CSS_SELECTOR, '#history tr[data-label="AFIB"][data-state="raised"] a')[0]
    driver.get(figure.get_attribute("href"))
    wait("the alert's figure", lambda: driver.find_elements(By.CSS_SELECTOR, "svg path.lead"))
    marks = driver.find_elements(By.CSS_SELECTOR, "svg .mark")
    assert any("raised" in (m.get_attribute("class") or "") for m in marks), "no raise mark in the figure"
    print(f"bed-12's page: {len(states)} AF events; figure with {len(driver.find_elements(By.CSS_SELECTOR, 'svg path.lead'))} ECG rows")
finally:
    for r in replays:
        r.kill()
    driver.quit()
PY
[ -z "${METS_STATION_SCREENSHOT:-}" ] || cp "$work/station.png" "$METS_STATION_SCREENSHOT"
echo "test_station: ok"
