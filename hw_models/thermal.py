"""Lumped thermal network of a stated padlock: body, keyhole/electronics and the flame spot.

    C_i dT_i/dt = P_i - hA_i (T_i - T_amb) - sum_j G_ij (T_i - T_j)          [W]

Node 0 is the body (its steel less the flame spot), node 1 the brass core holding the
electronics, node 2 the steel under a flame on the body's face (~10 cm^2): it conducts into the
body by spreading, the core touches the body by metal contact, so the electronics see a flame
only through the body. All three come from a stated padlock (params.Padlock,
ThermalParams.from_padlock). The step is the exact zero-order-hold solution for heat and ambient
constant over the step (matrix exponential), so it is stable for any `dt_s` and agrees with the
closed form of a single node, tau = m c_p / (h A).

Why a flame spot: a flame heats a small patch of the surface, which runs far hotter than the
bulk (its spreading resistance, ~0.34 K/W for 10 cm^2 of steel, carries the whole flame), while
the electronics follow the bulk. Heat into the keyhole lands on the small core directly.

The documented cases (tests/hw_models/test_thermal.py, test_thermal_padlock.py), 300 W absorbed
at 20 degC ambient. The default 0.8 kg padlock ("steel-60mm"): 60 s into the body keeps the
electronics at 65 degC, two minutes cooks them (110 degC); into the keyhole they pass 85 degC
within seconds. The 0.4 kg padlock ("steel-45mm") reaches 111 degC from the same 60 s. A 300 W
flame raises its 10 cm^2 spot to ~145-165 degC while the bulk is at 70-77 degC; `safe_heating_s`
answers how long it may play, after-heat included: 87.6 s on the heavy padlock, 43.5 s on the
light one (`keylock physics thermal --padlock NAME --heat-W W --ambient-C C`). Past the limit the numbers only say "destroyed":
the model is linear and knows nothing of melting solder, radiation or a varying h.
"""

import math

import numpy as np

from .params import DEFAULT_THERMAL, Padlock, ThermalParams, check_range, padlock_by_name

BODY, ELECTRONICS, SURFACE = 0, 1, 2
N_NODES = 3
PARTS = {"body": BODY, "keyhole": ELECTRONICS, "flame": SURFACE}
# How long after the heat stops to look for the electronics' peak: the core and the flame spot
# settle with the body in tens of seconds; the body cools over tens of minutes.
AFTER_HEAT_S = 1800.0
AFTER_HEAT_DT_S = 0.5
MAX_HEATING_S = 86_400.0


def first_order_tau_s(mass_kg, cp_J_per_kg_K, hA_W_per_K):
    """Time constant m c_p / (h A) of a single node [s]."""
    return np.asanyarray(mass_kg) * np.asanyarray(cp_J_per_kg_K) / np.asanyarray(hA_W_per_K)


def first_order_rise_K(time_s, heat_W, hA_W_per_K, tau_s):
    """Closed-form rise of a single node over ambient under a heat step: P/hA (1 - e^(-t/tau)) [K]."""
    return np.asanyarray(heat_W) / hA_W_per_K * -np.expm1(-np.asanyarray(time_s) / tau_s)


def _expm(matrix):
    """Matrix exponential by scaling and squaring with a Taylor series (no scipy needed)."""
    norm = np.abs(matrix).sum(axis=1).max()
    squarings = max(0, int(np.ceil(np.log2(norm))) + 1) if norm > 0 else 0
    scaled = matrix / 2.0**squarings
    result = np.eye(matrix.shape[0])
    term = np.eye(matrix.shape[0])
    for k in range(1, 20):
        term = term @ scaled / k
        result = result + term
    for _ in range(squarings):
        result = result @ result
    return result


def conductance_matrix_W_per_K(params):
    """K such that net heat into the nodes is P + hA*T_amb - K @ T [W/K]."""
    g, f = params.coupling_W_per_K, params.flame_coupling_W_per_K
    k = np.diag(params.hA_W_per_K)
    k += np.array([[g + f, -g, -f], [-g, g, 0.0], [-f, 0.0, f]])
    return k


def _transition(params, dt_s):
    """(Phi, Gamma) over dt_s with no range check (the heating answers need long spans)."""
    inv_c = np.diag(1.0 / params.heat_capacity_J_per_K)
    a = -inv_c @ conductance_matrix_W_per_K(params)
    # Van Loan's augmented matrix gives both blocks without inverting A (A may be singular).
    augmented = np.zeros((2 * N_NODES, 2 * N_NODES))
    augmented[:N_NODES, :N_NODES] = a * dt_s
    augmented[:N_NODES, N_NODES:] = inv_c * dt_s
    e = _expm(augmented)
    return e[:N_NODES, :N_NODES], e[:N_NODES, N_NODES:]


def discretize(params, dt_s):
    """(Phi, Gamma) with T_next = Phi @ T + Gamma @ q, q = P + hA * T_amb, exact for constant q."""
    dt_s = float(check_range("dt_s", dt_s, 1e-6, 3600.0, "s"))
    return _transition(params, dt_s)


def _heat_by_node(heat_W):
    """Heat as (..., 3): a caller that knows only body and electronics may pass (..., 2), the
    flame spot then unheated (exact: a zero column)."""
    heat_W = np.asanyarray(heat_W, dtype=float)
    if heat_W.shape[-1:] == (2,):
        heat_W = np.concatenate([heat_W, np.zeros(heat_W.shape[:-1] + (1,))], axis=-1)
    if heat_W.shape[-1:] != (N_NODES,):
        raise ValueError(f"heat_W must end in {N_NODES} nodes (body, keyhole, flame); got shape {heat_W.shape}")
    return heat_W


def step(temperature_C, heat_W, dt_s, ambient_C, params=DEFAULT_THERMAL):
    """Advance node temperatures [degC] (..., 3) by `dt_s` under heat [W] (..., 3) and ambient [degC]."""
    phi, gamma = discretize(params, dt_s)
    q_W = _heat_by_node(heat_W) + params.hA_W_per_K * np.asanyarray(ambient_C, dtype=float)[..., None]
    return np.asanyarray(temperature_C) @ phi.T + q_W @ gamma.T


def simulate(heat_W, dt_s, ambient_C, params=DEFAULT_THERMAL, initial_C=None):
    """Temperatures (n + 1, ..., 3) [degC] under heat_W (n, ..., 3) [W]; ambient scalar or (n, ...).

    Starts at `initial_C` (default: ambient at the first step).
    """
    heat_W = np.asanyarray(heat_W, dtype=float)
    check_range("heat_W", heat_W, 0.0, 1e5, "W")
    heat_W = _heat_by_node(heat_W)
    n = heat_W.shape[0]
    ambient_C = np.broadcast_to(check_range("ambient_C", ambient_C, -60.0, 80.0, "degC"), heat_W.shape[:-1])
    phi, gamma = discretize(params, dt_s)
    q_W = heat_W + params.hA_W_per_K * ambient_C[..., None]
    out_C = np.empty((n + 1,) + heat_W.shape[1:])
    out_C[0] = np.repeat(ambient_C[0][..., None], N_NODES, axis=-1) if initial_C is None else initial_C
    drive_C = q_W @ gamma.T  # every step's forcing in one product; only the recursion loops
    for k in range(n):
        out_C[k + 1] = out_C[k] @ phi.T + drive_C[k]
    return out_C


def seconds_above(temperature_C, dt_s, limit_C):
    """Time a sampled trace spends above `limit_C` [s] (samples dt_s apart, along axis 0)."""
    return np.sum(np.asanyarray(temperature_C) > limit_C, axis=0) * dt_s


def _node(part):
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    return PARTS[part]


def heating_response(part, heat_W, heating_s, ambient_C=20.0, params=DEFAULT_THERMAL, dt_s=1.0, after_s=None):
    """Heat `part` ("body", "keyhole" or "flame") with `heat_W` [W] for `heating_s` [s], then let it cool.

    The run goes on `after_s` after the heat stops (default 10 min) because the electronics keep
    warming while the hot body gives its heat up. Returns a dict of traces and the answers
    `max_electronics_C` and `seconds_above_limit` (electronics above `params.limit_C`).
    """
    node = _node(part)
    check_range("heat_W", heat_W, 0.0, 1e5, "W")
    check_range("heating_s", heating_s, 0.0, MAX_HEATING_S, "s")
    after_s = 600.0 if after_s is None else after_s
    n_heat = int(round(heating_s / dt_s))
    n = n_heat + int(round(after_s / dt_s))
    power_W = np.zeros((n, N_NODES))
    power_W[:n_heat, node] = heat_W
    temps_C = simulate(power_W, dt_s, ambient_C, params)
    electronics_C = temps_C[:, ELECTRONICS]
    return {
        "time_s": np.arange(n + 1) * dt_s,
        "body_C": temps_C[:, BODY],
        "electronics_C": electronics_C,
        "surface_C": temps_C[:, SURFACE],
        "max_electronics_C": float(electronics_C.max()),
        "max_body_C": float(temps_C[:, BODY].max()),
        "max_surface_C": float(temps_C[:, SURFACE].max()),
        "seconds_above_limit": float(seconds_above(electronics_C, dt_s, params.limit_C)),
        "limit_C": params.limit_C,
    }


def _params_of(padlock):
    """A padlock (Padlock or its name) or a ThermalParams, as ThermalParams."""
    if isinstance(padlock, ThermalParams):
        return padlock
    if isinstance(padlock, str):
        padlock = padlock_by_name(padlock)
    if not isinstance(padlock, Padlock):
        raise ValueError(f"padlock must be a Padlock, its name or ThermalParams; got {type(padlock).__name__}")
    return ThermalParams.from_padlock(padlock)


class _HeatingAnswer:
    """Rises over ambient for heat into one node, in closed form: the state at the end of a
    heating of any length (one matrix exponential) and the after-heat peak of the electronics
    (one product with the free response's precomputed rows)."""

    def __init__(self, params, node, heat_W):
        self.params = params
        self.heat_W = np.zeros(N_NODES)
        self.heat_W[node] = heat_W
        phi, _gamma = _transition(params, AFTER_HEAT_DT_S)
        rows = [np.eye(N_NODES)[ELECTRONICS]]
        for _ in range(int(AFTER_HEAT_S / AFTER_HEAT_DT_S)):
            rows.append(rows[-1] @ phi)
        self.free_rows = np.array(rows)  # (k, 3): electronics k steps after the heat stops

    def rise_after_K(self, heating_s):
        """Node rises over ambient [K] when `heating_s` of heat stops (rises start at 0)."""
        if heating_s <= 0:
            return np.zeros(N_NODES)
        _phi, gamma = _transition(self.params, heating_s)
        return gamma @ self.heat_W

    def peak_electronics_rise_K(self, heating_s):
        """Highest electronics rise [K] from the start to AFTER_HEAT_S after the heat stops: it
        rises while heating (a positive system's step response is monotone), then the after-heat."""
        return float(np.max(self.free_rows @ self.rise_after_K(heating_s)))

    def steady_rise_K(self):
        return np.linalg.solve(conductance_matrix_W_per_K(self.params), self.heat_W)


def safe_heating(padlock, heat_W, ambient_C, part="flame", resolution_s=0.1):
    """How long heat may go into `part` of `padlock` before the electronics pass the limit.

    Returns a dict: `safe_s` (the longest heating whose peak, after-heat included, stays at or
    under `limit_C`; math.inf if the steady state stays under it; 0 if ambient is already over),
    and at that heating `peak_electronics_C`, `surface_C` and `body_C` when the heat stops, and
    `steady_electronics_C` under endless heating. Found by bisection to `resolution_s`, rounded
    down: longer heating only heats more (the network's response to heat is non-negative).
    """
    params = _params_of(padlock)
    node = _node(part)
    heat_W = float(check_range("heat_W", heat_W, 0.0, 1e5, "W"))
    ambient_C = float(check_range("ambient_C", ambient_C, -60.0, 80.0, "degC"))
    answer = _HeatingAnswer(params, node, heat_W)
    margin_K = params.limit_C - ambient_C
    steady_C = ambient_C + float(answer.steady_rise_K()[ELECTRONICS])
    if margin_K < 0:
        safe_s = 0.0
    elif steady_C <= params.limit_C:
        safe_s = math.inf
    else:
        low_s, high_s = 0.0, 1.0
        while answer.peak_electronics_rise_K(high_s) <= margin_K and high_s < MAX_HEATING_S:
            low_s, high_s = high_s, 2 * high_s
        while high_s - low_s > resolution_s:
            mid_s = (low_s + high_s) / 2
            if answer.peak_electronics_rise_K(mid_s) <= margin_K:
                low_s = mid_s
            else:
                high_s = mid_s
        safe_s = round(math.floor(low_s / resolution_s) * resolution_s, 9)
    at_s = safe_s if math.isfinite(safe_s) else MAX_HEATING_S
    rise_K = answer.rise_after_K(at_s)
    return {
        "safe_s": safe_s,
        "peak_electronics_C": ambient_C + answer.peak_electronics_rise_K(at_s),
        "surface_C": ambient_C + float(rise_K[SURFACE]),
        "body_C": ambient_C + float(rise_K[BODY]),
        "steady_electronics_C": steady_C,
        "limit_C": params.limit_C,
    }


def safe_heating_s(padlock, heat_W, ambient_C, part="flame"):
    """The longest heating [s] of `padlock` (a Padlock or its name) by `heat_W` [W] absorbed from a
    flame on its body before its electronics pass 85 degC, counting the rise after the flame is
    taken away (math.inf: never)."""
    return safe_heating(padlock, heat_W, ambient_C, part)["safe_s"]
