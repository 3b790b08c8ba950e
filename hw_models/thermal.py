"""Lumped thermal network: padlock body and keyhole/electronics, each losing heat to ambient.

    C_i dT_i/dt = P_i - hA_i (T_i - T_amb) - G (T_i - T_j)          [W]

Node 0 is the body, node 1 the keyhole and electronics. The step is the exact zero-order-hold
solution for heat and ambient constant over the step (matrix exponential), so it is stable for
any `dt_s` and agrees with the closed form of a single node, tau = m c_p / (h A).

Why heating the body is safe and the keyhole is not: the body is ten times the heat capacity and
the electronics see it only through a poor coupling, so they lag and the body's heat spreads over
both; heat into the keyhole lands on the small node directly.

The documented case (tests/hw_models/test_thermal.py), 300 W absorbed at 20 degC ambient with the
default padlock: into the body for 60 s the electronics peak at 50 degC, and even 2 minutes keeps
them at 80.5 degC; into the keyhole they pass 85 degC after 7 s. Past the limit the numbers only
say "destroyed": the model is linear and knows nothing of melting solder.
"""

import numpy as np

from .params import DEFAULT_THERMAL, check_range

BODY, ELECTRONICS = 0, 1
PARTS = {"body": BODY, "keyhole": ELECTRONICS}


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
    g = params.coupling_W_per_K
    return np.array([[params.body_hA_W_per_K + g, -g], [-g, params.core_hA_W_per_K + g]])


def discretize(params, dt_s):
    """(Phi, Gamma) with T_next = Phi @ T + Gamma @ q, q = P + hA * T_amb, exact for constant q."""
    dt_s = float(check_range("dt_s", dt_s, 1e-6, 3600.0, "s"))
    inv_c = np.diag(1.0 / params.heat_capacity_J_per_K)
    a = -inv_c @ conductance_matrix_W_per_K(params)
    # Van Loan's augmented matrix gives both blocks without inverting A (A may be singular).
    augmented = np.zeros((4, 4))
    augmented[:2, :2] = a * dt_s
    augmented[:2, 2:] = inv_c * dt_s
    e = _expm(augmented)
    return e[:2, :2], e[:2, 2:]


def step(temperature_C, heat_W, dt_s, ambient_C, params=DEFAULT_THERMAL):
    """Advance node temperatures [degC] (..., 2) by `dt_s` under heat [W] (..., 2) and ambient [degC]."""
    phi, gamma = discretize(params, dt_s)
    hA = np.array([params.body_hA_W_per_K, params.core_hA_W_per_K])
    q_W = np.asanyarray(heat_W, dtype=float) + hA * np.asanyarray(ambient_C, dtype=float)[..., None]
    return np.asanyarray(temperature_C) @ phi.T + q_W @ gamma.T


def simulate(heat_W, dt_s, ambient_C, params=DEFAULT_THERMAL, initial_C=None):
    """Temperatures (n + 1, ..., 2) [degC] under heat_W (n, ..., 2) [W]; ambient scalar or (n, ...).

    Starts at `initial_C` (default: ambient at the first step).
    """
    heat_W = np.asanyarray(heat_W, dtype=float)
    check_range("heat_W", heat_W, 0.0, 1e5, "W")
    n = heat_W.shape[0]
    ambient_C = np.broadcast_to(check_range("ambient_C", ambient_C, -60.0, 80.0, "degC"), heat_W.shape[:-1])
    phi, gamma = discretize(params, dt_s)
    hA = np.array([params.body_hA_W_per_K, params.core_hA_W_per_K])
    q_W = heat_W + hA * ambient_C[..., None]
    out_C = np.empty((n + 1,) + heat_W.shape[1:])
    out_C[0] = np.repeat(ambient_C[0][..., None], 2, axis=-1) if initial_C is None else initial_C
    drive_C = q_W @ gamma.T  # every step's forcing in one product; only the recursion loops
    for k in range(n):
        out_C[k + 1] = out_C[k] @ phi.T + drive_C[k]
    return out_C


def seconds_above(temperature_C, dt_s, limit_C):
    """Time a sampled trace spends above `limit_C` [s] (samples dt_s apart, along axis 0)."""
    return np.sum(np.asanyarray(temperature_C) > limit_C, axis=0) * dt_s


def heating_response(part, heat_W, heating_s, ambient_C=20.0, params=DEFAULT_THERMAL, dt_s=1.0, after_s=None):
    """Heat `part` ("body" or "keyhole") with `heat_W` [W] for `heating_s` [s], then let it cool.

    The run goes on `after_s` after the heat stops (default 10 min) because the electronics keep
    warming while the hot body gives its heat up. Returns a dict of traces and the answers
    `max_electronics_C` and `seconds_above_limit` (electronics above `params.limit_C`).
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    check_range("heat_W", heat_W, 0.0, 1e5, "W")
    check_range("heating_s", heating_s, 0.0, 86_400.0, "s")
    after_s = 600.0 if after_s is None else after_s
    n_heat = int(round(heating_s / dt_s))
    n = n_heat + int(round(after_s / dt_s))
    power_W = np.zeros((n, 2))
    power_W[:n_heat, PARTS[part]] = heat_W
    temps_C = simulate(power_W, dt_s, ambient_C, params)
    electronics_C = temps_C[:, ELECTRONICS]
    return {
        "time_s": np.arange(n + 1) * dt_s,
        "body_C": temps_C[:, BODY],
        "electronics_C": electronics_C,
        "max_electronics_C": float(electronics_C.max()),
        "max_body_C": float(temps_C[:, BODY].max()),
        "seconds_above_limit": float(seconds_above(electronics_C, dt_s, params.limit_C)),
        "limit_C": params.limit_C,
    }
