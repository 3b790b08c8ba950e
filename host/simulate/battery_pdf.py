"""The weekly battery status report as a PDF: the units at or below the low charge and their
battery-change jobs, one report per Monday of a run.

Drawn as text on A4 pages with matplotlib (`Figure`, no pyplot: no global figure registry) and
written by `PdfPages`. Fonts are embedded as TrueType (`pdf.fonttype` 42) so the report's text can
be searched, copied and read back by the tests; Type 3 fonts (matplotlib's default) cannot. The
tables are typeset line by line, so a long table continues on the next page under its header.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .booking import unit_order
from .model import Service
from .record import Job, Unit, WeeklyReport

PAGE_IN = (8.27, 11.69)  # A4, portrait
MARGIN_IN = 0.6
FONT_PT = 8.5
CHAR_EM = 0.55  # DejaVu Sans' mean advance over lowercase and digits: a cell's text is clipped by it
FLAT_COLOR = "tab:red"
SHADE_COLOR = "0.93"

# The height of each kind of line [in].
_HEIGHT_IN = {"title": 0.45, "text": 0.22, "heading": 0.42, "header": 0.26, "row": 0.22}
_FOOTER_IN = 0.35


@dataclass(frozen=True)
class Column:
    title: str
    x: float  # where it starts, as a share of the text width
    width: float  # likewise
    ha: str = "left"


@dataclass(frozen=True)
class Cell:
    text: str
    color: str = "black"
    bold: bool = False


@dataclass(frozen=True)
class Table:
    heading: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    empty: str  # said instead of the table when it has no row


UNIT_COLUMNS = (
    Column("Key", 0.0, 0.22),
    Column("Holder", 0.22, 0.40),
    Column("Charge", 0.62, 0.12, "right"),
    Column("State", 0.78, 0.22),
)
JOB_COLUMNS = (
    Column("Key", 0.0, 0.13),
    Column("Holder", 0.13, 0.20),
    Column("When", 0.33, 0.25),
    Column("Window", 0.58, 0.13),
    Column("Reason", 0.71, 0.29),
)


def percent(soc: float) -> str:
    return f"{soc * 100:.0f} %"


def when(job: Job) -> str:
    return "URGENT" if job.urgent else job.start.strftime("%a %Y-%m-%d %H:%M")


def job_order(job: Job) -> tuple[bool, datetime, str]:
    return (not job.urgent, job.start, job.key)


def unit_table(units: Sequence[Unit], low_soc: float) -> Table:
    rows = tuple(
        (
            Cell(unit.key),
            Cell(unit.holder),
            Cell(percent(unit.soc)),
            Cell("flat", FLAT_COLOR, bold=True)
            if unit.flat
            else Cell(f"fails {unit.fails_on:%a %m-%d}" if unit.fails_on is not None else "low"),
        )
        for unit in sorted(units, key=unit_order)
    )
    title = f"Units at or below {percent(low_soc)}"
    if any(unit.fails_on is not None for unit in units):
        title += ", and units predicted to fail in the cold ahead"
    return Table(title, UNIT_COLUMNS, rows, f"No unit at or below {percent(low_soc)}")


def job_table(jobs: Sequence[Job], holders: dict[str, str]) -> Table:
    rows = tuple(
        (
            Cell(job.key),
            Cell(holders.get(job.key, "")),
            Cell(when(job), FLAT_COLOR, bold=True) if job.urgent else Cell(when(job)),
            Cell(job.window or "-"),
            Cell(job.why),
        )
        for job in sorted(jobs, key=job_order)
    )
    return Table("Battery-change jobs", JOB_COLUMNS, rows, "No battery-change job")


def summary(report: WeeklyReport, site_name: str, timezone: str) -> str:
    made = datetime.fromtimestamp(report.time_s, ZoneInfo(timezone))
    flat = sum(unit.flat for unit in report.units)
    urgent = sum(job.urgent for job in report.jobs)
    return (
        f"{site_name}, made {made:%a %Y-%m-%d %H:%M} ({timezone}): {len(report.units)} units listed, {flat} flat; "
        f"{len(report.jobs)} jobs, {urgent} urgent"
    )


# A page is a list of lines: (kind, payload), kind one of _HEIGHT_IN's keys.
Line = tuple[str, object]


def paginate(title: str, intro: str, tables: Sequence[Table]) -> list[list[Line]]:
    """Lines onto pages: a table's heading never ends a page, and a table that goes on to the
    next page repeats its heading (continued) and header there."""
    usable_in = PAGE_IN[1] - 2 * MARGIN_IN - _FOOTER_IN
    pages: list[list[Line]] = [[("title", title), ("text", intro)]]
    used_in = _HEIGHT_IN["title"] + _HEIGHT_IN["text"]

    def fits(*kinds: str) -> bool:
        return used_in + sum(_HEIGHT_IN[kind] for kind in kinds) <= usable_in

    def put(kind: str, payload: object) -> None:
        nonlocal used_in
        pages[-1].append((kind, payload))
        used_in += _HEIGHT_IN[kind]

    def new_page() -> None:
        nonlocal used_in
        pages.append([])
        used_in = 0.0

    for table in tables:
        if not table.rows:
            if not fits("heading", "text"):
                new_page()
            put("heading", table.heading)
            put("text", table.empty)
            continue
        if not fits("heading", "header", "row"):
            new_page()
        put("heading", table.heading)
        put("header", table.columns)
        for i, row in enumerate(table.rows):
            if not fits("row"):
                new_page()
                put("heading", f"{table.heading} (continued)")
                put("header", table.columns)
            put("row", (table.columns, row, i % 2 == 1))
    return pages


def _clip(text: str, width_in: float) -> str:
    chars = int(width_in * 72 / (FONT_PT * CHAR_EM))
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def draw_page(lines: Sequence[Line], footer: str) -> Figure:
    fig = Figure(figsize=PAGE_IN)
    width_in = PAGE_IN[0] - 2 * MARGIN_IN
    y_in = PAGE_IN[1] - MARGIN_IN

    def at(x_share: float, y: float) -> tuple[float, float]:
        return ((MARGIN_IN + x_share * width_in) / PAGE_IN[0], y / PAGE_IN[1])

    def cells(columns: Sequence[Column], texts: Sequence[Cell], y: float) -> None:
        for column, cell in zip(columns, texts, strict=True):
            x = column.x + (column.width if column.ha == "right" else 0.0)
            text = _clip(cell.text, column.width * width_in)
            weight = "bold" if cell.bold else "normal"
            fig.text(*at(x, y), text, ha=column.ha, va="baseline", fontsize=FONT_PT, color=cell.color, weight=weight)

    for kind, payload in lines:
        height = _HEIGHT_IN[kind]
        baseline = y_in - height + 0.06
        if kind == "title":
            fig.text(*at(0.0, baseline), str(payload), fontsize=15, weight="bold")
        elif kind == "text":
            fig.text(*at(0.0, baseline), str(payload), fontsize=FONT_PT)
        elif kind == "heading":
            fig.text(*at(0.0, baseline), str(payload), fontsize=11.5, weight="bold")
        elif kind == "header":
            columns = cast(Sequence[Column], payload)
            cells(columns, [Cell(column.title, bold=True) for column in columns], baseline)
            fig.add_artist(Rectangle(at(0.0, y_in - height), width_in / PAGE_IN[0], 0.012 / PAGE_IN[1], color="black", lw=0))
        else:
            columns, row, shaded = cast(tuple[Sequence[Column], Sequence[Cell], bool], payload)
            if shaded:
                fig.add_artist(
                    Rectangle(at(0.0, y_in - height), width_in / PAGE_IN[0], height / PAGE_IN[1], color=SHADE_COLOR, lw=0, zorder=-1)
                )
            cells(columns, row, baseline)
        y_in -= height
    fig.text(*at(0.0, MARGIN_IN), footer, fontsize=7.5, color="0.35")
    return fig


def write_weekly_pdf(
    report: WeeklyReport,
    path: str | Path,
    site_name: str,
    timezone: str,
    low_soc: float = Service.low_soc,
) -> Path:
    """Write `report` to `path` (one page or more) and return the path. `timezone` (IANA) gives
    the local time the report was made; the jobs' times are local already."""
    path = Path(path)
    title = f"Battery status report, week of Monday {report.monday:%Y-%m-%d}"
    holders = {unit.key: unit.holder for unit in report.units}
    tables = (unit_table(report.units, low_soc), job_table(report.jobs, holders))
    pages = paginate(title, summary(report, site_name, timezone), tables)
    # Read when the fonts are written, at close: the context spans the whole file.
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        # No creation date: the same run writes the same bytes (ensemble replicas compare equal).
        with PdfPages(path, metadata={"Title": title, "Subject": site_name, "CreationDate": None}) as pdf:
            for number, lines in enumerate(pages, start=1):
                footer = f"{site_name}, week of Monday {report.monday:%Y-%m-%d}: page {number} of {len(pages)}"
                pdf.savefig(draw_page(lines, footer))
    return path
