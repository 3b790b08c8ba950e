"""The power path of one opening (issue 14): the key's current-limited switch, the key's own supply
and brown-out, the reservoir sized from the motor pulse, the load from the transaction run, the
incremental `Insertion` on the same kernel, and where every millijoule goes.

Sources of the parameters checked here (hw_models/params.py `LockParams`):
- switch limit 110 mA: Nordic nPM2100 LDOSW, register PRGOCP "Select OCP and soft start current
  limits", load-switch settings 40/70/75/80/110 mA (docs.nordicsemi.com); above the 15 and 30 mA
  peaks TI SWRA349 "Coin cells and peak current draw" tested on CR2032s, and a third of the 295 mA
  unlimited in-rush (issue 14);
- key brown-out 1.7 V: nRF52832 supply range 1.7-3.6 V (Nordic product specification,
  shared/reference/hw_parameters.md);
- lock MCU 4.1 mA: TI CC2340R2 datasheet (SWRS282), CoreMark from flash at 48 MHz with GLDO;
- flash 43 us per 32-bit word: Nordic nRF5340 product specification, NVMC tWRITE.
"""

import dataclasses

import numpy as np
import pytest

from keylock.hw_models import battery as bat
from keylock.hw_models import power
from keylock.hw_models.params import CR2032, DEFAULT_LOCK

LOCK = DEFAULT_LOCK
PLAIN_SWITCH = dataclasses.replace(LOCK, key_hold_V=0.0)  # a plain current limit, no input regulation
NO_LIMIT = dataclasses.replace(LOCK, limit_A=10.0, key_hold_V=0.0, switch_ohm=0.0, key_brownout_V=0.0)  # the old direct connection


def test_reference_values_of_the_new_parameters():
    """Each new parameter equals its cited figure (sources in the module docstring)."""
    assert LOCK.limit_A == 110e-3  # nPM2100 LDOSW's highest load-switch limit
    assert LOCK.limit_A > LOCK.motor_current_A  # so a fresh cell feeds the motor directly
    assert LOCK.key_brownout_V == 1.7  # nRF52832 supply minimum
    assert LOCK.mcu_active_current_A == 4.1e-3  # CC2340R2, flash, 48 MHz, GLDO
    assert LOCK.flash_word_write_s == 43e-6  # nRF5340 tWRITE
    assert LOCK.flash_page_erase_s == 87.5e-3  # nRF5340 tERASEPAGE (4 KB page)
    # the reservoir is the formula's, not a fixed 10 mF
    assert LOCK.reservoir_F == pytest.approx(power.reservoir_for_motor_F(LOCK), rel=0.01)


def test_the_inrush_peak_is_limited_to_the_switch_plus_the_key():
    limited = power.simulate_opening(CR2032, 1.0, 20.0)
    assert limited.completed
    assert limited.battery_current_A.max() <= LOCK.limit_A + LOCK.key_active_current_A + 1e-9
    # without the limit the same insertion draws the issue's ~0.3 A spike: the check has teeth
    direct = power.simulate_opening(CR2032, 1.0, 20.0, dataclasses.replace(NO_LIMIT, mcu_rail_F=10e-3))  # the old 10 mF
    assert direct.battery_current_A.max() > 0.25


def test_fresh_cell_at_20C_keeps_the_key_above_its_brownout():
    r = power.simulate_opening(CR2032, 1.0, 20.0)
    assert not r.key_reset and np.isnan(r.key_reset_time_s)
    assert r.min_key_supply_V > LOCK.key_brownout_V + 0.3
    assert r.key_supply_V.min() == pytest.approx(float(r.min_key_supply_V), abs=0.05)
    # the key's supply is the cell's terminal: OCV - R0 * (I_key + I_switch) at the first step
    ocv, r0 = bat.ocv_V(1.0, CR2032), bat.r0_ohm(1.0, 20.0, CR2032)
    assert r.key_supply_V[0] == pytest.approx(float(ocv - r0 * (LOCK.key_active_current_A + LOCK.limit_A)), abs=1e-9)


@pytest.mark.parametrize("soc, temperature_C", [(0.05, -30.0), (0.1, -30.0), (0.2, -20.0), (0.05, 20.0), (0.03, -20.0)])
def test_key_resets_exactly_where_the_cell_cannot_carry_it(soc, temperature_C):
    """With the switch holding the key at key_hold_V, the key resets only when its own current
    alone pulls the cell below 1.7 V: OCV - R0 * I_key < 1.7, at the insertion."""
    r = power.simulate_opening(CR2032, soc, temperature_C)
    v_key_V = bat.ocv_V(soc, CR2032) - bat.r0_ohm(soc, temperature_C, CR2032) * LOCK.key_active_current_A
    assert bool(r.key_reset) == bool(v_key_V < LOCK.key_brownout_V)
    if r.key_reset:
        assert r.key_reset_time_s == 0.0 and r.reset_phase[()] == "charging" and r.browned_out and not r.completed
        assert r.charge_C == 0.0  # the transaction never started: nothing drawn
    else:
        assert r.min_key_supply_V >= LOCK.key_hold_V - 1e-9


def test_weak_cold_cell_with_a_plain_switch_resets_the_key_at_the_inrush():
    """20 % at -20 degC behind a plain 30 mA limit: V_key = OCV - R0 * (I_key + I_in) with the
    reservoir empty, I_in = min(30 mA, E' / R_s): far under 1.7 V, so the key resets at once."""
    soc, temperature_C = 0.2, -20.0
    r = power.simulate_opening(CR2032, soc, temperature_C, PLAIN_SWITCH)
    ocv, r0 = bat.ocv_V(soc, CR2032), bat.r0_ohm(soc, temperature_C, CR2032)
    i_key = LOCK.key_active_current_A
    r_s = r0 + LOCK.contact_ohm + LOCK.switch_ohm
    i_in = min(LOCK.limit_A, float((ocv - r0 * i_key) / r_s))
    expected_V = float(ocv - r0 * (i_key + i_in))
    assert expected_V < LOCK.key_brownout_V
    assert r.key_reset and r.key_reset_time_s == 0.0 and r.reset_phase[()] == "charging"
    assert r.min_key_supply_V == pytest.approx(expected_V, abs=1e-9)
    # the same key behind the regulating switch boots the lock, which then fails at the motor
    held = power.simulate_opening(CR2032, soc, temperature_C)
    assert not held.key_reset and held.booted and held.reset_phase[()] == "motor"
    # and a fresh cell at 20 degC behind the plain switch keeps its key: 3.25 V - 10 ohm * 112 mA
    assert not power.simulate_opening(CR2032, 1.0, 20.0, PLAIN_SWITCH).key_reset


@pytest.mark.parametrize("soc, temperature_C", [(1.0, 20.0), (0.2, -20.0), (0.5, -10.0), (0.05, -30.0), (0.12, 20.0)])
def test_energy_parts_sum_to_the_chemical_energy(soc, temperature_C):
    r = power.simulate_opening(CR2032, soc, temperature_C)
    assert set(r.energy_breakdown_J) == set(power.PARTS)
    total_J = sum(float(e) for e in r.energy_breakdown_J.values())
    assert total_J == pytest.approx(float(r.energy_J), rel=0.005, abs=1e-12)
    assert all(float(e) >= -1e-9 for e in r.energy_breakdown_J.values())
    # the chemical energy is OCV times the charge the trace carries
    dt_s = r.time_s[1] - r.time_s[0] if r.time_s.size > 1 else 1e-3
    assert np.sum(r.battery_current_A) * dt_s == pytest.approx(float(r.charge_C), rel=1e-9, abs=1e-15)
    assert float(r.energy_J) == pytest.approx(float(bat.ocv_V(soc, CR2032) * r.charge_C), rel=1e-12)


def _independent_solver(r, soc, temperature_C, ready_V, lock=LOCK, dt_s=1e-5):
    """Explicit Euler at 1/100 of the model's step on the same circuit, phases taken from the
    result's phase start times and the reservoir's target from the lock: charge and energy parts,
    integrated term by term (the diode as a merged node while the rail sits at the reservoir)."""
    phases = power.load_phases(lock=lock)
    starts = list(r.phase_start_s) + [float(r.time_s[-1]) + 1e-3]
    motor_start = starts[[p.name for p in phases].index("motor")]
    ocv, r0 = float(bat.ocv_V(soc, CR2032)), float(bat.r0_ohm(soc, temperature_C, CR2032))
    rc, c_rail, c_res, i_key = lock.contact_ohm, lock.mcu_rail_F, lock.reservoir_F, lock.key_active_current_A
    r_s = r0 + rc + lock.switch_ohm
    v_pol = bat.initial_polarisation((), CR2032)
    vc = vr = q = 0.0
    parts = dict.fromkeys(("cell_R0", "contact", "limiter", "motor", "lock_compute", "key"), 0.0)
    for k in range(int(round(float(r.time_s[-1]) / dt_s))):
        t = k * dt_s
        i_lock, motor = lock.reset_current_A, False
        for p, phase in enumerate(phases):
            if starts[p] <= t < starts[p + 1]:
                i_lock, motor = phase.current_A, phase.name == "motor"
        e = ocv - float(bat.polarisation_V(v_pol))
        limit = min(lock.limit_A, max((e - lock.key_hold_V) / r0 - i_key, 0.0))
        i_in = min(limit, (e - r0 * i_key - vc) / r_s)
        i_chg = 0.0
        if starts[0] <= t < motor_start and vr < ready_V and vc > vr:
            hold = max(lock.brownout_V + lock.ready_margin_V, vr + lock.charger_dropout_V)
            i_chg = max(min(limit, (e - r0 * i_key - hold) / r_s) - i_lock, 0.0)
        i_bat = i_in + i_key
        v_bat = e - r0 * i_bat
        parts["cell_R0"] += r0 * i_bat**2 * dt_s
        parts["contact"] += rc * i_in**2 * dt_s
        parts["limiter"] += (v_bat - rc * i_in - vc) * i_in * dt_s
        parts["motor" if motor else "lock_compute"] += vc * i_lock * dt_s
        parts["key"] += v_bat * i_key * dt_s
        q += i_bat * dt_s
        v_pol = bat.step_polarisation(v_pol, i_bat, dt_s, temperature_C, CR2032)
        if vr > 0 and vc <= vr and i_in < i_lock:  # the diode conducts: one node
            vc = vr = vc + (i_in - i_lock) * dt_s / (c_rail + c_res)
        else:
            vc += (i_in - i_lock - i_chg) * dt_s / c_rail
            vr += i_chg * dt_s / c_res
    parts["reservoir_left"] = (c_rail * vc**2 + c_res * vr**2) / 2
    return q, parts


@pytest.mark.slow
@pytest.mark.parametrize("soc, temperature_C", [(1.0, 20.0), (1.0, -20.0)])
def test_an_independent_fine_step_solver_agrees_on_charge_and_parts(soc, temperature_C):
    """Fresh at 20 degC the reservoir stays empty; fresh at -20 degC the lock charges it first."""
    r = power.simulate_opening(CR2032, soc, temperature_C)
    assert r.completed
    ins = power.Insertion(CR2032, soc, temperature_C)
    assert ins.charge() is None
    q, parts = _independent_solver(r, soc, temperature_C, float(ins.ready_V()))
    assert float(r.charge_C) == pytest.approx(q, rel=0.01)
    for name in parts:
        assert float(r.energy_breakdown_J[name]) == pytest.approx(parts[name], rel=0.03, abs=5e-5), name


def test_reservoir_formula_carries_the_motor_and_a_smaller_one_does_not():
    """C = (I_motor - I_cell) t / droop. Fresh at -20 degC the cell alone would sag the rail under
    the brown-out; the formula's reservoir carries the pulse, a third of it does not."""
    c_F = power.reservoir_for_motor_F(LOCK)
    assert c_F == pytest.approx(LOCK.motor_current_A * LOCK.motor_s / (LOCK.ready_max_V - LOCK.brownout_V - LOCK.ready_margin_V))
    assert power.reservoir_for_motor_F(LOCK, cell_A=0.03, droop_V=0.5) == pytest.approx(0.05 * 0.04 / 0.5)
    assert power.reservoir_for_motor_F(LOCK, cell_A=0.1) == 0.0
    assert power.simulate_opening(CR2032, 1.0, -20.0, dataclasses.replace(LOCK, reservoir_F=c_F)).completed
    small = power.simulate_opening(CR2032, 1.0, -20.0, dataclasses.replace(LOCK, reservoir_F=c_F / 3))
    assert not small.completed and small.reset_phase[()] == "motor"


def test_a_fresh_cell_at_20C_feeds_the_motor_directly_for_under_20_mJ():
    """Adaptive ready level: the rail alone stays above the floor under the motor (T = E' - 80 mA *
    R_s > 2.05 V), so the lock never charges its reservoir; the opening costs <= 20 mJ."""
    r = power.simulate_opening(CR2032, 1.0, 20.0)
    assert r.completed
    parts = {k: float(v) for k, v in r.energy_breakdown_J.items()}
    assert float(r.energy_J) <= 0.020
    assert parts["reservoir_switch"] == 0.0
    assert parts["reservoir_left"] == pytest.approx(LOCK.mcu_rail_F * float(r.supply_V[-1]) ** 2 / 2, rel=0.05)
    assert r.min_supply_V > LOCK.brownout_V + LOCK.ready_margin_V
    # the same cell at -20 degC needs the reservoir: it is charged, and the opening costs more
    cold = power.simulate_opening(CR2032, 1.0, -20.0)
    assert cold.completed and float(cold.energy_breakdown_J["reservoir_switch"]) > 0
    assert cold.energy_J > 2 * r.energy_J
    assert cold.min_supply_V >= LOCK.brownout_V + LOCK.ready_margin_V - 0.02


def test_energy_per_opening_fell_and_says_where_it_goes():
    """Fresh CR2032 at 20 degC: ~14 mJ (was ~100 mJ with 10 mF charged straight from the cell)."""
    new = power.simulate_opening(CR2032, 1.0, 20.0)
    old = power.simulate_opening(CR2032, 1.0, 20.0, dataclasses.replace(NO_LIMIT, mcu_rail_F=10e-3))  # 10 mF on the rail
    assert float(new.energy_J) < 0.2 * float(old.energy_J)
    parts = {k: float(v) for k, v in new.energy_breakdown_J.items()}
    motor_J = LOCK.motor_current_A * LOCK.motor_s * 2.0  # at least 2 V across it for 40 ms
    assert parts["motor"] > motor_J


def test_load_phases_follow_the_transaction():
    granted = power.TransactionLoad(wire_bytes=300, sha256_compressions=40, flash_bytes_written=96, motor=True)
    phases = {p.name: p for p in power.load_phases(granted)}
    assert list(phases) == ["boot", "compute", "wait", "motor", "audit"]
    assert phases["compute"].duration_s == pytest.approx(300 * 10 / 57600 + 40 * LOCK.sha256_compression_s)
    assert phases["audit"].duration_s == pytest.approx(24 * LOCK.flash_word_write_s)
    assert phases["motor"].current_A == LOCK.motor_current_A and phases["motor"].duration_s == LOCK.motor_s
    denied = dataclasses.replace(granted, motor=False)
    assert [p.name for p in power.load_phases(denied)] == ["boot", "compute", "audit"]
    big = dataclasses.replace(granted, wire_bytes=3000)
    r = power.simulate_opening(CR2032, 1.0, 20.0, load=granted)
    r_denied = power.simulate_opening(CR2032, 1.0, 20.0, load=denied)
    r_big = power.simulate_opening(CR2032, 1.0, 20.0, load=big)
    assert r_denied.completed and r_denied.charge_C < r.charge_C
    assert float(r_denied.energy_breakdown_J["motor"]) == 0.0
    assert r_big.energy_breakdown_J["lock_compute"] > 5 * r.energy_breakdown_J["lock_compute"]
    with pytest.raises(ValueError, match="baud"):
        power.TransactionLoad(baud=0)


def _run_insertion(ins, lock=LOCK):
    out = ins.charge()
    for phase in power.load_phases(lock=lock):
        if out is not None:
            break
        out = ins.run(phase.name, phase.duration_s, phase.current_A, until_V="ready" if phase.name == "wait" else None)
    return out


@pytest.mark.parametrize("soc, temperature_C", [(1.0, 20.0), (0.2, -20.0), (0.05, -30.0), (0.2, 20.0)])
def test_insertion_steps_reproduce_simulate_opening(soc, temperature_C):
    r = power.simulate_opening(CR2032, soc, temperature_C)
    ins = power.Insertion(CR2032, soc, temperature_C)
    out = _run_insertion(ins)
    expected = None if r.completed else ("key_reset" if r.key_reset else "lock_reset")
    assert out == expected
    assert float(ins.charge_C) == pytest.approx(float(r.charge_C), rel=1e-12, abs=1e-15)
    assert float(ins.energy_J) == pytest.approx(float(r.energy_J), rel=1e-12, abs=1e-15)
    assert float(ins.min_key_supply_V) == pytest.approx(float(r.min_key_supply_V), rel=1e-12)
    for name, e_J in ins.breakdown_J().items():
        assert float(e_J) == pytest.approx(float(r.energy_breakdown_J[name]), rel=1e-9, abs=1e-15)
    if not r.completed:
        assert ins.phase[()] == r.reset_phase[()]


def test_insertion_copy_tries_the_motor_without_touching_the_original():
    ins = power.Insertion(CR2032, 1.0, 20.0)
    assert ins.charge() is None
    assert ins.run("compute", 0.05, LOCK.mcu_active_current_A) is None
    before_C, before_s = float(ins.charge_C), ins.elapsed_s
    trial = ins.copy()
    assert trial.run("wait", LOCK.max_wait_s, LOCK.idle_current_A, until_V="ready") is None
    assert trial.run("motor", LOCK.motor_s, LOCK.motor_current_A) is None
    assert float(trial.breakdown_J()["motor"]) > 0 and trial.charge_C > before_C
    assert float(ins.charge_C) == before_C and ins.elapsed_s == before_s
    assert float(ins.breakdown_J()["motor"]) == 0.0


def test_insertion_stays_ended_after_a_reset():
    ins = power.Insertion(CR2032, 0.2, -20.0)
    assert ins.charge() is None
    # the motor straight away, without waiting for the reservoir: the lock resets
    assert ins.run("motor", LOCK.motor_s, LOCK.motor_current_A) == "lock_reset"
    charge_C = float(ins.charge_C)
    assert ins.run("audit", 0.01, LOCK.mcu_active_current_A) == "lock_reset"
    assert float(ins.charge_C) == charge_C and ins.phase[()] == "motor"
    assert ins.min_supply_V < LOCK.brownout_V


def test_insertion_reports_a_key_reset_on_insertion():
    ins = power.Insertion(CR2032, 0.05, -30.0)
    assert ins.charge() == "key_reset"
    assert ins.run("compute", 0.01, LOCK.mcu_active_current_A) == "key_reset"
    assert float(ins.charge_C) == 0.0 and ins.min_key_supply_V < LOCK.key_brownout_V
