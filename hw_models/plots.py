"""PNG figures of the models, drawn with matplotlib's Agg canvas.

`Figure` plus `FigureCanvasAgg` rather than pyplot: no global backend switch and no figure
registry, so plotting from tests or a server thread cannot disturb anyone else's matplotlib.
Each function writes `path` and returns it.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import battery as bat
from . import power, thermal
from .params import CR2032, DEFAULT_LOCK, DEFAULT_THERMAL

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MONTH_START_DAY = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])


def _save(fig, path):
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)
    return path


def plot_battery(path, battery=CR2032, current_A=0.2e-3, temperatures_C=(-20.0, 0.0, 23.0, 45.0)):
    """Discharge curves (voltage vs delivered mAh) at several temperatures."""
    curve = bat.discharge_curve(battery, current_A, np.asarray(temperatures_C), dt_s=1800.0)
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    colors = ["tab:blue", "tab:cyan", "tab:green", "tab:red", "tab:purple", "tab:orange"]
    for i, temp in enumerate(temperatures_C):
        mAh = curve["delivered_Ah"][:, i] * 1e3
        ax.plot(
            mAh,
            curve["voltage_V"][:, i],
            color=colors[i % len(colors)],
            lw=2,
            label=f"{temp:g} °C: {curve['capacity_Ah'][i] * 1e3:.0f} mAh",
        )
    ax.axhline(battery.cutoff_V, color="k", ls="--", lw=1)
    ax.text(0.99, battery.cutoff_V + 0.02, f"cut-off {battery.cutoff_V:g} V", va="bottom", ha="right", transform=ax.get_yaxis_transform())
    ax.set(
        xlabel="charge delivered [mAh]",
        ylabel="terminal voltage [V]",
        ylim=(1.9, 3.35),
        xlim=(0, None),
        title=f"{battery.name} discharge at {current_A * 1e3:g} mA, by temperature",
    )
    ax.grid(alpha=0.3)
    ax.legend(title="temperature: capacity", loc="lower left", bbox_to_anchor=(0.0, 0.1))
    return _save(fig, path)


def plot_power(path, battery=CR2032, cases=((1.0, 20.0), (0.2, -20.0)), lock=DEFAULT_LOCK):
    """Lock supply during one opening for each (soc, temperature_C) case, with the brown-out line."""
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    colors = ["tab:green", "tab:red", "tab:blue", "tab:orange"]
    for i, (soc, temp) in enumerate(cases):
        r = power.simulate_opening(battery, soc, temp, lock)
        if r.completed:
            outcome = f"opens, min {float(r.min_supply_V):.2f} V"
        elif r.booted:
            outcome = f"resets in {r.reset_phase[()]} at {float(r.reset_time_s):.2f} s"
        else:
            outcome = "never boots"
        color = colors[i % len(colors)]
        ax.plot(
            r.time_s,
            r.supply_V,
            color=color,
            lw=2,
            label=f"{battery.name} {soc:.0%} at {temp:g} °C: {outcome}, {float(r.energy_J) * 1e3:.0f} mJ",
        )
        if r.booted:
            ax.plot(r.boot_time_s, lock.brownout_V + lock.hysteresis_V, "o", color=color)
            ax.annotate("boots", (float(r.boot_time_s), lock.brownout_V + 0.1), color=color, ha="center")
        motor = r.phase_names.index("motor")
        start = r.phase_start_s[motor]
        if np.isfinite(start):
            ax.axvspan(start, start + lock.motor_s, color=color, alpha=0.2)
            ax.annotate("motor", (start, 2.75 + 0.12 * i), color=color, ha="right")
    ax.axhline(lock.brownout_V, color="k", ls="--", lw=1)
    ax.text(0.01, lock.brownout_V - 0.03, f"brown-out {lock.brownout_V:g} V (release +{lock.hysteresis_V * 1e3:.0f} mV)", va="top")
    ax.set(
        xlabel="time since key inserted [s]",
        ylabel="lock supply (reservoir) [V]",
        ylim=(0, 3.4),
        title="One opening: key cell → contact → reservoir → boot, compute, wait, motor, audit",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_thermal(path, heat_W=300.0, heating_s=60.0, ambient_C=20.0, params=DEFAULT_THERMAL):
    """Body and electronics temperatures for the same heat into the body and into the keyhole."""
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    # Separate y scales: the keyhole case runs far past the limit and would flatten the body case.
    axes = fig.subplots(1, 2)
    for ax, part in zip(axes, ("body", "keyhole"), strict=True):
        r = thermal.heating_response(part, heat_W, heating_s, ambient_C, params)
        minutes = r["time_s"] / 60.0
        ax.plot(minutes, r["body_C"], color="tab:gray", lw=2, label="padlock body")
        ax.plot(minutes, r["electronics_C"], color="tab:red", lw=2, label="keyhole / electronics")
        ax.axhline(params.limit_C, color="k", ls="--", lw=1)
        ax.text(minutes[-1], params.limit_C + 3, f"limit {params.limit_C:g} °C", ha="right")
        ax.axvspan(0, heating_s / 60.0, color="tab:orange", alpha=0.15, label=f"{heat_W:g} W heating")
        verdict = "OK" if r["seconds_above_limit"] == 0 else f"{r['seconds_above_limit']:.0f} s over"
        ax.set(title=f"heat into the {part}: electronics peak {r['max_electronics_C']:.0f} °C ({verdict})", xlabel="time [min]")
        ax.set_ylim(min(ambient_C, 0.0) - 5, max(100.0, 1.1 * max(r["max_electronics_C"], r["max_body_C"])))
        ax.set_ylabel("temperature [°C]")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    return _save(fig, path)


def plot_fleet(path, result):
    """A site (a fleet.FleetResult) over the year: the spread of state of charge against the charge an
    opening needs that day, and per week the keys reaching the low-battery threshold and the keys
    whose openings failed."""
    warn_pct = 100 * result.warn_soc
    days = result.day
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    ax_soc, ax_cross = fig.subplots(1, 2)
    p5, p50, p95 = result.soc_percentiles([5, 50, 95])
    ax_soc.fill_between(days, p5 * 100, p95 * 100, color="tab:blue", alpha=0.25, label="5-95 % of keys")
    ax_soc.plot(days, p50 * 100, color="tab:blue", lw=2, label="median key")
    ax_soc.axhline(warn_pct, color="tab:red", ls="--", lw=1, label=f"{warn_pct:g} %: battery report")
    ax_soc.plot(days[:-1], np.minimum(result.min_soc, 1.0) * 100, color="k", lw=1, label="below this an opening fails")
    ax_soc.set(xlabel="month", ylabel="state of charge [%]", ylim=(0, 100), title="state of charge over the year")
    weeks = np.arange(0, days[-1] + 8, 7)
    crossed = result.crossing_day[result.crossing_day >= 0]
    ax_cross.hist(crossed, bins=weeks, color="tab:red", alpha=0.8, label=f"keys reaching {warn_pct:g} %")
    first_failure = result.first_failure_day[result.first_failure_day >= 0]
    ax_cross.hist(first_failure, bins=weeks, color="k", histtype="step", lw=1.5, label="keys failing a first opening")
    n = result.final_soc.size
    s = result.summary()
    ax_cross.set(
        xlabel="month",
        ylabel="keys per week",
        title=f"{crossed.size} of {n} keys reach {warn_pct:g} %; {s['keys_affected']} fail {s['failed_openings']} openings",
    )
    for ax in (ax_soc, ax_cross):
        ax.set_xticks(_MONTH_START_DAY, _MONTHS)
        ax.set_xlim(0, days[-1])
        ax.grid(alpha=0.3)
    ax_soc.legend(loc="upper right")
    ax_cross.legend(loc="upper right")
    return _save(fig, path)


PLOTS = {"battery": plot_battery, "power": plot_power, "thermal": plot_thermal, "fleet": plot_fleet}
