"""The HTML report as a person sees it: opened in headless Chromium, every figure loaded and the
page not blank; its tables read back and checked against the synthetic run's ground truth
(conftest.py); and the facts behind it (findings.py) on cases with known answers."""

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib.image
import numpy as np
import pypdf
import pytest

from keylock.host.simulate import figures, findings
from keylock.host.simulate.record import Arrival, Attempt, AuditRow, Block, Run
from keylock.host.simulate.report_html import write_report

CHROMIUM = Path("/usr/bin/chromium")
FIGURES = ("batteries", "outcomes", "propagation", "lapses", "temperatures", "energy", "audit_lag")


@pytest.fixture(scope="module")
def report(run, tmp_path_factory) -> Path:
    return write_report(run, tmp_path_factory.mktemp("report"))


# --- reading the page back ---------------------------------------------------------------


class Page(HTMLParser):
    """The page's images, links, text, and its tables as rows of cell texts; a table's
    <tbody> groups are kept (the lost-key table has one per lock)."""

    def __init__(self, text: str):
        super().__init__()
        self.images: list[dict] = []
        self.links: list[str] = []
        self.tables: list[dict] = []  # {"class": ..., "groups": [[row, ...], ...]}
        self.text_parts: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.feed(text)
        self.text = " ".join(" ".join(self.text_parts).split())

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        elif tag == "a":
            self.links.append(a.get("href", ""))
        elif tag == "table":
            self.tables.append({"class": a.get("class", ""), "groups": []})
        elif tag == "tbody":
            self.tables[-1]["groups"].append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            groups = self.tables[-1]["groups"]
            if groups and self._row and not all(c == "" for c in self._row):
                groups[-1].append(self._row)
            elif not groups:  # the head row
                self.tables[-1].setdefault("head", self._row)
            self._row = None

    def handle_data(self, data):
        self.text_parts.append(data)
        if self._cell is not None:
            self._cell.append(data)


def local(time_s: float) -> str:
    return datetime.fromtimestamp(time_s, ZoneInfo("Europe/Helsinki")).strftime("%Y-%m-%d %H:%M")


# --- the page's content --------------------------------------------------------------------


def test_every_figure_is_a_readable_png_with_alt_text_and_a_caption(report):
    page = Page(report.read_text())
    assert [Path(img["src"]).stem for img in page.images] == list(FIGURES)
    for img in page.images:
        assert img["src"].startswith("figures/") and img.get("alt"), img  # relative: the folder moves as a whole
        pixels = matplotlib.image.imread(report.parent / img["src"])
        height_px, width_px = pixels.shape[:2]
        assert 1200 <= width_px <= 1300 and height_px >= 250, (img["src"], pixels.shape)
        assert pixels[..., :3].std() > 0.05, f"{img['src']} is blank"
    assert report.read_text().count("<figcaption>Look ") == len(FIGURES)  # each says what to look at


def test_the_page_needs_nothing_but_its_pngs(report):
    text = report.read_text()
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "no CDN or remote resource"


def test_headlines_count_the_run(run, report):
    page = Page(report.read_text())
    granted = sum(a.result == "granted" for a in run.attempts)
    denied = len(run.attempts) - granted
    jobs = [j for w in run.weekly for j in w.jobs]
    assert f"{granted} openings" in page.text
    assert f"{denied} denials (most: blocked)" in page.text
    assert f"{len({u.key for w in run.weekly for u in w.units})} keys warned" in page.text
    assert f"{len(jobs)} battery jobs booked ({sum(j.urgent for j in jobs)} urgent)" in page.text
    assert 0 < sum(j.urgent for j in jobs) < len(jobs)  # the fixture has both kinds
    worst = max(run.audit, key=lambda r: r.uploaded_at_s - r.time_s)
    assert f"{findings.duration(worst.uploaded_at_s - worst.time_s)} worst audit lag ({worst.lock}, {local(worst.time_s)})" in page.text
    # The lost key's 7 tries at L8, whose audit no key ever carried back.
    assert "7 attempts not yet at the server" in page.text
    # K15 lapses on day 55 and stays lapsed to the end of the 60 days.
    assert "5 d 0 h longest validation lapse (K15, still lapsed)" in page.text


def test_weekly_reports_list_keys_and_jobs_and_link_each_pdf(run, report):
    page = Page(report.read_text())
    (table,) = [t for t in page.tables if t.get("head", [None])[0] == "Monday"]
    rows = [row for group in table["groups"] for row in group]
    assert [row[0] for row in rows] == [f"{w.monday:%Y-%m-%d}" for w in run.weekly]
    for w, row in zip(run.weekly, rows, strict=True):
        assert f"battery-report-{w.monday:%Y-%m-%d}.pdf" in page.links
        assert row[3] == f"battery-report-{w.monday:%Y-%m-%d}.pdf"
        assert [line.split(" (")[0] for line in row[1].splitlines()] == ([u.key for u in w.units] or ["none"])
        for u in w.units:
            assert f"{u.soc * 100:.0f} %" + (" flat" if u.flat else "") in row[1]
        assert [line.split(":")[0] for line in row[2].splitlines()] == ([j.key for j in w.jobs] or ["none"])
        for j in w.jobs:
            assert ("urgent" if j.urgent else f"{j.start:%a %Y-%m-%d %H:%M} ({j.window}") in row[2]


def test_the_lost_key_table_shows_every_attempt_with_its_arrival_and_lag(run, lost_truth, report):
    page = Page(report.read_text())
    (table,) = [t for t in page.tables if t["class"] == "lost-key"]
    assert f"Key {lost_truth.key} (holder 7): blocked {local(lost_truth.block_s)} (blocklist version 2)" in page.text
    by_lock = {group[0][0]: group for group in table["groups"]}
    assert list(by_lock) == list(run.locks)
    for lock, group in by_lock.items():
        arrival_s = lost_truth.arrival_s[lock]
        arrived = group[0][1]
        if arrival_s is None:
            assert arrived == "never"
        else:
            assert arrived.splitlines()[0] == local(arrival_s)
            assert f"{findings.duration(arrival_s - lost_truth.block_s)} after the block" in arrived
        listed = [row[-5:] for row in group]  # attempt, result, the lock then, at the server, lag
        expected = [
            [
                f"{local(t)} (finder)",
                "opened" if result == "granted" else f"refused: {reason}",
                "before the block"
                if t < lost_truth.block_s
                else ("had the blocklist" if arrival_s is not None and t >= arrival_s else "did not have it yet"),
                "not yet at the server" if up is None else local(up),
                "" if up is None else findings.duration(up - t),
            ]
            for lk, t, result, reason, up in lost_truth.attempts
            if lk == lock
        ]
        assert listed == expected, lock
    # The lost key opened every lock after the block until the blocklist came, and L8 always.
    opened_after = sum(1 for lk, t, result, _, _ in lost_truth.attempts if result == "granted" and t >= lost_truth.block_s)
    assert f"After the block the key still opened {opened_after} time(s); the blocklist never reached L8." in page.text


def test_every_name_is_escaped(run, report):
    text = report.read_text()
    assert "Anna &lt;O&#x27;Brien&gt; &amp; Sons" in text and "<O'Brien>" not in text
    assert "depot &lt;north&gt;" in text and "<north>" not in text
    # And the page still parses: the holder's row is one cell, not broken markup.
    assert "Anna <O'Brien> & Sons" in Page(text).text


def test_temperature_limits_are_the_models_and_the_firmwares(report):
    from keylock.firmware.lock_app import TEMP_MAX_dC, TEMP_MIN_dC
    from keylock.hw_models.params import ThermalParams

    assert figures.HOT_LIMIT_C == ThermalParams().limit_C == TEMP_MAX_dC / 10
    assert figures.COLD_LIMIT_C == TEMP_MIN_dC / 10 == -25
    assert "above 85 °C or below -25 °C a lock refuses" in Page(report.read_text()).text


# --- in headless Chromium ------------------------------------------------------------------


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        if os.environ.get("KEYLOCK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{CHROMIUM} is missing and KEYLOCK_REQUIRE_CHROMIUM=1 (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (Debian's chromium package); set KEYLOCK_REQUIRE_CHROMIUM=1 to fail instead")
    profile = tmp_path / "chromium-profile"  # its own profile: parallel workers do not share one
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr[-2000:]}"
    return done


def test_without_chromium_the_tests_skip_unless_ci_requires_it(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("KEYLOCK_REQUIRE_CHROMIUM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        chromium(tmp_path, "--version")
    monkeypatch.setenv("KEYLOCK_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="KEYLOCK_REQUIRE_CHROMIUM=1"):
        chromium(tmp_path, "--version")


# Written into a copy of the page only for the test: the page itself needs no script. One line
# per image: its src, the size the browser decoded, and where it sits on the page (CSS px).
PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "probe";
  const lines = Array.from(document.images).map(i => {
    const r = i.getBoundingClientRect();
    return [i.getAttribute("src"), i.naturalWidth, i.naturalHeight, r.left + scrollX, r.top + scrollY, r.width, r.height].join(" ");
  });
  lines.push("page " + document.documentElement.scrollHeight);
  out.textContent = lines.join("\\n");
  document.body.appendChild(out);
});
</script>"""


@dataclass(frozen=True)
class Shown:
    natural: tuple[int, int]  # (width, height) as decoded; 0 when it did not load
    box: tuple[int, int, int, int]  # left, top, right, bottom on the page


def probe(tmp_path: Path, page: Path) -> tuple[dict[str, Shown], int]:
    """The page's images as Chromium loaded and laid them out in a 1280 px window, and the page's height."""
    copy = page.with_name("probe.html")
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(tmp_path, "--window-size=1280,4000", "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()).stdout
    copy.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    *lines, last = found.group(1).strip().splitlines()
    shown = {}
    for line in lines:
        src, *numbers = line.split()
        w, h, left, top, width, height = map(float, numbers)
        shown[src] = Shown((int(w), int(h)), (round(left), round(top), round(left + width), round(top + height)))
    return shown, int(last.split()[1])


def screenshot(tmp_path: Path, page: Path, height_px: int) -> np.ndarray:
    shot = tmp_path / f"{page.parent.name}-shot.png"
    chromium(tmp_path, f"--screenshot={shot}", f"--window-size=1280,{height_px}", page.as_uri())
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (height_px, 1280)
    return pixels


def drawn(pixels: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether a region of a screenshot holds a figure: varied, with some saturated colour."""
    left, top, right, bottom = box
    region = pixels[top + 2 : bottom - 2, left + 2 : right - 2]
    saturation = region.max(axis=2) - region.min(axis=2)
    return region.size > 0 and region.mean(axis=2).std() > 0.08 and (saturation > 0.3).mean() > 0.01


@pytest.fixture(scope="module")
def shown(report, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("chromium")
    images, height_px = probe(tmp_path, report)
    return images, screenshot(tmp_path, report, height_px)


@pytest.mark.end_to_end
def test_chromium_loads_every_figure_at_its_size(report, shown):
    images, _ = shown
    assert list(images) == [f"figures/{name}.png" for name in FIGURES]
    for src, image in images.items():
        height_px, width_px = matplotlib.image.imread(report.parent / src).shape[:2]
        assert image.natural == (width_px, height_px), src  # decoded by the browser, whole
        left, _, right, _ = image.box
        assert right <= 1280 and right - left >= 1150, (src, image.box)  # fits a 1280 px window, not shrunk


@pytest.mark.end_to_end
def test_the_screenshot_shows_every_figure(shown):
    images, pixels = shown
    assert pixels.mean(axis=2).std() > 0.1, "the screenshot is blank"
    assert [src for src, image in images.items() if not drawn(pixels, image.box)] == []


@pytest.mark.end_to_end
def test_the_checks_see_missing_figures(report, tmp_path):
    # The two checks above are real: a copy of the page with only one figure left reports the
    # others unloaded, and the screenshot shows nothing where they should be.
    copy = tmp_path / "copy"
    (copy / "figures").mkdir(parents=True)
    shutil.copy(report, copy / "index.html")
    shutil.copy(report.parent / "figures" / "energy.png", copy / "figures" / "energy.png")
    images, height_px = probe(tmp_path, copy / "index.html")
    missing = {f"figures/{n}.png" for n in FIGURES if n != "energy"}
    assert {src for src, image in images.items() if image.natural[0] == 0} == missing
    pixels = screenshot(tmp_path, copy / "index.html", height_px)
    assert {src for src, image in images.items() if not drawn(pixels, image.box)} == missing


# --- the facts behind the page -------------------------------------------------------------

DAY_s = findings.DAY_s


def test_predicted_crossing_of_a_straight_drain():
    t = np.arange(0, 30) * DAY_s
    soc = 0.8 - 0.01 * np.arange(30)  # 1 % a day from 80 %: 15 % on day 65
    assert findings.predicted_crossing_s(t, soc, 0.15) == pytest.approx(65 * DAY_s, rel=1e-9)


def test_predicted_crossing_uses_only_the_cell_since_its_change():
    t = np.arange(0, 30) * DAY_s
    # A fast drain, a change on day 20, then 2 % a day from 100 %: 15 % on day 20 + 42.5.
    soc = np.where(np.arange(30) < 20, 0.5 - 0.02 * np.arange(30), 1.0 - 0.02 * (np.arange(30) - 20))
    assert findings.predicted_crossing_s(t, soc, 0.15) == pytest.approx((20 + 42.5) * DAY_s, rel=1e-9)


def test_predicted_crossing_when_below_or_not_falling():
    t = np.arange(0, 5) * DAY_s
    assert findings.predicted_crossing_s(t, np.array([0.3, 0.25, 0.2, 0.16, 0.12]), 0.15) == t[-1]
    assert findings.predicted_crossing_s(t, np.full(5, 0.6), 0.15) is None
    assert findings.predicted_crossing_s(t[:1], np.array([0.6]), 0.15) is None


def _attempt(time_s, key="K1", lock="L1", result="granted", by="holder"):
    return Attempt(time_s, key, lock, result, None if result == "granted" else "blocked", 0.01, 2.6, 0.5, 0.0, 0.0, 1, by)


def test_audit_matches_each_attempt_once_within_the_tolerance():
    run = Run("s", 0, 0.0, 1, "UTC", "cpython")
    run.attempts = [_attempt(100.0), _attempt(104.0), _attempt(5000.0), _attempt(100.0, lock="L2")]
    run.audit = [
        AuditRow(103.0, 900.0, "K1", "L1", "granted", None),  # nearest to 104
        AuditRow(99.0, 800.0, "K1", "L1", "granted", None),  # nearest to 100
        AuditRow(5000.0 + findings.AUDIT_MATCH_s + 1, 9000.0, "K1", "L1", "granted", None),  # too far
        AuditRow(100.0, 700.0, "K1", "L2", "denied", "blocked"),  # another result: not this attempt
    ]
    matched = findings.match_audit(run)
    assert {i: row.uploaded_at_s for i, row in matched.items()} == {0: 800.0, 1: 900.0}


def test_the_arrival_of_a_block_is_the_first_of_its_version_or_later_after_it():
    run = Run("s", 0, 0.0, 10, "UTC", "cpython")
    run.locks = {"L1": "cylinder", "L2": "padlock", "L3": "padlock"}
    run.arrivals = [
        Arrival(50.0, "L1", 1, "K2"),  # an older list
        Arrival(400.0, "L1", 3, "K2"),
        Arrival(300.0, "L1", 2, "K3"),  # the first holding version 2
        Arrival(150.0, "L2", 2, "K3"),  # before the block: another block's version 2? not this one
        Arrival(500.0, "L2", 2, "K3"),
    ]
    block = Block(200.0, "K9", 2)
    run.attempts = [_attempt(100.0, "K9", "L1", by="finder"), _attempt(350.0, "K9", "L1", "denied", "finder"), _attempt(250.0, "K9", "L3")]
    out = {e.lock: e for e in findings.exposure(run, block)}
    assert {lock: e.delay_s for lock, e in out.items()} == {"L1": 100.0, "L2": 300.0, "L3": None}
    assert [(la.attempt.time_s, la.after_arrival) for la in out["L1"].attempts] == [(100.0, False), (350.0, True)]
    assert [la.attempt.time_s for la in out["L3"].attempts] == [250.0]  # the holder's, after the block, counts
    assert all(la.audit is None for e in out.values() for la in e.attempts)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (59, "59 s"), (60, "1 min"), (3599, "59 min"), (3600 * 3 + 300, "3 h 05 min"), (DAY_s * 2 + 3600 * 4 + 59, "2 d 4 h")],
)
def test_duration_reads_like_a_person_says_it(seconds, text):
    assert findings.duration(seconds) == text


def test_weeks_are_local_mondays():
    # 23:30 UTC on Sunday 2026-12-13 is Monday 01:30 in Helsinki: next week's bar.
    start_s = datetime(2026, 12, 7, tzinfo=ZoneInfo("Europe/Helsinki")).timestamp()
    run = Run("s", 0, start_s, 14, "Europe/Helsinki", "cpython")
    run.attempts = [_attempt(datetime(2026, 12, 13, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp())]
    mondays, counts = findings.weekly_outcomes(run)
    assert [f"{m}" for m in mondays] == ["2026-12-07", "2026-12-14"]
    assert counts == {"granted": [0, 1]}


# --- the real thing: `keylock simulate --out` on the docs' example site -------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    """`keylock simulate docs/examples/workshop.site.yaml --days 15 --out DIR` as a user runs it."""
    out = tmp_path_factory.mktemp("simulated") / "report"
    example = Path(__file__).resolve().parents[3] / "docs" / "examples" / "workshop.site.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "keylock.host.cli", "simulate", str(example), "--days", "15", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Report: {(out / 'index.html').resolve()}" in done.stdout
    return out


@pytest.mark.end_to_end
def test_simulate_writes_every_output_and_a_pdf_for_each_monday(simulated):
    summary = json.loads((simulated / "summary.json").read_text())
    mondays = [w["monday"] for w in summary["weekly_reports"]]
    assert mondays == ["2027-01-04", "2027-01-11", "2027-01-18"]  # 15 days from Monday 4 January
    assert sorted(p.name for p in simulated.glob("*.pdf")) == [f"battery-report-{m}.pdf" for m in mondays]
    assert {"index.html", "summary.json", "events.csv", "site.db"} <= {p.name for p in simulated.iterdir()}
    rows = list(csv.DictReader((simulated / "events.csv").open()))
    assert sum(1 for r in rows if r["event"] == "attempt") == summary["openings"]["attempts"]
    with sqlite3.connect(simulated / "site.db") as db:  # the server's database at the end: every uploaded event
        assert db.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0] == summary["audit"]["events_at_server"]


@pytest.mark.end_to_end
def test_each_pdf_names_the_keys_and_jobs_of_its_week(simulated):
    rows = list(csv.DictReader((simulated / "events.csv").open()))
    booked: dict[str, list[dict]] = {}
    for r in rows:
        if r["event"] == "job_booked":
            booked.setdefault(r["time"][:10], []).append(r)
    assert booked, "the example site books at least one job"
    for monday, jobs in booked.items():
        text = "\n".join(page.extract_text() for page in pypdf.PdfReader(simulated / f"battery-report-{monday}.pdf").pages)
        assert f"week of Monday {monday}" in text
        for job in jobs:
            assert job["key"] in text
            assert ("URGENT" in text) if job["result"] == "urgent" else (job["detail"][11:16] in text)


@pytest.mark.end_to_end
def test_the_simulated_report_loads_every_figure_in_chromium(simulated, tmp_path):
    images, height_px = probe(tmp_path, simulated / "index.html")
    assert list(images) == [f"figures/{name}.png" for name in FIGURES]
    for src, image in images.items():
        height_px_, width_px = matplotlib.image.imread(simulated / src).shape[:2]
        assert image.natural == (width_px, height_px_), src  # decoded by the browser, whole
    pixels = screenshot(tmp_path, simulated / "index.html", height_px)
    # Not `drawn`: a real short run may draw a figure in greys only (no key due, say); each
    # figure's region must still hold a figure (axes, text), not the page's white.
    for src, image in images.items():
        left, top, right, bottom = image.box
        region = pixels[top + 2 : bottom - 2, left + 2 : right - 2].mean(axis=2)
        assert region.size and region.std() > 0.05 and (region < 0.5).mean() > 0.005, src


@pytest.mark.end_to_end
def test_the_simulated_lost_key_table_is_the_emulators_ground_truth(simulated):
    """Every attempt of the lost key in the emulator's log (events.csv), in the report's table
    under its lock, with its result, and its arrival at the server as the server recorded it."""
    rows = list(csv.DictReader((simulated / "events.csv").open()))
    stockholm = ZoneInfo("Europe/Stockholm")

    def minute(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(stockholm).strftime("%Y-%m-%d %H:%M")

    finder = [r for r in rows if r["event"] == "attempt" and r["by"] == "finder"]
    assert finder, "the example's lost key is tried"
    uploads = {(r["key"], r["lock"], r["detail"].removeprefix("event of ")[:16]): r["time"] for r in rows if r["event"] == "audit_uploaded"}
    page = Page((simulated / "index.html").read_text())
    (table,) = [t for t in page.tables if t["class"] == "lost-key"]
    listed = {(group[0][0], row[-5]): row[-4:] for group in table["groups"] for row in group if len(row) >= 5}
    for r in finder:
        when = minute(r["time"])
        result, _then, at_server, _lag = listed[(r["lock"], f"{when} (finder)")]
        assert result == ("opened" if r["result"] == "granted" else f"refused: {r['reason']}")
        up = uploads.get((r["key"], r["lock"], r["time"][:16]))
        if r["detail"].startswith("refused by the key"):
            assert up is None and at_server == "never: the key refused without the lock"
        else:
            assert at_server == ("not yet at the server" if up is None else minute(up))
    assert sum(1 for group in table["groups"] for row in group if len(row) >= 5 and row[-5].endswith("(finder)")) == len(finder)


@pytest.mark.end_to_end
def test_the_simulated_report_lists_keys_left_in_locks_and_warmed_padlocks(simulated):
    """The example leaves T2 in L3 on day 2 at 16:30 for 14 h and warms L1 on day 9 at 07:10."""
    page = Page((simulated / "index.html").read_text())
    (left,) = [t for t in page.tables if t["class"] == "left-in-lock"]
    ((row,),) = left["groups"]
    assert row[:5] == ["T2", "L3", "2027-01-06 16:30", "2027-01-07 06:30", findings.duration(14 * 3600)]
    (warmed,) = [t for t in page.tables if t["class"] == "warmed"]
    ((row,),) = warmed["groups"]
    assert row[:3] == ["L1", "2027-01-13 07:10", "55 °C"] and row[3].startswith("K1 at 2027-01-13 07:11: ")
