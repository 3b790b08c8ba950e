"""The report a site manager reads at a glance: out_dir/index.html and its figures.

Self-contained apart from the PNGs in out_dir/figures (no CDN, no script: it reads the same in
any browser or printed); every name from the site is escaped. At the top the headline numbers,
then the weekly battery reports (linking the PDFs battery_pdf writes beside index.html), the
lost keys lock by lock, and the figures, each with a caption that says what to look at.
"""

import html
import struct
from pathlib import Path

from . import figures, findings
from .record import Block, Run

PDF_NAME = "battery-report-{monday:%Y-%m-%d}.pdf"  # written by battery_pdf into the same folder

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1240px; margin: 0 auto; padding: 16px; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #555; margin-top: 4px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 10px; margin: 16px 0; }
.tile { border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; background: #f8f8f8; }
.tile .n { font-size: 1.7em; font-weight: bold; } .tile .what { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #eee; } tbody th { background: #fafafa; }
.opened { color: #b00; font-weight: bold; } .refused { color: #070; } .missing { color: #b00; } .never { color: #b00; font-weight: bold; }
figure { margin: 20px 0 32px; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #333; margin-top: 6px; }
"""


def esc(value) -> str:
    return html.escape(str(value))


def write_report(run: Run, out_dir: Path) -> Path:
    """Write out_dir/index.html and out_dir/figures/*.png; returns the index's path."""
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    audit = findings.match_audit(run)
    heads = findings.headlines(run, audit)
    crossings = {key: findings.predicted_crossing_s(t, soc, run.low_soc) for key, (t, soc) in findings.soc_series(run).items()}
    exposures = [(block, findings.exposure(run, block, audit)) for block in run.blocks]
    parts = [
        _header(run),
        _tiles(run, heads),
        _weekly(run),
        _lost_keys(run, exposures),
        _crossings(run, crossings),
        _left_and_warmed(run),
        "<h2>Figures</h2>",
        *_figures(run, fig_dir, heads, crossings, exposures),
    ]
    index = out_dir / "index.html"
    title = f"keylock site report: {esc(run.site)}"
    index.write_text(
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n",
        encoding="utf-8",
    )
    return index


def when(run: Run, time_s: float) -> str:
    return findings.local(run, time_s).strftime("%Y-%m-%d %H:%M")


def _header(run: Run) -> str:
    first = findings.local(run, run.start_s).date()
    last = findings.local(run, findings.end_s(run) - 1).date()
    return (
        f"<h1>Site report: {esc(run.site)}</h1>\n"
        f'<p class="sub">{first} to {last} ({run.days} days), {len(run.keys)} keys, {len(run.locks)} locks; '
        f"times are local ({esc(run.timezone)}). Simulated on {esc(run.runtime)}, seed {run.seed}.</p>"
    )


def _tiles(run: Run, h: findings.Headlines) -> str:
    worst = h.worst_audit_lag
    lapse = h.longest_lapse
    tiles = [
        (h.openings, "openings"),
        (h.denials, "denials" + (f" (most: {esc(next(iter(h.denials_by_reason)))})" if h.denials_by_reason else "")),
        (h.keys_warned, f"keys warned (at or below {run.low_soc * 100:g} %)"),
        (h.jobs_booked, f"battery jobs booked ({h.urgent_jobs} urgent)"),
        (
            "none" if worst is None else findings.duration(findings.audit_lag_s(worst)),
            "worst audit lag" + ("" if worst is None else f" ({esc(worst.lock)}, {when(run, worst.time_s)})"),
        ),
        (h.not_at_server, "attempts not yet at the server"),
        (
            "none" if lapse is None else findings.duration(findings.lapse_s(run, lapse)),
            "longest validation lapse" + ("" if lapse is None else f" ({esc(lapse.key)}{', still lapsed' if lapse.to_s is None else ''})"),
        ),
    ]
    cells = "".join(
        f'<div class="tile"><div class="n">{esc(n) if not isinstance(n, str) else n}</div><div class="what">{w}</div></div>'
        for n, w in tiles
    )
    return f'<div class="tiles">{cells}</div>'


def _weekly(run: Run) -> str:
    if not run.weekly:
        return "<h2>Weekly battery reports</h2><p>No Monday in this run.</p>"
    rows = []
    for w in run.weekly:
        units = "<br>".join(
            f"{esc(u.key)} ({esc(u.holder)}): {u.soc * 100:.0f} %"
            + (' <span class="never">flat</span>' if u.flat else "")
            + (f" (fails {u.fails_on:%Y-%m-%d})" if u.fails_on is not None else "")
            for u in w.units
        )
        jobs = "<br>".join(
            f"{esc(j.key)}: "
            + (
                f'<span class="never">urgent</span> ({esc(j.why)}), raised {j.start:%Y-%m-%d %H:%M}'
                if j.urgent
                else f"{j.start:%a %Y-%m-%d %H:%M} ({esc(j.window or '')}, {esc(j.why)})"
            )
            for j in w.jobs
        )
        pdf = PDF_NAME.format(monday=w.monday)
        rows.append(
            f"<tr><td>{w.monday:%Y-%m-%d}</td><td>{units or 'none'}</td><td>{jobs or 'none'}</td>"
            f'<td><a href="{esc(pdf)}">{esc(pdf)}</a></td></tr>'
        )
    return (
        f"<h2>Weekly battery reports</h2>\n<p>Every Monday: the keys at or below {run.low_soc * 100:g} %, the keys above it the "
        "server predicts to fail in the cold ahead (with the date), and the battery-change jobs booked for them (local times).</p>\n<table><thead><tr><th>Monday</th><th>keys at or below the threshold</th>"
        "<th>jobs booked</th><th>report</th></tr></thead>\n<tbody>" + "\n".join(rows) + "</tbody></table>"
    )


def _lost_keys(run: Run, exposures: list[tuple[Block, list[findings.LockExposure]]]) -> str:
    if not exposures:
        return "<h2>Lost keys</h2><p>No key was blocked in this run.</p>"
    out = ["<h2>Lost keys</h2>"]
    for block, locks in exposures:
        holder = run.keys.get(block.key, "")
        unblocked = "" if block.unblocked_s is None else f", unblocked {when(run, block.unblocked_s)}"
        opened = sum(a.attempt.result == "granted" for e in locks for a in e.attempts if a.attempt.time_s >= block.time_s)
        never = [e.lock for e in locks if e.arrival is None]
        out.append(
            f"<h3>Key {esc(block.key)} ({esc(holder)}): blocked {when(run, block.time_s)} (blocklist version {block.version}){unblocked}</h3>\n"
            f"<p>After the block the key still opened {opened} time(s); "
            + (f"the blocklist never reached {esc(', '.join(never))}." if never else "the blocklist reached every lock.")
            + " Audit lag: from the attempt to its arrival at the server.</p>"
        )
        rows = [
            '<table class="lost-key"><thead><tr><th>lock</th><th>blocklist arrived</th><th>attempt</th><th>result</th>'
            "<th>the lock then</th><th>at the server</th><th>audit lag</th></tr></thead>"
        ]
        for e in locks:
            arrived = (
                '<span class="never">never</span>'
                if e.arrival is None
                else f"{when(run, e.arrival.time_s)}<br>{findings.duration(e.delay_s or 0.0)} after the block, by {esc(e.arrival.via_key)}"
            )
            span = max(1, len(e.attempts))
            head = f'<th rowspan="{span}" scope="rowgroup">{esc(e.lock)}</th><td rowspan="{span}">{arrived}</td>'
            if not e.attempts:
                rows.append(f'<tbody><tr>{head}<td colspan="5">no attempt</td></tr></tbody>')
                continue
            body = []
            for i, la in enumerate(e.attempts):
                a = la.attempt
                result = (
                    '<span class="opened">opened</span>'
                    if a.result == "granted"
                    else f'<span class="refused">refused: {esc(a.reason or "denied")}</span>'
                )
                if not a.at_lock:
                    server, lag = "never: the key refused without the lock", ""
                elif la.audit is None:
                    server, lag = '<span class="missing">not yet at the server</span>', ""
                else:
                    server, lag = when(run, la.audit.uploaded_at_s), findings.duration(la.audit.uploaded_at_s - a.time_s)
                state = (
                    "had the blocklist" if la.after_arrival else "did not have it yet" if a.time_s >= block.time_s else "before the block"
                )
                body.append(
                    f"<tr>{head if i == 0 else ''}<td>{when(run, a.time_s)} ({esc(a.by)})</td><td>{result}</td><td>{state}</td><td>{server}</td><td>{lag}</td></tr>"
                )
            rows.append("<tbody>" + "".join(body) + "</tbody>")
        out.append("\n".join(rows) + "</table>")
    return "\n".join(out)


def _crossings(run: Run, crossings: dict[str, float | None]) -> str:
    horizon_s = findings.crossing_horizon_s(run)
    due = sorted((t, k) for k, t in crossings.items() if t is not None and t <= horizon_s)
    if not due:
        return ""
    series = findings.soc_series(run)
    rows = []
    for t, k in due:
        last_s, soc = series[k][0][-1], series[k][1][-1]
        crosses = "already below" if t <= last_s else f"{findings.local(run, t):%Y-%m-%d}"
        rows.append(f"<tr><td>{esc(k)}</td><td>{esc(run.keys.get(k, ''))}</td><td>{soc * 100:.0f} %</td><td>{crosses}</td></tr>")
    return (
        f"<h2>Batteries: predicted crossings of {run.low_soc * 100:g} %</h2>\n<p>From each key's trend (a straight line over its last "
        f"{findings.TREND_WINDOW_s / findings.DAY_s:.0f} days since its last battery change): the keys due by "
        f"{findings.local(run, horizon_s):%Y-%m-%d}.</p>\n"
        "<table><thead><tr><th>key</th><th>holder</th><th>charge at the end</th><th>crosses on</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _left_and_warmed(run: Run) -> str:
    """Keys left in a lock (the key powers the lock's idle current all that time) and padlocks
    warmed in the cold, each with what the key's next attempt there did."""
    if not run.left_in_lock and not run.warmed:
        return ""
    out = ["<h2>Keys left in locks, padlocks warmed</h2>"]
    if run.left_in_lock:
        rows = []
        for since, to, key, lock in sorted(run.left_in_lock):
            soc = [s.soc for s in run.key_samples if s.key == key]
            before = [s.soc for s in run.key_samples if s.key == key and s.time_s <= since]
            after = [s.soc for s in run.key_samples if s.key == key and s.time_s >= to]
            drop = f"{(before[-1] - after[0]) * 100:.1f} points" if before and after else "?"
            rows.append(
                f"<tr><td>{esc(key)}</td><td>{esc(lock)}</td><td>{when(run, since)}</td><td>{when(run, to)}</td>"
                f"<td>{findings.duration(to - since)}</td><td>{drop if soc else '?'}</td></tr>"
            )
        out.append(
            '<table class="left-in-lock"><thead><tr><th>key</th><th>lock</th><th>left</th><th>taken out</th><th>for</th>'
            "<th>charge lost, noon to noon</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        )
    if run.warmed:
        rows = []
        for time_s, lock, body_C in sorted(run.warmed):
            nxt = next((a for a in run.attempts if a.lock == lock and a.time_s >= time_s), None)
            then = (
                "no attempt"
                if nxt is None
                else f"{esc(nxt.key)} at {when(run, nxt.time_s)}: "
                + ("opened" if nxt.result == "granted" else f"refused: {esc(nxt.reason or 'denied')}")
            )
            rows.append(f"<tr><td>{esc(lock)}</td><td>{when(run, time_s)}</td><td>{body_C:g} &deg;C</td><td>{then}</td></tr>")
        out.append(
            '<table class="warmed"><thead><tr><th>padlock</th><th>warmed</th><th>body to</th><th>the next attempt</th></tr>'
            "</thead><tbody>" + "".join(rows) + "</tbody></table>"
        )
    return "\n".join(out)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header (its IHDR chunk)."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def _figure(path: Path, alt: str, caption: str) -> str:
    # Width and height hold the figure's place while it loads, and the layout when it fails.
    width, height = png_size(path)
    return (
        f'<figure><img src="figures/{esc(path.name)}" width="{width}" height="{height}" alt="{esc(alt)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _figures(run, fig_dir: Path, heads: findings.Headlines, crossings, exposures) -> list[str]:
    soonest = sorted((t, k) for k, t in crossings.items() if t is not None)
    first = f"; first {esc(soonest[0][1])} on {findings.local(run, soonest[0][0]):%d %b}" if soonest else ""
    figures.plot_batteries(run, fig_dir / "batteries.png", crossings)
    figures.plot_outcomes(run, fig_dir / "outcomes.png")
    figures.plot_propagation(run, fig_dir / "propagation.png", exposures)
    figures.plot_lapses(run, fig_dir / "lapses.png")
    figures.plot_temperatures(run, fig_dir / "temperatures.png")
    figures.plot_energy(run, fig_dir / "energy.png")
    figures.plot_audit_lag(run, fig_dir / "audit_lag.png", heads.not_at_server)
    reasons = ", ".join(f"{esc(r.replace('_', ' '))} {n}" for r, n in heads.denials_by_reason.items()) or "none"
    worst = heads.worst_audit_lag
    lapse = heads.longest_lapse
    return [
        _figure(
            fig_dir / "batteries.png",
            "Key battery charge over time with predicted threshold crossings",
            f"Look at the coloured lines: the keys whose trend reaches {run.low_soc * 100:g} % soonest, the ▼ on the dashed line "
            f"marking the predicted day{first}. Grey lines are keys not due soon; a jump up is a battery change.",
        ),
        _figure(
            fig_dir / "outcomes.png",
            "Openings and denials per week, denials stacked by reason",
            f"Look at the lower panel: a growing bar is a problem building up. Denials by reason over the run: {reasons}.",
        ),
        _figure(
            fig_dir / "propagation.png",
            "Time from each block to the blocklist's arrival at each lock, with the blocked key's attempts",
            "Look for red crosses: each is an opening by the blocked key, possible until the blue bar ends (the blocklist arrived). "
            "A hatched bar marks a lock the blocklist never reached: the key still opens it.",
        ),
        _figure(
            fig_dir / "lapses.png",
            "Validation lapses per key over time",
            "Look at the orange bars: each key's time without a valid credential, when its openings are refused (red dots). "
            + ("No lapse." if lapse is None else f"Longest: {esc(lapse.key)}, {findings.duration(findings.lapse_s(run, lapse))}."),
        ),
        _figure(
            fig_dir / "temperatures.png",
            "Lock electronics temperatures against the hot and cold limits",
            f"Look for lines past the dashed limits: above {figures.HOT_LIMIT_C:g} °C or below {figures.COLD_LIMIT_C:g} °C a lock refuses to open. "
            "The band is the span over all locks; locks that left the range or were warmed (★) are drawn on their own.",
        ),
        _figure(
            fig_dir / "energy.png",
            "Histogram of energy per opening",
            "Look at the right tail: openings that cost much more than the median are cold or weak cells (the lock charges its reservoir longer).",
        ),
        _figure(
            fig_dir / "audit_lag.png",
            "Audit lag per event over time",
            "Look at the top of the cloud: events that reached the server late"
            + ("" if worst is None else f" (worst {findings.duration(findings.audit_lag_s(worst))}, at {esc(worst.lock)})")
            + (f"; {heads.not_at_server} attempt(s) never reached it." if heads.not_at_server else "."),
        ),
    ]
