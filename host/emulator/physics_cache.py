"""The physics of an insertion, cached on the cell's state and the transaction's loads.

Stepping the power path a millisecond at a time is most of an emulated opening's cost, and a
site repeats itself: the same key opens the same locks with the same frames, its cell a little
emptier each time. The power path is a pure function of the cell (battery, state of charge,
temperature) and the sequence of loads the transaction asks (`charge`, then `run(name,
duration_s, current_A, until_V)` per frame, motor and audit). So the cache keys a snapshot of
the path after each call on

    (battery, soc floored to SOC_STEP, temperature floored to TEMPERATURE_STEP_C, the calls so far)

and a miss integrates one more call from the previous snapshot, at the floored cell. Floored:
a slightly emptier and colder cell, the weaker side (a fuller cell never fails where an emptier
one opens, as host/server/warning.py assumes). A snapshot is served only while it is far from
every way an opening can fail:

- the lock's rail never fell within MARGIN_V (20 mV) of the lock's brown-out, nor the key's
  supply within MARGIN_V of the key's. The lock's adaptive ready level holds the rail at
  brown-out + `ready_margin_V` (50 mV) under the motor, and the key's switch regulates the key's
  supply at `key_hold_V` (100 mV above its brown-out), so a working opening sits 30-50 mV and
  100 mV above them whatever its cell; a failing one falls through the margin.
- the lock booted within half of `max_charge_s`, and its wait for the reservoir took at most
  half of `max_wait_s` (WAIT_MARGIN). Near the time-out a weak cell's wait grows steeply with
  the state of charge (0.16 s a permille at 20 degC), and there it fires the motor on an
  unready reservoir; the wait is also what the charge of a served snapshot is most off by.
- with the key pulled at `hold_s`, the floored cell's path ended more than HOLD_MARGIN_S
  (0.25 s) before it. The fuller real cell waits less, so it is not pulled either; a pull is
  never served from the cache.
- the insertion has not ended (a brown-out is never served from the cache).

Otherwise the insertion is integrated exactly from its start with the real cell, replaying the
same calls, and stays exact to its end: the outcome is then exactly the uncached one. Served
snapshots differ from the exact path only in the charge (within 4 %, tested), energy, duration
and minimum supply, never in the outcome. What is served is a pure function of the cell and the
calls, never of what the cache happens to hold: a warm and a cold cache give the same results.
"""

import math

from ...hw_models.insertion import CellInsertion

SOC_STEP = 0.01
TEMPERATURE_STEP_C = 1.0
MARGIN_V = 0.020
WAIT_MARGIN = 0.5  # of max_wait_s
HOLD_MARGIN_S = 0.25
MAX_SNAPSHOTS = 200_000  # then the oldest go (a pure function: only its speed changes)


def _apply(path, call):
    if call[0] == "charge":
        return path.charge()
    _run, name, duration_s, current_A, until_V = call
    return path.run(name, duration_s, current_A, until_V)


def _safe(path, hold_s):
    lock = path.lock
    return (
        path.outcome is None
        and (hold_s is None or path.elapsed_s < hold_s - HOLD_MARGIN_S)
        and path.min_rail_V >= lock.brownout_V + MARGIN_V
        and path.min_key_supply_V >= lock.key_brownout_V + MARGIN_V
        and not path.boot_time_s > lock.max_charge_s / 2  # NaN before boot: still charging is fine
        and path.wait_s <= lock.max_wait_s * (1.0 - WAIT_MARGIN)
    )


class InsertionCache:
    """Snapshots of insertions by (cell, calls); `start` gives an insertion served from it."""

    def __init__(self, enabled=True):
        self.enabled = enabled
        self._snapshots = {}
        self.hits = self.misses = self.exact = 0  # calls served, integrated from a snapshot, insertions made exact

    def start(self, battery, soc, temperature_C, lock=None, hold_s=None):
        """An insertion of a cell at `soc` and `temperature_C` [degC] (within the cell's range),
        the key pulled at `hold_s` [s] after insertion (None: it stays as long as needed)."""
        kwargs = {} if lock is None else {"lock": lock}
        exact_args = (battery, soc, temperature_C, kwargs)
        if not self.enabled:
            return CachedInsertion(self, None, CellInsertion(battery, soc, temperature_C, **kwargs), exact_args, hold_s)
        soc_q = math.floor(soc / SOC_STEP + 1e-9) * SOC_STEP
        temperature_q_C = max(math.floor(temperature_C / TEMPERATURE_STEP_C + 1e-9) * TEMPERATURE_STEP_C, battery.min_temperature_C)
        cell = (battery, round(soc_q, 9), round(temperature_q_C, 6), lock)
        path = self._snapshots.get((cell, ()))
        if path is None:
            path = CellInsertion(battery, soc_q, temperature_q_C, **kwargs)
            self._put((cell, ()), path)
        return CachedInsertion(self, cell, path, exact_args, hold_s)

    def _put(self, key, path):
        if len(self._snapshots) >= MAX_SNAPSHOTS:
            del self._snapshots[next(iter(self._snapshots))]
        self._snapshots[key] = path

    def clear(self):
        self._snapshots.clear()


class CachedInsertion:
    """The power.Insertion API (charge, run, copy; outcome, phase, elapsed_s, charge_C, energy_J,
    min_supply_V, lock) over an InsertionCache. A served snapshot is shared: never changed in place."""

    def __init__(self, cache, cell, path, exact_args, hold_s, calls=()):
        self._cache = cache
        self._hold_s = hold_s
        self._cell = cell  # None once exact
        self._path = path
        self._exact_args = exact_args
        self._calls = calls

    def __getattr__(self, name):  # outcome, phase, elapsed_s, charge_C, energy_J, min_supply_V, lock, ...
        return getattr(self.__dict__["_path"], name)

    @property
    def exact(self):
        return self._cell is None

    def copy(self):
        path = self._path.copy() if self.exact else self._path
        return CachedInsertion(self._cache, self._cell, path, self._exact_args, self._hold_s, self._calls)

    def charge(self):
        return self._do(("charge",))

    def run(self, name, duration_s, lock_current_A, until_V=None):
        return self._do(("run", name, float(duration_s), float(lock_current_A), until_V))

    def _do(self, call):
        calls = self._calls + (call,)
        if self.exact:
            self._calls = calls
            return _apply(self._path, call)
        cache = self._cache
        key = (self._cell, calls)
        path = cache._snapshots.get(key)
        if path is None:
            cache.misses += 1
            path = self._path.copy()
            _apply(path, call)
            cache._put(key, path)
        else:
            cache.hits += 1
        self._calls = calls
        if _safe(path, self._hold_s):
            self._path = path
            return path.outcome
        # Near a brown-out or a time-out: the real cell, from the start, the same calls.
        cache.exact += 1
        battery, soc, temperature_C, kwargs = self._exact_args
        path = CellInsertion(battery, soc, temperature_C, **kwargs)
        for done in calls:
            _apply(path, done)
        self._cell, self._path = None, path
        return path.outcome
