"""A whole site's keys over a year, day by day: state of charge per key, the openings its cell
could not carry, and the day each key's battery report would list it (at or below `warn_soc`).

Whether an opening works, and what it costs, depends on the key's state of charge and the
day's temperature, so a day's debit depends on where the key stands: the run is a loop over
days, vectorised over keys (never a loop over keys). `power.simulate_opening` is far too slow
to call per key and day, so it is run once on a grid (`opening_table`):

* per temperature, the lowest state of charge at which an opening completes (`min_soc`), found
  by a vectorised bracketing search; a key below it fails;
* per temperature, the charge of a completed opening on a state-of-charge grid from `min_soc` to
  full, and of a failed one from empty to just below `min_soc`. Each side is interpolated on its
  own, so the jump in charge at `min_soc` is kept instead of being smeared over a grid cell.
  A failed opening's charge also jumps where the failure moves from never booting to a reset
  under the motor; that jump moves with temperature, and reading the table linearly in
  temperature smears it over < 0.02 of charge (tested; within 1 % elsewhere).

A day of one key, in order: its openings at the day's start charge (each `q_ok` while the charge
stays at or above `min_soc`; every one after that fails, and the holder retries it `retries`
times, each attempt costing `q_fail`), then the day's steady drain (sleep, advertising, time left
in a lock, self-discharge). The day is the time step: the charge per opening is read at the day's
start (within a day a key moves < 1 % of charge, and the charge per opening changes by far less).

A site may mix cell parameter sets (vendors, or a sample of cells): each key draws one and reads
its own set's table, capacity and self-discharge (`run_site(cells=..., cell_weights=...)`).

Keys are processed in chunks so memory stays bounded whatever the site's size; the random draws
come from fixed blocks of keys, each with its own generator, so a key's draws, and therefore every
result, are the same whatever the chunk size. Only per-key summaries and per-day counts (integers,
so their sums do not depend on the chunking) are kept; the full (days + 1, keys) state of charge
only if asked (`keep_soc`).
"""

from dataclasses import dataclass, field

import numpy as np

from . import battery as bat
from . import drain as drn
from . import power
from .params import CR2032, DEFAULT_KEY_LOAD, DEFAULT_LOCK, DEFAULT_SITE, Validated, check_range, param

RNG_BLOCK_KEYS = 1024  # keys per random generator: a key's draws never depend on the chunking
DEFAULT_CHUNK_KEYS = 32_768  # ~0.15 GB of draws per chunk for a year (int32 openings, float seconds in locks)
SOC_BINS = 200  # per-day histogram of state of charge, 0.5 % bins, for percentiles at any size
NEVER_SOC = 2.0  # min_soc of a temperature at which not even a full cell opens


@dataclass(frozen=True)
class RetryParams(Validated):
    """What a holder does when the lock does not open.

    retry_after_s: a holder who sees the lock stay shut tries again after a minute or two. By then
    the polarisation the failed attempt left has relaxed (fully, for the cell model's pair of a few
    seconds); the retry meets the same rested cell at the same charge and temperature and fails the
    same way, so the fleet counts every retry as a failed attempt costing the failed opening's
    charge. A cell that recovers over minutes (issue 14, problem 5) would be still polarised, lower
    in voltage, and fail too: no wait lets a retry succeed where the rested cell failed, as the
    state of charge only falls. The wait is reported as the holders' time lost (`holder_wait_h`).
    retries: further attempts per failed opening before the holder gives up on it.
    """

    retry_after_s: float = param(90.0, 10.0, 3600.0, "s")
    retries: int = param(2, 0, 10, "")
    citation: str = (
        "Holder behaviour, illustrative (no field data): a retry after 1-2 min, two retries before giving up. "
        "Cell recovery: the battery model's polarisation (battery.polarisation_pairs)."
    )


DEFAULT_RETRY = RetryParams()


@dataclass(frozen=True)
class Usage:
    """Random draws for keys [first_key, first_key + keys), shaped (days, keys), so a reference
    loop can replay them."""

    openings: np.ndarray  # openings per key and day
    in_lock_s: np.ndarray  # seconds a key sat in a lock that day
    soc0: np.ndarray  # (keys,) state of charge on day 0
    first_key: int = 0
    cell: np.ndarray | None = None  # (keys,) index into the site's cell parameter sets; None: one set


@dataclass(frozen=True)
class OpeningTable:
    """`power.simulate_opening` on a grid, for every key and day to read (see the module doc).

    Row i is temperature_C[i]. A completed opening at u in [0, 1] is at soc
    hi + u (1 - hi); a failed one at soc u * lo, with lo < hi the bracket of the search.
    """

    temperature_C: np.ndarray  # (n_T,)
    lo_soc: np.ndarray  # (n_T,) highest soc found to fail (0 if even empty opens)
    min_soc: np.ndarray  # (n_T,) lowest soc found to complete ("hi"); NEVER_SOC if none does
    u: np.ndarray  # (n_u,)
    ok_charge_C: np.ndarray  # (n_T, n_u)
    fail_charge_C: np.ndarray  # (n_T, n_u)

    def on_days(self, temperature_C):
        """The table at each day's temperature (linear in temperature): a `DayTables`."""
        t = np.asanyarray(temperature_C, dtype=float)
        if self.temperature_C.size == 1:
            i, w = np.zeros(t.shape, dtype=int), np.zeros(t.shape)
        else:
            i = np.clip(np.searchsorted(self.temperature_C, t, side="right") - 1, 0, self.temperature_C.size - 2)
            w = np.clip((t - self.temperature_C[i]) / np.diff(self.temperature_C)[i], 0.0, 1.0)
        j = np.minimum(i + 1, self.temperature_C.size - 1)

        def lerp(a):
            wa = w.reshape(w.shape + (1,) * (a.ndim - 1))
            return (1.0 - wa) * a[i] + wa * a[j]

        return DayTables(
            lo_soc=lerp(self.lo_soc),
            min_soc=lerp(self.min_soc),
            u=self.u,
            ok_charge_C=lerp(self.ok_charge_C),
            fail_charge_C=lerp(self.fail_charge_C),
        )


@dataclass(frozen=True)
class DayTables:
    """`OpeningTable` read at each day's temperature; index it with `[d]` to get one day."""

    lo_soc: np.ndarray  # (days,)
    min_soc: np.ndarray  # (days,)
    u: np.ndarray  # (n_u,)
    ok_charge_C: np.ndarray  # (days, n_u)
    fail_charge_C: np.ndarray  # (days, n_u)

    def __getitem__(self, d):
        return DayTables(self.lo_soc[d], self.min_soc[d], self.u, self.ok_charge_C[d], self.fail_charge_C[d])

    def opens(self, soc):
        """Whether an opening at `soc` completes (one day)."""
        return np.asanyarray(soc) >= self.min_soc

    def ok_charge(self, soc):
        """Charge of a completed opening at `soc` [C] (one day; soc at or above min_soc)."""
        hi = float(np.minimum(self.min_soc, 1.0))
        span = 1.0 - hi
        u = np.clip((np.asanyarray(soc) - hi) / span, 0.0, 1.0) if span > 0 else np.zeros(np.shape(soc))
        return np.interp(u, self.u, self.ok_charge_C)

    def fail_charge(self, soc):
        """Charge of a failed opening at `soc` [C] (one day; soc below min_soc)."""
        lo = float(self.lo_soc)
        u = np.clip(np.asanyarray(soc) / lo, 0.0, 1.0) if lo > 0 else np.zeros(np.shape(soc))
        return np.interp(u, self.u, self.fail_charge_C)


def opening_succeeds(result):
    """An opening counts only if the lock opened and the key did not reset on the way."""
    return np.asanyarray(result.completed) & ~np.asanyarray(getattr(result, "key_reset", False))


def opening_table(temperature_C, battery=CR2032, lock=DEFAULT_LOCK, grid_K=2.5, n_u=65, search_points=64):
    """Tabulate `power.simulate_opening` for the temperatures in `temperature_C`; see `OpeningTable`.

    The temperature grid spans the given temperatures in `grid_K` steps. `min_soc` is bracketed on
    `search_points` + 1 points over [0, 1] (empty and full included), then once more on
    `search_points` inside the bracket, all temperatures at once: the bracket ends 1 / 65^2 = 2.4e-4
    wide by default, in three calls of `simulate_opening` in all. Assumes an opening that completes
    at some charge completes at every higher one. Tables are cached per (battery, lock, grid):
    the parameter sets are frozen dataclasses, so a changed parameter is a different key.
    """
    t = np.asanyarray(temperature_C, dtype=float)
    low = max(battery.min_temperature_C, grid_K * np.floor(t.min() / grid_K))
    high = min(battery.max_temperature_C, grid_K * np.ceil(t.max() / grid_K))
    grid_C = np.arange(low, high + grid_K / 2, grid_K) if high > low else np.array([low])
    try:
        cache_key = (battery, lock, tuple(grid_C.tolist()), n_u, search_points)
        hash(cache_key)
    except TypeError:  # a parameter set holding arrays: no caching
        return _opening_table(grid_C, battery, lock, n_u, search_points)
    if cache_key not in _TABLES:
        _TABLES[cache_key] = _opening_table(grid_C, battery, lock, n_u, search_points)
    return _TABLES[cache_key]


_TABLES: dict = {}


def _bracket(soc, ok, lo, hi):
    """Narrow [lo, hi] per row to the first completing point of `soc` (rows) and the one before it."""
    rows = np.arange(soc.shape[0])
    n = soc.shape[1]
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), n)
    new_hi = np.where(first < n, soc[rows, np.minimum(first, n - 1)], hi)
    new_lo = np.where(first > 0, soc[rows, np.maximum(first - 1, 0)], lo)
    return new_lo, new_hi


def _opening_table(grid_C, battery, lock, n_u, search_points):
    column = grid_C[:, None]
    soc = np.broadcast_to(np.linspace(0.0, 1.0, search_points + 1), (grid_C.size, search_points + 1))
    ok = opening_succeeds(power.simulate_opening(battery, soc, column, lock))
    full_opens, empty_opens = ok[:, -1], ok[:, 0]
    lo, hi = _bracket(soc, ok, np.zeros(grid_C.size), np.ones(grid_C.size))
    inside = (hi - lo)[:, None] * np.linspace(0.0, 1.0, search_points + 2)[1:-1] + lo[:, None]
    refine = full_opens & ~empty_opens
    if refine.any():
        ok = opening_succeeds(power.simulate_opening(battery, inside[refine], column[refine], lock))
        lo[refine], hi[refine] = _bracket(inside[refine], ok, lo[refine], hi[refine])
    lo = np.where(full_opens, lo, 1.0)
    # Denser at both ends: the charge bends most next to the threshold, on either side of it.
    u = (1.0 - np.cos(np.pi * np.linspace(0.0, 1.0, n_u))) / 2.0
    ok_soc = np.minimum(hi, 1.0)[:, None] + (1.0 - np.minimum(hi, 1.0))[:, None] * u
    fail_soc = lo[:, None] * u
    both = power.simulate_opening(battery, np.stack([ok_soc, fail_soc]), column, lock).charge_C
    return OpeningTable(
        temperature_C=grid_C,
        lo_soc=lo,
        min_soc=np.where(full_opens, hi, NEVER_SOC),
        u=u,
        # A temperature where nothing opens has no completed charge: the failed one at full stands in.
        ok_charge_C=np.where(full_opens[:, None], both[0], both[1][:, -1:]),
        fail_charge_C=both[1],
    )


def site_temperature_C(day, site=DEFAULT_SITE):
    """Daily mean temperature [degC] on `day` (0 = 1 January)."""
    phase = 2.0 * np.pi * (np.asanyarray(day, dtype=float) - site.warmest_day) / 365.0
    return site.mean_temperature_C + site.amplitude_C * np.cos(phase)


def _draw_block(block, days, site, seed):
    """One block's draws: its own generator, so the block's numbers never depend on the chunking."""
    rng = np.random.default_rng([seed, block])
    rate_per_day = site.median_openings_per_day * rng.lognormal(0.0, site.openings_sigma, RNG_BLOCK_KEYS)
    openings = rng.poisson(rate_per_day, size=(days, RNG_BLOCK_KEYS)).astype(np.int32)
    left = rng.random((days, RNG_BLOCK_KEYS)) < site.left_in_lock_per_day
    in_lock_s = np.zeros((days, RNG_BLOCK_KEYS))
    in_lock_s[left] = rng.random(int(left.sum())) * site.left_in_lock_max_h * 3600.0
    soc0 = rng.uniform(site.initial_soc_min, site.initial_soc_max, RNG_BLOCK_KEYS)
    return openings, in_lock_s, soc0


def _draw_cells(block, seed, weights):
    """Which cell parameter set each key of a block carries, from a generator of its own, so
    adding cells changes no other draw."""
    return np.random.default_rng([seed, block, 1]).choice(len(weights), size=RNG_BLOCK_KEYS, p=weights).astype(np.int16)


def draw_usage(n_keys, days, site=DEFAULT_SITE, seed=0, first_key=0, cell_weights=None):
    """Draw openings, time left in locks and starting charge for keys [first_key, first_key + n_keys),
    and with `cell_weights` (one per cell parameter set, summing to 1) which set each key carries."""
    n_keys = int(check_range("n_keys", n_keys, 1, 10_000_000))
    days = int(check_range("days", days, 1, 36_500, "day"))
    seed = int(check_range("seed", seed, 0, 2**63 - 1))
    first_key = int(check_range("first_key", first_key, 0, 10_000_000))
    openings = np.empty((days, n_keys), dtype=np.int32)
    in_lock_s = np.empty((days, n_keys))
    soc0 = np.empty(n_keys)
    weights = None if cell_weights is None else _check_weights(cell_weights)
    cell = None if weights is None else np.empty(n_keys, dtype=np.int16)
    end = first_key + n_keys
    for block in range(first_key // RNG_BLOCK_KEYS, (end - 1) // RNG_BLOCK_KEYS + 1):
        b0 = block * RNG_BLOCK_KEYS
        lo, hi = max(first_key, b0), min(end, b0 + RNG_BLOCK_KEYS)
        o, s, q = _draw_block(block, days, site, seed)
        openings[:, lo - first_key : hi - first_key] = o[:, lo - b0 : hi - b0]
        in_lock_s[:, lo - first_key : hi - first_key] = s[:, lo - b0 : hi - b0]
        soc0[lo - first_key : hi - first_key] = q[lo - b0 : hi - b0]
        if cell is not None and weights is not None:
            cell[lo - first_key : hi - first_key] = _draw_cells(block, seed, weights)[lo - b0 : hi - b0]
    return Usage(openings=openings, in_lock_s=in_lock_s, soc0=soc0, first_key=first_key, cell=cell)


def _check_weights(weights):
    w = check_range("cell_weights", weights, 0.0, 1.0)
    if w.ndim != 1 or w.size < 1 or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"cell_weights must be one weight per cell set, summing to 1; got {weights!r}")
    return w / w.sum()


@dataclass(frozen=True)
class FleetResult:
    """Per-key summaries (keys,), per-day counts, and the table the run read."""

    day: np.ndarray  # (days + 1,)
    temperature_C: np.ndarray  # (days,) daily mean
    min_soc: np.ndarray  # (days,) lowest state of charge at which every cell set opens that day
    warn_soc: float  # the low-battery threshold the crossings are counted at
    retry: RetryParams
    # Per key.
    final_soc: np.ndarray  # (keys,)
    crossing_day: np.ndarray  # (keys,) first day at or below warn_soc; -1 if not within the run
    failures: np.ndarray  # (keys,) openings that failed after every retry
    retries: np.ndarray  # (keys,) retries of failed openings (each one failed too)
    key_days_unable: np.ndarray  # (keys,) days with at least one failed opening
    first_failure_day: np.ndarray  # (keys,) -1 if none
    # Per day (exact integer counts, the same whatever the chunking).
    failures_per_day: np.ndarray  # (days,)
    keys_unable_per_day: np.ndarray  # (days,)
    keys_at_or_below_warn: np.ndarray  # (days + 1,)
    soc_histogram: np.ndarray  # (days + 1, SOC_BINS): keys per 0.5 % of charge
    soc: np.ndarray | None = field(default=None)  # (days + 1, keys) only if kept
    cell: np.ndarray | None = field(default=None)  # (keys,) each key's cell set, if the site has several

    def summary(self):
        """The site's year in a few numbers."""
        return {
            "keys": int(self.final_soc.size),
            "days": int(self.temperature_C.size),
            "failed_openings": int(self.failures.sum()),
            "retries": int(self.retries.sum()),
            "failed_attempts": int(self.failures.sum() + self.retries.sum()),
            "keys_affected": int((self.failures > 0).sum()),
            "key_days_unable": int(self.key_days_unable.sum()),
            "keys_crossing_warn": int((self.crossing_day >= 0).sum()),
            "holder_wait_h": round(float(self.retries.sum()) * self.retry.retry_after_s / 3600.0, 1),
            "keys_failing_before_warning": int(
                ((self.first_failure_day >= 0) & ((self.crossing_day < 0) | (self.first_failure_day < self.crossing_day))).sum()
            ),
        }

    def soc_percentiles(self, q):
        """State of charge at percentiles `q` [0..100] per day, (len(q), days + 1), from the histogram:
        linear within a 0.5 % bin, so within 0.5 % of the exact percentile."""
        cum = np.cumsum(self.soc_histogram, axis=1)
        before = cum - self.soc_histogram
        rows = np.arange(cum.shape[0])
        out = []
        for p in np.atleast_1d(q):
            target = p / 100.0 * cum[:, -1]
            b = np.minimum((cum < target[:, None]).sum(axis=1), SOC_BINS - 1)
            count = np.maximum(self.soc_histogram[rows, b], 1)
            out.append((b + np.clip((target - before[rows, b]) / count, 0.0, 1.0)) / SOC_BINS)
        return np.array(out)


def _soc_bins(soc):
    return np.bincount(np.minimum((soc * SOC_BINS).astype(np.int64), SOC_BINS - 1), minlength=SOC_BINS)


def simulate(
    usage,
    temperature_C,
    table,
    battery=CR2032,
    key=DEFAULT_KEY_LOAD,
    site=DEFAULT_SITE,
    retry=DEFAULT_RETRY,
    *,
    warn_soc,
    keep_soc=False,
    cells=None,
):
    """Run the keys of `usage` day by day, vectorised over keys; see the module doc and `FleetResult`.

    `cells`: a sequence of (BatteryParams, OpeningTable), one per cell parameter set (vendors, or a
    sample of cells), indexed by `usage.cell`; without it every key has `battery` and `table`.
    """
    temperature_C = np.asanyarray(temperature_C, dtype=float)
    days, n_keys = usage.openings.shape
    if temperature_C.shape != (days,):
        raise ValueError(f"temperature_C must have one value per day ({days}); got shape {temperature_C.shape}")
    cells = ((battery, table),) if cells is None else tuple(cells)
    group = np.zeros(n_keys, dtype=np.int16) if usage.cell is None else np.asanyarray(usage.cell)
    if group.shape != (n_keys,) or group.min() < 0 or group.max() >= len(cells):
        raise ValueError(f"usage.cell must index the {len(cells)} cell set(s), one per key")
    members = [np.flatnonzero(group == g) for g in range(len(cells))]
    day_tables = [t.on_days(temperature_C) for _, t in cells]
    capacities_C = np.array([drn.capacity_C(b) for b, _ in cells])
    steady_C = (key.sleep_current_A + site.advertising_fraction * key.advertising_current_A) * drn.SECONDS_PER_DAY
    # (cells, days): each set's own capacity and self-discharge.
    steady_soc = (
        steady_C / capacities_C[:, None] + np.array([bat.self_discharge_per_s(temperature_C, b) for b, _ in cells]) * drn.SECONDS_PER_DAY
    )
    single = len(cells) == 1
    capacity_C = capacities_C[0] if single else capacities_C[group]
    idle_soc_per_s = key.lock_idle_current_A / capacity_C
    attempts_per_failure = 1 + int(retry.retries)

    def per_key(d, name, soc):
        """A day's table lookup for every key, each from its own cell set's table."""
        if single:
            return getattr(day_tables[0][d], name)(soc)
        out = np.empty(n_keys)
        for g, idx in enumerate(members):
            if idx.size:
                out[idx] = getattr(day_tables[g][d], name)(soc[idx])
        return out

    soc = usage.soc0.astype(float).copy()
    kept = np.empty((days + 1, n_keys)) if keep_soc else None
    crossing = np.full(n_keys, -1, dtype=np.int64)
    failures = np.zeros(n_keys, dtype=np.int64)
    unable_days = np.zeros(n_keys, dtype=np.int64)
    first_failure = np.full(n_keys, -1, dtype=np.int64)
    failures_per_day = np.zeros(days, dtype=np.int64)
    keys_unable_per_day = np.zeros(days, dtype=np.int64)
    at_or_below = np.zeros(days + 1, dtype=np.int64)
    histogram = np.zeros((days + 1, SOC_BINS), dtype=np.int64)

    def record(d):
        below = soc <= warn_soc
        crossing[(crossing < 0) & below] = d
        at_or_below[d] = int(below.sum())
        histogram[d] = _soc_bins(soc)
        if kept is not None:
            kept[d] = soc

    record(0)
    for d in range(days):
        n = usage.openings[d]
        min_soc = day_tables[0].min_soc[d] if single else np.array([t.min_soc[d] for t in day_tables])[group]
        ok_soc = per_key(d, "ok_charge", soc) / capacity_C
        room = (soc - min_soc) / ok_soc
        n_ok = np.where(soc >= min_soc, np.minimum(n, np.floor(room) + 1), 0).astype(np.int64)
        soc = soc - n_ok * ok_soc
        n_fail = n - n_ok
        failing = n_fail > 0
        if failing.any():
            soc = soc - n_fail * attempts_per_failure * (per_key(d, "fail_charge", soc) / capacity_C)
            failures += n_fail
            unable_days += failing
            first_failure[(first_failure < 0) & failing] = d
            failures_per_day[d] = int(n_fail.sum())
            keys_unable_per_day[d] = int(failing.sum())
        soc -= usage.in_lock_s[d] * idle_soc_per_s + (steady_soc[0, d] if single else steady_soc[group, d])
        np.maximum(soc, 0.0, out=soc)
        record(d + 1)

    return FleetResult(
        day=np.arange(days + 1),
        temperature_C=temperature_C,
        min_soc=np.max([t.min_soc for t in day_tables], axis=0),
        warn_soc=warn_soc,
        retry=retry,
        final_soc=soc,
        crossing_day=crossing,
        failures=failures,
        retries=failures * int(retry.retries),
        key_days_unable=unable_days,
        first_failure_day=first_failure,
        failures_per_day=failures_per_day,
        keys_unable_per_day=keys_unable_per_day,
        keys_at_or_below_warn=at_or_below,
        soc_histogram=histogram,
        soc=kept,
        cell=usage.cell,
    )


def _combine(parts):
    """One site's result from its chunks' (keys in order); every per-day figure is an integer sum."""
    first = parts[0]

    def cat(name):
        return np.concatenate([getattr(p, name) for p in parts])

    def total(name):
        return np.sum([getattr(p, name) for p in parts], axis=0)

    return FleetResult(
        day=first.day,
        temperature_C=first.temperature_C,
        min_soc=first.min_soc,
        warn_soc=first.warn_soc,
        retry=first.retry,
        final_soc=cat("final_soc"),
        crossing_day=cat("crossing_day"),
        failures=cat("failures"),
        retries=cat("retries"),
        key_days_unable=cat("key_days_unable"),
        first_failure_day=cat("first_failure_day"),
        failures_per_day=total("failures_per_day"),
        keys_unable_per_day=total("keys_unable_per_day"),
        keys_at_or_below_warn=total("keys_at_or_below_warn"),
        soc_histogram=total("soc_histogram"),
        soc=np.concatenate([p.soc for p in parts], axis=1) if first.soc is not None else None,
        cell=np.concatenate([p.cell for p in parts]) if first.cell is not None else None,
    )


def run_site(
    n_keys=10_000,
    days=365,
    site=DEFAULT_SITE,
    battery=CR2032,
    key=DEFAULT_KEY_LOAD,
    seed=0,
    *,
    warn_soc,
    lock=DEFAULT_LOCK,
    retry=DEFAULT_RETRY,
    chunk_keys=DEFAULT_CHUNK_KEYS,
    keep_soc=False,
    table=None,
    cells=None,
    cell_weights=None,
):
    """Draw a site's usage and simulate it chunk by chunk of keys; see `FleetResult`.

    `table` reuses an `OpeningTable` (it must cover the site's temperatures); by default one is
    built for this site, battery and lock. `cells`: several cell parameter sets (e.g. per vendor)
    instead of `battery`, each key drawing one with `cell_weights` (default: equal); each set gets
    its own table.
    """
    n_keys = int(check_range("n_keys", n_keys, 1, 10_000_000))
    days = int(check_range("days", days, 1, 36_500, "day"))
    chunk_keys = int(check_range("chunk_keys", chunk_keys, 1, 10_000_000))
    temperature_C = site_temperature_C(np.arange(days), site)
    weights = None
    cell_tables = None
    if cells is not None:
        cells = tuple(cells)
        weights = np.full(len(cells), 1.0 / len(cells)) if cell_weights is None else cell_weights
        if len(np.atleast_1d(weights)) != len(cells):
            raise ValueError(f"cell_weights needs one weight per cell set ({len(cells)})")
        cell_tables = [(b, opening_table(temperature_C, b, lock)) for b in cells]
        battery = cells[0]
    if table is None:
        table = cell_tables[0][1] if cell_tables else opening_table(temperature_C, battery, lock)
    parts = []
    for first_key in range(0, n_keys, chunk_keys):
        usage = draw_usage(min(chunk_keys, n_keys - first_key), days, site, seed, first_key, cell_weights=weights)
        parts.append(
            simulate(usage, temperature_C, table, battery, key, site, retry, warn_soc=warn_soc, keep_soc=keep_soc, cells=cell_tables)
        )
        del usage
    return _combine(parts)


def crossing_day(soc, threshold):
    """First day index at or below `threshold` per key; -1 where it never gets there."""
    below = np.asanyarray(soc) <= threshold
    return np.where(below.any(axis=0), below.argmax(axis=0), -1)
