"""The weekly battery report PDF read back as text, as a person (or a search) reads it."""

import re
from datetime import UTC, date, datetime

import matplotlib
import pypdf
import pytest

from keylock.host.simulate.battery_pdf import write_weekly_pdf
from keylock.host.simulate.booking import Bookings, book
from keylock.host.simulate.model import Service
from keylock.host.simulate.record import Job, Unit, WeeklyReport

MONDAY = date(2026, 12, 7)
REPORT_LOCAL = datetime(2026, 12, 7, 7)  # the jobs' times are local (naive)
MADE_S = datetime(2026, 12, 7, 6, tzinfo=UTC).timestamp()  # 07:00 in Oslo (CET, UTC+1)


def report(units, jobs):
    return WeeklyReport(MONDAY, MADE_S, tuple(units), tuple(jobs))


def pages_text(path):
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def test_a_short_report_lists_units_and_jobs(tmp_path):
    units = [Unit("K-7", "Ada Lovelace", 0.12, flat=False), Unit("K-3", "Bo Berg", 0.0, flat=True)]
    jobs = [
        Job("K-7", datetime(2026, 12, 8, 13), urgent=False, why="low", window="tue 13-16"),
        Job("K-3", REPORT_LOCAL, urgent=True, why="flat"),
    ]
    path = write_weekly_pdf(report(units, jobs), tmp_path / "week.pdf", "North depot", "Europe/Oslo")
    (text,) = pages_text(path)
    assert "Battery status report, week of Monday 2026-12-07" in text
    assert "North depot, made Mon 2026-12-07 07:00 (Europe/Oslo)" in text  # the site's local time, not UTC
    assert "K-7 Ada Lovelace 12 % low" in text
    assert "K-3 Bo Berg 0 % flat" in text
    assert "K-7 Ada Lovelace Tue 2026-12-08 13:00 tue 13-16 low" in text
    assert "K-3 Bo Berg URGENT - flat" in text
    # Urgent jobs first, then by time; flat units first.
    assert text.index("K-3 Bo Berg URGENT") < text.index("K-7 Ada Lovelace Tue")
    assert text.index("K-3 Bo Berg 0 %") < text.index("K-7 Ada Lovelace 12 %")
    assert "page 1 of 1" in text
    assert "No unit" not in text


def test_an_empty_week_says_so(tmp_path):
    path = write_weekly_pdf(report([], []), tmp_path / "week.pdf", "North depot", "UTC")
    (text,) = pages_text(path)
    assert "No unit at or below 15 %" in text
    assert "No battery-change job" in text
    assert "URGENT" not in text and "Key" not in text


def test_the_low_charge_in_the_text_is_the_services(tmp_path):
    path = write_weekly_pdf(report([], []), tmp_path / "week.pdf", "North depot", "UTC", low_soc=0.2)
    assert "No unit at or below 20 %" in pages_text(path)[0]


@pytest.mark.parametrize("n_units, n_pages", [(30, 2), (100, 5)])
def test_a_long_list_runs_over_pages_and_loses_no_row(tmp_path, n_units, n_pages):
    units = [Unit(f"K-{i:03d}", f"Holder {i:03d}", 0.0015 * i, flat=i % 9 == 0) for i in range(n_units)]
    jobs = book(units, REPORT_LOCAL, Service(), Bookings())
    path = write_weekly_pdf(report(units, jobs), tmp_path / "week.pdf", "Depot", "UTC")
    pages = pages_text(path)
    assert len(pages) == n_pages
    text = "\n".join(pages)
    for unit, job in zip(units, sorted(jobs, key=lambda job: job.key), strict=True):
        # Each key exactly twice: its unit row and its job row, on whatever page they fell.
        assert len(re.findall(rf"\b{unit.key}\b", text)) == 2
        assert re.search(rf"{unit.key} {unit.holder} \d+ % (flat|low)", text)
        when = "URGENT" if job.urgent else f"{job.start:%a %Y-%m-%d %H:%M} {job.window}"
        assert f"{unit.key} {unit.holder} {when}" in text
    for number, page in enumerate(pages[1:], start=2):
        assert f"page {number} of {n_pages}" in page
        assert "(continued)" in page and "Key Holder" in page  # the header again above the rows
    assert "Tue 2026-12-15 13:00" in text  # the week's slots ran out: next week's first choice


def test_every_line_is_on_the_page_and_no_two_share_a_height(tmp_path):
    units = [Unit(f"K-{i:03d}", f"Holder {i:03d}", 0.001 * i, flat=False) for i in range(60)]
    path = write_weekly_pdf(report(units, book(units, REPORT_LOCAL, Service(), Bookings())), tmp_path / "week.pdf", "Depot", "UTC")
    for page in pypdf.PdfReader(path).pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        origins = []

        def visit(text, cm, tm, font, size, origins=origins):
            if text.strip():
                origins.append((text, tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))

        page.extract_text(visitor_text=visit)
        assert origins
        assert all(0 <= x <= width and 0 <= y <= height for _, x, y in origins), [o for o in origins if not 0 <= o[2] <= height]
        # A row's cells share a baseline; rows do not: one height per key.
        key_heights = [round(y, 1) for text, _, y in origins if re.fullmatch(r"K-\d{3}", text)]
        assert len(key_heights) == len(set(key_heights))


def test_the_text_is_in_truetype_fonts_and_rcparams_are_left_alone(tmp_path):
    before = matplotlib.rcParams["pdf.fonttype"]
    path = write_weekly_pdf(report([Unit("K-1", "A", 0.1, False)], []), tmp_path / "week.pdf", "Depot", "UTC")
    assert matplotlib.rcParams["pdf.fonttype"] == before
    for page in pypdf.PdfReader(path).pages:
        fonts = page["/Resources"]["/Font"].values()
        assert {font.get_object()["/Subtype"] for font in fonts} == {"/Type0"}  # Type 42: not "/Type3"


def test_the_same_report_writes_the_same_bytes(tmp_path):
    units = [Unit("K-1", "A", 0.1, False)]
    jobs = book(units, REPORT_LOCAL, Service(), Bookings())
    a = write_weekly_pdf(report(units, jobs), tmp_path / "a.pdf", "Depot", "UTC")
    b = write_weekly_pdf(report(units, jobs), tmp_path / "b.pdf", "Depot", "UTC")
    assert a.read_bytes() == b.read_bytes()


def test_a_unit_predicted_to_fail_says_when(tmp_path):
    units = (Unit("K1", "Anna Berg", 0.12, True), Unit("K9", "Bo Ek", 0.22, False, date(2026, 12, 9)))
    path = write_weekly_pdf(report(units, ()), tmp_path / "r.pdf", "depot", "UTC")
    text = "\n".join(pages_text(path))
    assert "Units at or below 15 %, and units predicted to fail in the cold ahead" in text
    assert "K9 Bo Ek 22 % fails Wed 12-09" in text and "K1 Anna Berg 12 % flat" in text
