"""The HTML report's figures: one PNG per question a site manager asks, 1210 px wide.

Drawn with `Figure` and `FigureCanvasAgg` as hw_models/plots.py does (no pyplot, no global
backend). Time axes show the site's local time (`Run.timezone`). Each function writes `path`
and returns it; the facts come from findings.py, so a figure agrees with the report's tables.
"""

import math
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...firmware.lock_app import TEMP_MIN_dC
from ...hw_models.params import DEFAULT_THERMAL
from . import findings
from .record import Run

WIDTH_in, DPI = 11.0, 110  # 1210 px: readable on a 1200 px page without scaling text down
HOT_LIMIT_C = DEFAULT_THERMAL.limit_C  # the lock's electronics refuse above it (85 degC)
COLD_LIMIT_C = TEMP_MIN_dC / 10  # and below its rated range (-25 degC), in the firmware
HIGHLIGHT_KEYS = 10  # batteries drawn in colour and named: the soonest to cross
GRANTED, DENIED = "tab:green", "tab:red"
MAX_WEEK_LABELS = 16  # a week's label and count each need ~70 px


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI)
    return path


def _figure(height_in: float, rows: int = 1, **kw) -> tuple[Figure, list]:
    fig = Figure(figsize=(WIDTH_in, height_in), layout="constrained")
    axes = fig.subplots(rows, 1, squeeze=False, **kw)[:, 0]
    return fig, list(axes)


def datenum(time_s) -> np.ndarray:
    """Unix seconds to matplotlib's date numbers (UTC; the axis formatter shows local time)."""
    ms = np.rint(np.asarray(time_s, dtype=float) * 1000).astype("int64")
    return mdates.date2num(ms.astype("datetime64[ms]"))


def _local_dates(ax, run: Run, label: str = "") -> None:
    tz = findings.tz(run)
    locator = mdates.AutoDateLocator(tz=tz, maxticks=14)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=tz))
    ax.set_xlabel(label or f"date (local time, {run.timezone})")


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=13, color="0.3")


def plot_batteries(run: Run, path: Path, crossings: dict[str, float | None]) -> Path:
    """Each key's charge over the run and its trend's crossing of `run.low_soc`; the keys
    that cross soonest in colour, the rest grey."""
    fig, (ax,) = _figure(5.5)
    series = findings.soc_series(run)
    end_s = findings.end_s(run)
    horizon_s = findings.crossing_horizon_s(run)
    due = sorted((t, k) for k, t in crossings.items() if t is not None and t <= horizon_s)
    highlight = [k for _, k in due[:HIGHLIGHT_KEYS]]
    colors = dict(zip(highlight, [f"C{i}" for i in range(HIGHLIGHT_KEYS)], strict=False))
    for key, (t, soc) in series.items():
        if key not in colors:
            ax.plot(datenum(t), soc * 100, color="0.75", lw=0.8, zorder=1)
    for key in highlight:
        t, soc = series[key]
        cross_s = crossings[key]
        assert cross_s is not None
        when = "below" if cross_s <= t[-1] else findings.local(run, cross_s).strftime("%d %b")
        ax.plot(datenum(t), soc * 100, color=colors[key], lw=1.8, zorder=3, label=f"{key}: {when}")
        if cross_s > t[-1]:
            ax.plot(datenum([t[-1], cross_s]), [soc[-1] * 100, run.low_soc * 100], color=colors[key], ls="--", lw=1.2, zorder=3)
        ax.plot(datenum([cross_s]), [run.low_soc * 100], marker="v", ms=9, color=colors[key], zorder=4)
    ax.axhline(run.low_soc * 100, color="k", ls="--", lw=1)
    ax.text(0.005, run.low_soc * 100 + 1, f"service threshold {run.low_soc * 100:g} %", transform=ax.get_yaxis_transform(), va="bottom")
    ax.axvline(datenum([end_s])[0], color="0.4", lw=1, ls=":")
    ax.text(datenum([end_s])[0], 101, " end of run", color="0.3", va="bottom", fontsize=9)
    ax.set(ylim=(0, 105), ylabel="key battery state of charge [%]", title="Key batteries, with each trend's crossing of the threshold (▼)")
    ax.set_xlim(datenum([run.start_s])[0], datenum([horizon_s])[0])
    _local_dates(ax, run)
    ax.grid(alpha=0.3)
    if highlight:
        ax.legend(title="soonest to cross", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    else:
        _empty(ax, "no key is on a trend to cross the threshold")
    return _save(fig, path)


def plot_outcomes(run: Run, path: Path) -> Path:
    """Openings per week and, below, denials per week stacked by reason."""
    mondays, counts = findings.weekly_outcomes(run)
    fig, (top, bottom) = _figure(6.5, rows=2, sharex=True)
    x = np.arange(len(mondays))
    granted = np.array(counts.pop("granted", [0] * len(mondays)))
    top.bar(x, granted, color=GRANTED, width=0.7)
    if len(mondays) <= MAX_WEEK_LABELS:  # counts on the bars while they fit
        for xi, n in zip(x, granted, strict=True):
            top.text(xi, n, f"{n}", ha="center", va="bottom", fontsize=9)
    top.set(ylabel="openings per week", title="Openings (granted) per week")
    base = np.zeros(len(mondays))
    reasons = sorted(counts, key=lambda r: -sum(counts[r]))
    for i, reason in enumerate(reasons):
        n = np.array(counts[reason])
        bottom.bar(x, n, bottom=base, width=0.7, color=f"C{(i + 3) % 10}", label=reason.replace("_", " "))
        base += n
    bottom.set(ylabel="denials per week", title="Denials per week, by the lock's reason")
    if reasons:
        bottom.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    else:
        _empty(bottom, "no denials")
        bottom.set_ylim(0, 1)
    every = math.ceil(len(mondays) / MAX_WEEK_LABELS)
    bottom.set_xticks(x[::every], [f"{m:%d %b}" for m in mondays[::every]])
    bottom.set_xlabel("week starting Monday (local date)")
    for ax in (top, bottom):
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.15)
    return _save(fig, path)


def plot_propagation(run: Run, path: Path, exposures: list[tuple]) -> Path:
    """Per block: each lock's time from the block to the blocklist's arrival (never: hatched
    to the edge), with the blocked key's attempts there (x opened, o refused)."""
    rows = max(1, len(exposures))
    fig, axes = _figure(1.2 + 0.45 * max(len(run.locks), 3) * rows, rows=rows)
    if not exposures:
        _empty(axes[0], "no key was blocked in this run")
        axes[0].set_axis_off()
        return _save(fig, path)
    for ax, (block, locks) in zip(axes, exposures, strict=True):
        # The axis spans what happened (arrivals and attempts), not the rest of the run.
        offsets_s = [e.delay_s for e in locks if e.delay_s is not None] + [
            a.attempt.time_s - block.time_s for e in locks for a in e.attempts
        ]
        first_s, last_s = min([0.0, *offsets_s]), max([3600.0, *offsets_s])
        unit_s, unit = (findings.DAY_s, "days") if last_s > 4 * findings.DAY_s else (3600.0, "hours")
        right = last_s / unit_s * 1.12
        y = np.arange(len(locks))[::-1]
        marks: dict[str, list[tuple[float, float]]] = {"x": [], "o": []}
        for yi, e in zip(y, locks, strict=True):
            if e.arrival is None:
                to_end = findings.duration(findings.end_s(run) - block.time_s)
                ax.barh(yi, right, color="white", edgecolor="tab:red", hatch="//", height=0.5)
                ax.text(
                    right, yi + 0.28, f"never (run ended {to_end} after the block) ", ha="right", va="bottom", color="tab:red", fontsize=9
                )
            else:
                ax.barh(yi, e.delay_s / unit_s, color="tab:blue", alpha=0.55, height=0.5)
                ax.text(e.delay_s / unit_s, yi + 0.28, findings.duration(e.delay_s), ha="center", va="bottom", fontsize=9)
            for la in e.attempts:
                marks["x" if la.attempt.result == "granted" else "o"].append(((la.attempt.time_s - block.time_s) / unit_s, yi))
        for marker, color in (("x", DENIED), ("o", GRANTED)):
            if marks[marker]:  # one artist per kind: a blocked key may have tried hundreds of times
                at, yi = zip(*marks[marker], strict=True)
                ax.plot(at, yi, marker=marker, ls="none", ms=9, mew=2, color=color, mfc="none", zorder=3)
        ax.axvline(0, color="k", lw=1)
        ax.set_xlim(first_s / unit_s - 0.03 * right, right)
        ax.set_yticks(y, [e.lock for e in locks])
        ax.set_ylim(-0.7, len(locks) - 0.2)
        when = findings.local(run, block.time_s).strftime("%Y-%m-%d %H:%M")
        ax.set(
            xlabel=f"{unit} after the block", ylabel="lock", title=f"Key {block.key} blocked {when}: when the blocklist reached each lock"
        )
        ax.grid(axis="x", alpha=0.3)
        handles = [
            Line2D([], [], marker="x", ls="none", color=DENIED, mew=2, label="the blocked key opened the lock"),
            Line2D([], [], marker="o", ls="none", color=GRANTED, mfc="none", mew=2, label="the blocked key was refused"),
            Patch(color="tab:blue", alpha=0.55, label="until the blocklist arrived"),
            Patch(facecolor="white", edgecolor="tab:red", hatch="//", label="never arrived in the run"),
        ]
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    return _save(fig, path)


def plot_lapses(run: Run, path: Path) -> Path:
    """Keys x time: when each key had no valid credential; dots: its openings refused for it."""
    keys = sorted({lapse.key for lapse in run.lapses})
    fig, (ax,) = _figure(1.6 + 0.35 * max(len(keys), 3))
    end_s = findings.end_s(run)
    row = {k: i for i, k in enumerate(reversed(keys))}
    for lapse in run.lapses:
        to_s = end_s if lapse.to_s is None else lapse.to_s
        x0, x1 = datenum([lapse.from_s, to_s])
        still = lapse.to_s is None
        ax.broken_barh(
            [(x0, x1 - x0)],
            (row[lapse.key] - 0.3, 0.6),
            facecolor="tab:orange",
            edgecolor="saddlebrown" if still else "tab:orange",
            hatch="//" if still else None,
        )
        text = findings.duration(to_s - lapse.from_s) + (" (still lapsed)" if lapse.to_s is None else "")
        ax.text(x1, row[lapse.key], f" {text}", va="center", fontsize=9)
    refused = [a for a in run.attempts if a.key in row and a.reason in ("validity_expired", "not_validated")]
    if refused:
        ax.plot(
            datenum([a.time_s for a in refused]),
            [row[a.key] for a in refused],
            "o",
            color=DENIED,
            ms=5,
            label="opening refused: not validated",
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    ax.set_yticks(list(row.values()), list(row))
    ax.set_xlim(datenum([run.start_s])[0], datenum([end_s])[0] + 0.12 * run.days)
    ax.set(ylabel="key", title="Validation lapses: keys without a valid credential (hatched: still lapsed at the end)")
    _local_dates(ax, run)
    ax.grid(axis="x", alpha=0.3)
    if not keys:
        _empty(ax, "no key's validation lapsed")
    return _save(fig, path)


def plot_temperatures(run: Run, path: Path) -> Path:
    """The locks' electronics against the rated range: the span over all locks, the locks
    that left the range or were warmed drawn one by one."""
    fig, (ax,) = _figure(5.5)
    per: dict[str, list[tuple[float, float]]] = {}
    for s in run.lock_samples:
        per.setdefault(s.lock, []).append((s.time_s, s.electronics_C))
    if per:
        times = np.unique([s.time_s for s in run.lock_samples])
        grid = np.full((len(per), len(times)), np.nan)
        for i, rows in enumerate(per.values()):
            arr = np.array(sorted(rows))
            grid[i, np.searchsorted(times, arr[:, 0])] = arr[:, 1]
        ax.fill_between(datenum(times), np.nanmin(grid, 0), np.nanmax(grid, 0), color="tab:blue", alpha=0.25, label="span over all locks")
        ax.plot(datenum(times), np.nanmedian(grid, 0), color="tab:blue", lw=1, label="median lock")
    warmed = {lock for _, lock, _ in run.warmed}
    outside = [lock for lock, rows in per.items() if lock in warmed or any(not COLD_LIMIT_C <= c <= HOT_LIMIT_C for _, c in rows)]
    for i, lock in enumerate(sorted(outside)):
        arr = np.array(sorted(per[lock]))
        ax.plot(datenum(arr[:, 0]), arr[:, 1], color=f"C{(i + 1) % 10}", lw=1.5, label=f"lock {lock}")
    for time_s, lock, body_C in run.warmed:
        ax.plot(datenum([time_s]), [body_C], marker="*", ms=14, color="tab:orange", ls="none")
        ax.annotate(f"{lock} warmed", (datenum([time_s])[0], body_C), xytext=(6, 6), textcoords="offset points", fontsize=9)
    if run.warmed:
        ax.plot([], [], marker="*", ms=12, color="tab:orange", ls="none", label="padlock warmed (body)")
    for limit_C, name, color in ((HOT_LIMIT_C, "hot limit", "tab:red"), (COLD_LIMIT_C, "cold limit", "tab:cyan")):
        ax.axhline(limit_C, color=color, ls="--", lw=1.5)
        ax.text(0.005, limit_C, f"{name} {limit_C:g} °C", color=color, transform=ax.get_yaxis_transform(), va="bottom", fontweight="bold")
    ax.set(ylabel="lock electronics [°C]", title="Lock temperatures against the locks' rated range (refused outside it)")
    ax.set_ylim(min(COLD_LIMIT_C - 10, ax.get_ylim()[0]), max(HOT_LIMIT_C + 10, ax.get_ylim()[1]))
    _local_dates(ax, run)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    if not per:
        _empty(ax, "no lock temperatures recorded")
    return _save(fig, path)


def plot_energy(run: Run, path: Path) -> Path:
    """How much of a key's charge an opening costs: a histogram, granted and denied stacked."""
    fig, (ax,) = _figure(4.5)
    granted = [a.energy_J * 1e3 for a in run.attempts if a.result == "granted"]
    denied = [a.energy_J * 1e3 for a in run.attempts if a.result != "granted"]
    both = granted + denied
    if both:
        lo, hi = min(both), max(both)
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 40)
        ax.hist([granted, denied], bins=bins, stacked=True, color=[GRANTED, DENIED], label=["granted", "denied"])
        median = float(np.median(granted)) if granted else math.nan
        if granted:
            ax.axvline(median, color="k", ls="--", lw=1)
            ax.text(median, 0.97, f" median opening {median:.1f} mJ", transform=ax.get_xaxis_transform(), va="top")
        ax.legend(loc="upper right")
    else:
        _empty(ax, "no openings")
    ax.set(xlabel="energy drawn from the key per attempt [mJ]", ylabel="attempts", title="Energy per opening")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_audit_lag(run: Run, path: Path, not_at_server: int) -> Path:
    """Each audit event's lag from the lock to the server, over the event's time."""
    fig, (ax,) = _figure(4.5)
    if run.audit:
        t = np.array([r.time_s for r in run.audit])
        lag_h = np.array([findings.audit_lag_s(r) for r in run.audit]) / 3600
        granted = np.array([r.result == "granted" for r in run.audit])
        shown_h = np.maximum(lag_h, 1 / 60)  # a lag under a minute on the log axis's floor
        for mask, color, label in ((granted, GRANTED, "granted"), (~granted, DENIED, "denied")):
            ax.plot(datenum(t[mask]), shown_h[mask], "o", ms=3, color=color, label=label)
        ax.set_yscale("log")
        worst = findings.worst_audit_lag(run)
        assert worst is not None
        ax.annotate(
            f"worst: {findings.duration(findings.audit_lag_s(worst))} ({worst.lock})",
            (datenum([worst.time_s])[0], findings.audit_lag_s(worst) / 3600),
            xytext=(8, -4),
            textcoords="offset points",
            fontsize=9,
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    else:
        _empty(ax, "no audit reached the server")
    if not_at_server:
        ax.text(0.99, 0.97, f"{not_at_server} attempt(s) not yet at the server", transform=ax.transAxes, ha="right", va="top", color=DENIED)
    ax.set(ylabel="audit lag [hours, log scale]", title="Audit lag: from an event at a lock to its arrival at the server")
    ax.set_xlim(datenum([run.start_s])[0], datenum([findings.end_s(run)])[0])
    _local_dates(ax, run, f"date of the event (local time, {run.timezone})")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)
