"""A run's machine-readable outputs: summary.json (the figures an operator asks for, one
object) and events.csv (every event of the run, oldest first, one row each).

The HTML report (report_html.py) and the weekly PDFs (battery_pdf.py) are the human ones;
`write_all` writes every output into one folder.
"""

import csv
import json
import math
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from . import findings, record

SUMMARY = "summary.json"
EVENTS = "events.csv"
EVENT_COLUMNS = ("time", "time_s", "event", "key", "lock", "result", "reason", "by", "soc", "energy_mJ", "detail")


def _quantile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _hours(seconds):
    return None if seconds is None else round(seconds / 3600, 2)


def lost_keys(run: record.Run) -> list[dict]:
    """For each block, per lock (findings.exposure): when the blocklist arrived (None: never in
    the run), the hours the key stayed usable there after the block, and its attempts there,
    each with its result and its arrival at the server (the audit lag)."""
    audit = findings.match_audit(run)
    out = []
    for b in run.blocks:
        per_lock = []
        for ex in findings.exposure(run, b, audit):
            if ex.arrival is None and not ex.attempts:
                continue
            rows = [
                {
                    "time_s": la.attempt.time_s,
                    "result": la.attempt.result,
                    "reason": la.attempt.reason,
                    "after_arrival": la.after_arrival,
                    "at_lock": la.attempt.at_lock,
                    "uploaded_at_s": None if la.audit is None else la.audit.uploaded_at_s,
                    "audit_lag_h": None if la.audit is None else _hours(findings.audit_lag_s(la.audit)),
                }
                for la in ex.attempts
            ]
            per_lock.append(
                {
                    "lock": ex.lock,
                    "arrived_s": None if ex.arrival is None else ex.arrival.time_s,
                    "via_key": None if ex.arrival is None else ex.arrival.via_key,
                    "usable_h_after_block": _hours(ex.delay_s),
                    "granted_after_block": sum(1 for r in rows if r["result"] == "granted" and r["time_s"] >= b.time_s),
                    "attempts": rows,
                }
            )
        out.append({"key": b.key, "blocked_s": b.time_s, "unblocked_s": b.unblocked_s, "version": b.version, "locks": per_lock})
    return out


def summary(run: record.Run) -> dict:
    granted = sum(1 for a in run.attempts if a.result == "granted")
    denied = Counter(a.reason for a in run.attempts if a.result == "denied")
    energy_mJ = [1000 * a.energy_J for a in run.attempts]
    last_soc: dict[str, float] = {}
    for s in run.key_samples:
        last_soc[s.key] = s.soc
    lags_h = [(a.uploaded_at_s - a.time_s) / 3600 for a in run.audit if not math.isnan(a.uploaded_at_s)]
    lapse_days = [((lap.to_s if lap.to_s is not None else run.start_s + run.days * 86400) - lap.from_s) / 86400 for lap in run.lapses]
    jobs = [j for w in run.weekly for j in w.jobs]
    return {
        "site": run.site,
        "seed": run.seed,
        "days": run.days,
        "runtime": run.runtime,
        "start": _iso(run.start_s, run.timezone),
        "keys": len(run.keys),
        "locks": len(run.locks),
        "openings": {"attempts": len(run.attempts), "granted": granted, "denied": dict(sorted(denied.items()))},
        "energy_per_opening_mJ": {
            "median": _round(statistics.median(energy_mJ)) if energy_mJ else None,
            "p95": _round(_quantile(energy_mJ, 0.95)),
            "max": _round(max(energy_mJ, default=None)),
        },
        "batteries": {
            "lowest_soc": _round(min(last_soc.values(), default=None), 4),
            "keys_at_or_below_15_percent": sorted(k for k, v in last_soc.items() if v <= 0.15),
        },
        "weekly_reports": [
            {
                "monday": w.monday.isoformat(),
                "units": len(w.units),
                "flat": sum(1 for u in w.units if u.flat),
                "jobs": sum(1 for j in w.jobs if not j.urgent),
                "urgent_jobs": sum(1 for j in w.jobs if j.urgent),
            }
            for w in run.weekly
        ],
        "battery_jobs": {
            "booked": sum(1 for j in jobs if not j.urgent),
            "urgent": sum(1 for j in jobs if j.urgent),
            "done": len(run.jobs_done),
        },
        "validations": {
            "done": sum(1 for v in run.validations if v.error is None),
            "refused": dict(Counter(v.error for v in run.validations if v.error)),
        },
        "lapses": {
            "count": len(run.lapses),
            "keys": len({lap.key for lap in run.lapses}),
            "longest_days": _round(max(lapse_days, default=None), 2),
        },
        "lost_keys": [
            {
                "key": k["key"],
                "blocked": _iso(k["blocked_s"], run.timezone),
                "locks_reached": sum(1 for lock in k["locks"] if lock["arrived_s"] is not None),
                "locks": len(k["locks"]),
                "longest_usable_h": max((lock["usable_h_after_block"] or 0 for lock in k["locks"]), default=None),
                "granted_after_block": sum(lock["granted_after_block"] for lock in k["locks"]),
            }
            for k in lost_keys(run)
        ],
        "left_in_lock": [{"key": key, "lock": lock, "hours": _hours(to - since)} for since, to, key, lock in run.left_in_lock],
        "warmed": [{"lock": lock, "body_C": c, "time": _iso(t, run.timezone)} for t, lock, c in run.warmed],
        "audit": {
            "events_at_server": len(run.audit),
            "median_lag_h": _round(statistics.median(lags_h), 2) if lags_h else None,
            "max_lag_h": _round(max(lags_h, default=None), 2),
        },
        "speed": {"wall_s": round(run.wall_s, 2), "openings_per_s": round(run.openings_per_s, 1)},
    }


def _round(value, digits=2):
    return None if value is None else round(value, digits)


def _iso(time_s, timezone):
    return datetime.fromtimestamp(time_s, ZoneInfo(timezone)).isoformat(timespec="seconds")


def events(run: record.Run):
    """Every event as a row of EVENT_COLUMNS, oldest first."""
    tz = run.timezone
    rows = []
    for a in run.attempts:
        rows.append(
            (
                a.time_s,
                "attempt",
                a.key,
                a.lock,
                a.result,
                a.reason or "",
                a.by,
                round(a.soc, 4),
                round(1000 * a.energy_J, 3),
                f"blocklist {a.blocklist_version}" if a.at_lock else "refused by the key: the lock saw nothing",
            )
        )
    for v in run.validations:
        rows.append((v.time_s, "validation", v.key, "", "ok" if v.error is None else "refused", v.error or "", "holder", "", "", ""))
    for b in run.blocks:
        rows.append((b.time_s, "block", b.key, "", "", "", "operator", "", "", f"blocklist {b.version}"))
        if b.unblocked_s is not None:
            rows.append((b.unblocked_s, "unblock", b.key, "", "", "", "operator", "", "", ""))
    for ar in run.arrivals:
        rows.append((ar.time_s, "blocklist_arrival", ar.via_key, ar.lock, "", "", "", "", "", f"blocklist {ar.version}"))
    for lap in run.lapses:
        rows.append((lap.from_s, "lapse", lap.key, "", "", "", "", "", "", "until " + (_iso(lap.to_s, tz) if lap.to_s else "the end")))
    for w in run.weekly:
        for j in w.jobs:
            rows.append(
                (
                    w.time_s,
                    "job_booked",
                    j.key,
                    "",
                    "urgent" if j.urgent else "booked",
                    j.why,
                    "operator",
                    "",
                    "",
                    j.start.isoformat(timespec="minutes"),
                )
            )
    for j in run.jobs_done:
        rows.append(
            (j.time_s, "battery_changed", j.key, "", "", "", "technician", round(j.soc_before, 4), "", "urgent" if j.urgent else "")
        )
    for since, to, key, lock in run.left_in_lock:
        rows.append((since, "left_in_lock", key, lock, "", "", "holder", "", "", f"{_hours(to - since)} h"))
    for t, lock, c in run.warmed:
        rows.append((t, "warmed", "", lock, "", "", "holder", "", "", f"body {c:g} degC"))
    for au in run.audit:
        if not math.isnan(au.uploaded_at_s):
            rows.append(
                (
                    au.uploaded_at_s,
                    "audit_uploaded",
                    au.key or "",
                    au.lock,
                    au.result,
                    au.reason or "",
                    "",
                    "",
                    "",
                    f"event of {_iso(au.time_s, tz)}",
                )
            )
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    for r in rows:
        yield (_iso(r[0], tz), round(r[0], 3), *r[1:])


def write_summary(run: record.Run, path: Path) -> dict:
    data = summary(run)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


def write_events(run: record.Run, path: Path) -> int:
    n = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EVENT_COLUMNS)
        for row in events(run):
            w.writerow(row)
            n += 1
    return n


def pdf_name(w: record.WeeklyReport) -> str:
    return f"battery-report-{w.monday.isoformat()}.pdf"


def write_all(run: record.Run, out: Path) -> dict:
    """Every output of a run into `out` (the database is copied there by the run itself):
    summary.json, events.csv, a PDF per weekly battery report, index.html with its figures."""
    from .battery_pdf import write_weekly_pdf
    from .report_html import write_report

    out.mkdir(parents=True, exist_ok=True)
    data = write_summary(run, out / SUMMARY)
    write_events(run, out / EVENTS)
    for w in run.weekly:
        write_weekly_pdf(w, out / pdf_name(w), run.site, run.timezone)
    write_report(run, out)
    return data
