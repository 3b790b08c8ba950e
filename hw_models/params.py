"""Parameter sets: frozen dataclasses whose numeric fields carry a unit and a validity range.

Every set names its source in `citation`; figures and sources are in
`shared/reference/hw_parameters.md`. A value outside its range raises `ValueError` naming the
range, at construction (`dataclasses.replace` re-validates) and for model inputs via `check_range`.
"""

from dataclasses import dataclass, field, fields

import numpy as np


def check_range(name, value, low, high, unit=""):
    """Return `value` as a float array, or raise ValueError naming [low, high] [unit].

    NaN fails the check on purpose: `not (v >= low)` is True for NaN.
    """
    arr = np.asanyarray(value, dtype=float)
    bad = ~((arr >= low) & (arr <= high))
    if np.any(bad):
        worst = arr[bad].flat[0] if arr.ndim else float(arr)
        unit_text = f" {unit}" if unit else ""
        raise ValueError(f"{name}={worst:g} is outside the valid range [{low:g}, {high:g}]{unit_text}")
    return arr


def param(default, low, high, unit):
    """A dataclass field with a validity range checked by `Validated.__post_init__`."""
    return field(default=default, metadata={"range": (low, high), "unit": unit})


class Validated:
    """Mixin for frozen dataclasses: check each ranged field, and tables for equal length."""

    def __post_init__(self):
        for f in fields(self):  # type: ignore[arg-type]  # the subclasses are dataclasses
            if "range" in f.metadata:
                low, high = f.metadata["range"]
                check_range(f"{type(self).__name__}.{f.name}", getattr(self, f.name), low, high, f.metadata["unit"])


def _check_table(owner, x_name, x, y_name, y, increasing=True):
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"{owner}: {x_name} and {y_name} must be 1-D tables of equal length >= 2")
    if increasing and np.any(np.diff(x) <= 0):
        raise ValueError(f"{owner}: {x_name} must be strictly increasing")


@dataclass(frozen=True)
class BatteryParams(Validated):
    """A lithium/manganese-dioxide primary cell: OCV table, R0(T, DoD, I), two RC pairs, capacity(T).

    Tables are ascending in their first variable. `capacity_Ah` is to `cutoff_V` at a light load
    (0.2 mA for coin cells) at `reference_temperature_C`.
    """

    name: str = "CR2032"
    capacity_Ah: float = param(0.230, 0.01, 5.0, "Ah")
    cutoff_V: float = param(2.0, 1.5, 2.8, "V")
    # Li/MnO2: a flat plateau then a knee (suggested table of hw_parameters.md).
    soc_points: tuple = (0.0, 0.1, 0.25, 0.5, 0.9, 1.0)
    ocv_points_V: tuple = (2.0, 2.6, 2.85, 2.95, 3.05, 3.25)
    # R0 at the reference temperature vs depth of discharge: ~10 Ω fresh, 18-20 Ω to ~150 mAh,
    # ~30 Ω at 170 mAh, steep knee after (Duracell datasheet, TI SWRA349). The knee past 74 %
    # is set so 30 mA peaks deliver ~9 % less than 15 mA peaks, TI SWRA349's measured penalty.
    dod_points: tuple = (0.0, 0.3, 0.65, 0.74, 0.8, 0.9, 1.0)
    r0_points_ohm: tuple = (10.0, 12.0, 19.0, 30.0, 50.0, 100.0, 200.0)
    # Two RC pairs for the slow polarisation (see `battery.polarisation_pairs`). The internal
    # resistance "includes a number of resistive contributions ..., each of them being
    # characterised by a time constant", so its value depends on how it is measured (Renata
    # designer's guide, FAQ):
    # * a fast pair, tau1 = r1 * c1 = 2 s (the 1-5 s of hw_parameters.md): the sag within a
    #   datasheet's 2 s pulse;
    # * a slow pair, tau2 = r2 * c2 = 600 s: coin cells recover over minutes. Fitted to a CR2032
    #   under a 9 mA load falling from just under 3 V to about 2.5 V in about half an hour
    #   (3 tau2) and holding there (J. Cook, "CR2032 Maximum Current Capacity",
    #   embeddedcomputing.com, 2025), and to cells that, once the load is removed, "slowly" rise
    #   back to ~3 V (electronics.stackexchange.com q. 219847).
    r1_ohm: float = param(5.0, 0.0, 1000.0, "ohm")
    c1_F: float = param(0.4, 1e-6, 1000.0, "F")
    r2_ohm: float = param(50.0, 0.0, 5000.0, "ohm")
    c2_F: float = param(12.0, 1e-6, 100_000.0, "F")
    # Current dependence of R0 (`battery.r0_ohm(..., current_A=)`): the table holds up to
    # `r0_table_current_A` (SWRA349's 30 mA peaks, where the 10/30 ohm figures are read). Above
    # it the charge-transfer share of R0 follows Butler-Volmer, eta = (2RT/F) asinh(I / (2 I0)),
    # so its resistance eta/I falls as the current rises; the ohmic share stays. Share and
    # exchange current are derived (a 30 % share, I0 = 5 mA gives R0(0.3 A) = 0.77 R0(30 mA));
    # valid to 0.5 A, beyond which mass transport, not modelled, limits the cell.
    r0_table_current_A: float = param(30e-3, 1e-4, 1.0, "A")
    charge_transfer_fraction: float = param(0.3, 0.0, 1.0, "")
    exchange_current_A: float = param(5e-3, 1e-6, 10.0, "A")
    activation_energy_J_per_mol: float = param(11_000.0, 0.0, 60_000.0, "J/mol")
    reference_temperature_C: float = param(23.0, 0.0, 40.0, "degC")
    # Capacity factor k_T for a sustained discharge at temperature T (secondary; tunable).
    capacity_temperature_points_C: tuple = (-30.0, -20.0, 0.0, 23.0, 60.0)
    capacity_factor_points: tuple = (0.6, 0.75, 0.9, 1.0, 0.97)
    # Capacity loss with time, in storage and in use: ~1 %/year at room temperature (Energizer
    # lithium coin handbook: loss through the seal, 10-year shelf life), ~1.5 %/year (Rayovac).
    self_discharge_per_year: float = param(0.0125, 0.0, 0.1, "1/year")
    # It doubles every 10 K (Battery University BU-802b); coin-cell datasheets test a year's
    # storage as 20 days at 60 degC (x18 over 40 K, i.e. doubling every 9.6 K).
    self_discharge_doubling_K: float = param(10.0, 3.0, 30.0, "K")
    # R0 growth in storage at the reference temperature, with the self-discharge's temperature
    # law (the same seal ingress passivates the lithium). Renata's designer's guide: after
    # storage cells may show resistances outside the fresh range "due to ageing effects"; no
    # vendor gives a rate: 2 %/year is derived, tunable.
    r0_storage_growth_per_year: float = param(0.02, 0.0, 1.0, "1/year")
    # Cell-to-cell spread within one vendor: log-normal sigmas of capacity and R0. Capacity at
    # 0.2 mA is "essentially constant across brands and across individual cells" (Hackaday,
    # "Coin Cells: The Mythical Milliamp-Hour", 2017) and Ganssle found little battery-to-battery
    # variation in 42 Duracell/Energizer/Panasonic cells (embedded.com, 2014); vendors, not
    # cells, differ (TI SWRA349). Sigmas derived, tunable.
    capacity_spread: float = param(0.03, 0.0, 0.5, "")
    r0_spread: float = param(0.10, 0.0, 1.0, "")
    min_temperature_C: float = param(-30.0, -60.0, 0.0, "degC")
    max_temperature_C: float = param(60.0, 25.0, 100.0, "degC")
    citation: str = (
        "Energizer CR2032 datasheet and lithium coin handbook (capacity, ratings, -30..60 degC); "
        "Renata designer's guide (OCV); Duracell CR2032 datasheet and TI SWRA349 (R vs discharge, "
        "pulse penalty, vendor spread); Rayovac and Energizer handbook (self-discharge, shelf life); "
        "Battery University BU-802b and the 60 degC/20-day storage test of coin-cell datasheets "
        "(self-discharge x2 per 10 K); J. Cook 2025 and electronics.stackexchange 219847 (recovery "
        "over minutes, slow RC pair); Butler-Volmer charge transfer (R0 vs current, derived); "
        "Arrhenius Ea=11 kJ/mol fitted to the secondary x2-2.5 at -20 degC figure."
    )

    def __post_init__(self):
        super().__post_init__()
        owner = f"BatteryParams({self.name})"
        _check_table(owner, "soc_points", self.soc_points, "ocv_points_V", self.ocv_points_V)
        _check_table(owner, "dod_points", self.dod_points, "r0_points_ohm", self.r0_points_ohm)
        _check_table(
            owner,
            "capacity_temperature_points_C",
            self.capacity_temperature_points_C,
            "capacity_factor_points",
            self.capacity_factor_points,
        )
        check_range(f"{owner}.capacity_factor_points", self.capacity_factor_points, 0.3, 1.0)
        check_range(f"{owner}.r0_points_ohm", self.r0_points_ohm, 0.01, 10_000.0, "ohm")
        if self.min_temperature_C >= self.reference_temperature_C:
            raise ValueError(f"{owner}: min_temperature_C must be below reference_temperature_C")


CR2032 = BatteryParams()

CR2450 = BatteryParams(
    name="CR2450",
    capacity_Ah=0.590,
    # Larger electrodes: R0 scaled down by the ~2.5x capacity (derived, tunable).
    r0_points_ohm=(4.0, 4.8, 7.6, 12.0, 20.0, 40.0, 80.0),
    r1_ohm=2.0,
    c1_F=1.0,
    # Slow pair scaled like R0 (derived): the same 600 s.
    r2_ohm=20.0,
    c2_F=30.0,
    citation="CR2450 datasheets: 550-620 mAh at 0.2 mA, 3 mA continuous, 15 mA pulse; R0 scaled from CR2032 (derived).",
)

CR2 = BatteryParams(
    name="CR2",
    capacity_Ah=0.800,
    # A spiral-wound cylinder rated 1 A continuous: well under an ohm (derived, tunable).
    r0_points_ohm=(0.25, 0.3, 0.45, 0.7, 1.2, 2.4, 4.8),
    r1_ohm=0.1,
    c1_F=20.0,
    r2_ohm=1.0,
    c2_F=600.0,
    capacity_temperature_points_C=(-40.0, -20.0, 0.0, 23.0, 60.0),
    capacity_factor_points=(0.6, 0.8, 0.92, 1.0, 0.97),
    min_temperature_C=-40.0,
    citation="CR2 datasheets (secondary): ~800 mAh to 2.0 V, -40..60 degC, 1 A continuous; R0 derived.",
)

BATTERIES = {b.name: b for b in (CR2032, CR2450, CR2)}


def battery_by_name(name):
    """Look up a battery parameter set; ValueError lists the known names."""
    try:
        return BATTERIES[name.upper()]
    except KeyError:
        raise ValueError(f"unknown battery {name!r}; known: {', '.join(BATTERIES)}") from None


# Named vendor sets of the CR2032 (the plain CR2032 above is the brand-name average). TI SWRA349
# tested six vendors: the 30 mA vs 15 mA peak penalty is "9 % on average depending on vendor",
# and effective capacities under those peaks ranged "from over 100 % of the rated capacity to
# only 50 %" (TI E2E blog "Bluetooth low energy and coin cells III", 2010): vendors differ in
# resistance far more than in light-load capacity. Not in BATTERIES (the scenario format's
# choices): look them up with `vendor_by_name`, sample cells of them with `battery.sample_cells`.
CR2032_ENERGIZER = BatteryParams(
    name="CR2032-ENERGIZER",
    # Energizer CR2032 datasheet: 235 mAh to 2.0 V on 15 kohm at 21 degC; handbook ~1 %/year.
    capacity_Ah=0.235,
    self_discharge_per_year=0.01,
    citation="Energizer CR2032 datasheet (235 mAh, 15 kohm, 2.0 V) and lithium coin handbook (~1 %/year); R0 as CR2032.",
)

CR2032_PANASONIC = BatteryParams(
    name="CR2032-PANASONIC",
    # Panasonic CR2032 datasheet: 225 mAh nominal at the 0.2 mA standard discharge.
    capacity_Ah=0.225,
    citation="Panasonic CR2032 datasheet (225 mAh at 0.2 mA); R0 and self-discharge as CR2032.",
)

CR2032_BUDGET = BatteryParams(
    name="CR2032-BUDGET",
    capacity_Ah=0.220,
    # SWRA349's poorest vendors delivered ~50 % of rated capacity under both 15 and 30 mA peaks:
    # the peak voltage reaches 2.0 V near 50 % DoD (OCV 2.95 V) at either current, so R0 must
    # climb from ~32 ohm (2.0 V at 30 mA) to ~63 ohm (at 15 mA) within a few percent of DoD
    # there: the brand-name knee at 74 % moved to ~47 %, and 20 % higher fresh (derived).
    dod_points=(0.0, 0.2, 0.4, 0.45, 0.5, 0.6, 1.0),
    r0_points_ohm=(12.0, 15.0, 24.0, 32.0, 70.0, 150.0, 400.0),
    # Slow pair scaled with the fresh R0, same 600 s (derived).
    r2_ohm=60.0,
    c2_F=10.0,
    # "Big differences between manufacturers" and uneven batches (derived, tunable).
    capacity_spread=0.08,
    r0_spread=0.25,
    citation="Unbranded CR2032: 220 mAh rating; R0 knee moved to ~47 % DoD to match TI SWRA349's poorest vendors (derived).",
)

VENDORS = {b.name: b for b in (CR2032_ENERGIZER, CR2032_PANASONIC, CR2032_BUDGET)}


def vendor_by_name(name):
    """Look up a vendor's cell set (or a plain battery); ValueError lists the known names."""
    try:
        return {**BATTERIES, **VENDORS}[name.upper()]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; known: {', '.join({**BATTERIES, **VENDORS})}") from None


@dataclass(frozen=True)
class LoadPhase:
    """One phase of the lock's load profile: a constant current for a duration.

    With `until_V` the phase ends as soon as the supply reaches that voltage, `duration_s` being
    its time-out: the lock waits, idling, for its reservoir to charge before it fires the motor.
    """

    name: str
    duration_s: float
    current_A: float
    until_V: float = float("inf")

    def __post_init__(self):
        check_range(f"LoadPhase({self.name}).duration_s", self.duration_s, 1e-4, 10.0, "s")
        check_range(f"LoadPhase({self.name}).current_A", self.current_A, 0.0, 1.0, "A")
        check_range(f"LoadPhase({self.name}).until_V", self.until_V, 1.0, float("inf"), "V")


@dataclass(frozen=True)
class LockParams(Validated):
    """The power path of one opening as seen from the key's cell: the key's switch, contact,
    the lock's reservoir, its load and both brown-outs.

    The key feeds the lock through a current-limited switch (`limit_A`). The lock boots when its
    reservoir exceeds `brownout_V + hysteresis_V` and resets when it falls below `brownout_V`; the
    key's own electronics draw `key_active_current_A` from the same cell and reset below
    `key_brownout_V`. The lock's phases come from the transaction run (`power.load_phases`) with
    the per-item costs below.
    """

    contact_ohm: float = param(0.5, 0.0, 5.0, "ohm")
    # The key's switch: a primary-cell PMIC's load switch with its soft-start / over-current limit
    # at its highest setting (Nordic nPM2100 LDOSW as a load switch: 40-110 mA; 25-150 mA as an
    # LDO), so a fresh cell feeds the 80 mA motor directly and the reservoir stays empty. That is
    # beyond the 15 and 30 mA peaks TI SWRA349 tested on CR2032s (30 mA cost ~9 % capacity vs 15),
    # and a third of the 295 mA unlimited in-rush.
    limit_A: float = param(110e-3, 1e-3, 10.0, "A")
    switch_ohm: float = param(0.5, 0.0, 10.0, "ohm")  # on-resistance, sub-ohm class (derived)
    # The lock's MCU rail: a small ceramic on the contact, all the key charges before the boot.
    mcu_rail_F: float = param(220e-6, 1e-7, 1.0, "F")
    # Sized from the motor pulse, `power.reservoir_for_motor_F`: the motor's 80 mA x 40 ms with
    # the weak or cold cell giving next to nothing, over the 0.55 V from `ready_max_V` down to the
    # brown-out + margin: 5.8 mF. It sits behind the lock's charger and an ideal diode, charged
    # only as far as this cell needs (`power._ready_V`): empty for a fresh cell at room
    # temperature. (10 mF on the rail, charged to ~2.6 V, left 26 mC, 86 % of an opening, behind.)
    reservoir_F: float = param(5.8e-3, 1e-6, 1.0, "F")
    # STM32L0 / nRF52 POF class brown-out at 2.0 V; hysteresis in TI's 18-38 mV range.
    brownout_V: float = param(2.0, 1.6, 3.0, "V")
    hysteresis_V: float = param(0.03, 0.0, 0.2, "V")
    reset_current_A: float = param(20e-6, 0.0, 1e-3, "A")
    key_active_current_A: float = param(2e-3, 0.0, 0.05, "A")
    # The key's microcontroller: nRF52832 supply minimum 1.7 V (Nordic product specification).
    key_brownout_V: float = param(1.7, 0.0, 3.0, "V")  # 0: the key is not checked (the old model)
    # The key's switch holds the key's own supply at this level by passing less current (input
    # voltage regulation, as in chargers' VIN-DPM, e.g. TI bq24072): 0.1 V above the key's
    # brown-out. 0 disables it (a plain current limit).
    key_hold_V: float = param(1.8, 0.0, 3.6, "V")
    # The lock's MCU: TI CC2340R2 running from flash at 48 MHz, 4.1 mA with its GLDO (2.6 mA with
    # DC/DC; datasheet SWRS282). Boot: a 10 ms start-up at 3 mA (derived).
    mcu_active_current_A: float = param(4.1e-3, 0.0, 0.1, "A")
    boot_s: float = param(0.010, 1e-4, 1.0, "s")
    boot_current_A: float = param(3e-3, 0.0, 0.1, "A")
    idle_current_A: float = param(0.5e-3, 0.0, 0.1, "A")
    # One SHA-256 compression (64-byte block) in software: ~3,400 cycles on a Cortex-M at 48 MHz
    # (derived from published Cortex-M SHA-256 cycle counts, 40-60 cycles/byte).
    sha256_compression_s: float = param(70e-6, 1e-7, 1e-2, "s")
    # Flash: 43 us to write one 32-bit word (Nordic nRF5340 product specification, NVMC tWRITE);
    # the CPU is halted meanwhile, drawing about its active current.
    flash_word_write_s: float = param(43e-6, 1e-7, 1e-2, "s")
    # Erasing one 4 KB page: 87.5 ms (nRF5340 product specification, NVMC tERASEPAGE), the CPU
    # halted likewise. The firmware's store erases a sector when it compacts a log.
    flash_page_erase_s: float = param(87.5e-3, 1e-5, 1.0, "s")
    # The motor at 80 mA x 40 ms (~8 mJ, inside the derived 3-45 mJ).
    motor_current_A: float = param(80e-3, 0.0, 1.0, "A")
    motor_s: float = param(0.040, 1e-3, 1.0, "s")
    # Before the motor the lock waits, idling, until its reservoir holds what this cell cannot give
    # the motor (`power._ready_V`, from the sag it measured), at most `ready_max_V`, at most
    # `max_wait_s`; a cold weak cell never gets there, fires at the time-out and resets.
    ready_max_V: float = param(2.6, 1.6, 3.6, "V")
    ready_margin_V: float = param(0.05, 0.0, 1.0, "V")
    charger_dropout_V: float = param(0.05, 0.0, 1.0, "V")  # the reservoir charger's switch (derived)
    # As long as the old design let the reservoir charge (3 s): a weak cell charges slowly through
    # the key's regulated switch (measured: 1 s loses openings below ~24 % at 20 degC, 3 s ~19 %).
    max_wait_s: float = param(3.0, 1e-3, 10.0, "s")
    max_charge_s: float = param(3.0, 0.01, 60.0, "s")
    citation: str = (
        "hw_parameters.md: STM32L0/nRF52 brown-out levels, nRF52832 1.7 V supply minimum, TI hysteresis "
        "18-38 mV, motor pulse 3-45 mJ and contact resistance 0.05-1 ohm (derived); TI SWRA349 (15 and "
        "30 mA CR2032 peaks) and Nordic nPM2100 LDOSW soft-start limits 40-110 mA (switch limit); TI CC2340R2 "
        "datasheet SWRS282 (MCU 4.1 mA from flash, GLDO); Nordic nRF5340 PS (flash tWRITE 43 us); "
        "SHA-256 cycle count and reservoir size derived (power.reservoir_for_motor_F)."
    )

    def __post_init__(self):
        super().__post_init__()
        if self.ready_max_V <= self.brownout_V + self.hysteresis_V:
            raise ValueError("LockParams: ready_max_V must be above the boot level brownout_V + hysteresis_V")


DEFAULT_LOCK = LockParams()


# --- heat: a stated padlock and the lumped network derived from it -------------------------
# Material figures (Heat and Mass Transfer Data Book, "Property values of metals at 20 degC"):
# carbon steel ~1 % C 7801 kg/m^3, 43.3 W/(m K); ~0.5 % C 7833 kg/m^3, 53.6 W/(m K); brass 70/30
# 8522 kg/m^3, 385 J/(kg K). Free convection h = 2-25 W/(m^2 K) (hw_parameters.md, textbooks).
# Dry metal contact at moderate pressure h_c = 100-1000 W/(m^2 K) (DSPE thermomechanics
# knowledge base, "Overview of thermal couplings"). Spreading resistance of a uniform-flux disc
# of radius a on a half-space, averaged over the disc: 8 / (3 pi^2 k a) (Rohsenow, Hartnett and
# Cho, Handbook of Heat Transfer, 3rd ed.; EES shape-factor library SR_2).


@dataclass(frozen=True)
class Padlock(Validated):
    """A stated padlock: a steel body (a box with a bore for the core), a steel U shackle and a
    brass cylinder core holding the electronics; the flame spot is a disc on the body's face.

    Only `mass_kg` and the dimensions are stated; everything thermal is derived from them by
    `ThermalParams.from_padlock` (tests/hw_models/test_thermal_padlock.py checks the mass against
    the dimensions and densities).
    """

    name: str = "steel-60mm"
    mass_kg: float = param(0.8, 0.05, 20.0, "kg")
    body_width_m: float = param(0.060, 0.01, 0.5, "m")
    body_height_m: float = param(0.052, 0.01, 0.5, "m")
    body_depth_m: float = param(0.030, 0.005, 0.3, "m")
    # The exposed U: two legs of `shackle_clear_m` and a half circle over `shackle_inner_width_m`.
    shackle_diameter_m: float = param(0.010, 0.002, 0.05, "m")
    shackle_clear_m: float = param(0.030, 0.0, 0.5, "m")
    shackle_inner_width_m: float = param(0.030, 0.005, 0.5, "m")
    # The brass cylinder core: its face is the keyhole, its side the contact with the shell.
    core_diameter_m: float = param(0.017, 0.005, 0.1, "m")
    core_length_m: float = param(0.030, 0.005, 0.2, "m")
    steel_density_kg_per_m3: float = param(7800.0, 7000.0, 8200.0, "kg/m^3")
    steel_cp_J_per_kg_K: float = param(490.0, 400.0, 600.0, "J/(kg K)")
    # Hardened padlock steel is a high-carbon/alloy steel: the low end of carbon steels.
    steel_k_W_per_m_K: float = param(45.0, 15.0, 70.0, "W/(m K)")
    brass_density_kg_per_m3: float = param(8520.0, 8000.0, 9000.0, "kg/m^3")
    brass_cp_J_per_kg_K: float = param(380.0, 340.0, 420.0, "J/(kg K)")
    # Still air around a padlock: the middle of free convection's 2-25.
    h_W_per_m2_K: float = param(10.0, 2.0, 25.0, "W/(m^2 K)")
    # A press-fitted core in a bored body: the top of dry contact's 100-1000 (metal on metal,
    # no sleeve); gives 1-2 W/K for these cores, the figure the issue calls plausible.
    contact_h_W_per_m2_K: float = param(1000.0, 100.0, 1000.0, "W/(m^2 K)")
    flame_area_m2: float = param(10e-4, 1e-5, 0.01, "m^2")
    citation: str = (
        "Heat and Mass Transfer Data Book (steel 7800 kg/m^3, 43-54 W/(m K); brass 8522 kg/m^3, "
        "385 J/(kg K)); free convection h 2-25 W/(m^2 K) (hw_parameters.md); dry metal contact "
        "100-1000 W/(m^2 K) (DSPE); disc spreading resistance 8/(3 pi^2 k a) (Rohsenow, Handbook "
        "of Heat Transfer); dimensions and masses of the named padlocks stated (illustrative)."
    )

    def __post_init__(self):
        super().__post_init__()
        if self.core_diameter_m >= min(self.body_width_m, self.body_depth_m):
            raise ValueError("Padlock: core_diameter_m must fit inside the body")
        if self.flame_area_m2 >= self.body_width_m * self.body_height_m:
            raise ValueError("Padlock: flame_area_m2 must fit on the body's face")

    @property
    def core_mass_kg(self):
        """The brass cylinder: pi/4 d^2 L rho."""
        return np.pi / 4 * self.core_diameter_m**2 * self.core_length_m * self.brass_density_kg_per_m3

    @property
    def steel_mass_kg(self):
        """Stated mass less the core: the body and shackle that store the heat."""
        return self.mass_kg - self.core_mass_kg

    @property
    def shackle_length_m(self):
        """Centre line of the exposed U: two legs and a half circle."""
        return 2 * self.shackle_clear_m + np.pi * (self.shackle_inner_width_m + self.shackle_diameter_m) / 2

    @property
    def geometric_mass_kg(self):
        """Mass from the dimensions and densities, to check the stated mass against."""
        bore_m3 = np.pi / 4 * self.core_diameter_m**2 * self.core_length_m
        box_m3 = self.body_width_m * self.body_height_m * self.body_depth_m
        shackle_m3 = np.pi / 4 * self.shackle_diameter_m**2 * self.shackle_length_m
        return (box_m3 - bore_m3 + shackle_m3) * self.steel_density_kg_per_m3 + self.core_mass_kg

    @property
    def keyhole_area_m2(self):
        return np.pi / 4 * self.core_diameter_m**2

    @property
    def steel_surface_m2(self):
        """Box surface less the keyhole face, plus the exposed shackle's side."""
        w, h, d = self.body_width_m, self.body_height_m, self.body_depth_m
        box_m2 = 2 * (w * h + w * d + h * d)
        return box_m2 - self.keyhole_area_m2 + np.pi * self.shackle_diameter_m * self.shackle_length_m

    @property
    def contact_area_m2(self):
        """The core's side in its bore, through which the electronics see the body."""
        return np.pi * self.core_diameter_m * self.core_length_m

    @property
    def flame_radius_m(self):
        return float(np.sqrt(self.flame_area_m2 / np.pi))

    @property
    def flame_conductance_W_per_K(self):
        """Uniform-flux disc on a half-space, disc-averaged: G = 3 pi^2 k a / 8."""
        return 3 * np.pi**2 * self.steel_k_W_per_m_K * self.flame_radius_m / 8

    @property
    def flame_mass_kg(self):
        """The steel hemisphere of the flame's radius under the spot: where the spreading drop lies
        (on the axis half of it is within one radius). Its time constant C/G = 16 a^2 / (9 pi alpha)
        follows the exact disc solution within the band test_thermal_padlock.py checks."""
        return 2 * np.pi / 3 * self.flame_radius_m**3 * self.steel_density_kg_per_m3


@dataclass(frozen=True)
class ThermalParams(Validated):
    """Three lumped nodes, padlock body, keyhole/electronics (the cylinder core) and the flame spot
    on the body's face, plus ambient.

    Node heat capacity is mass x specific heat; each node loses heat to ambient through h*A; the
    core exchanges heat with the body through `coupling_W_per_K` (metal contact) and the flame spot
    with the body through `flame_coupling_W_per_K` (spreading). The flame spot is carved out of the
    body: `body_mass_kg` and `body_hA_W_per_K` are all the steel's, of which the spot holds
    `flame_mass_kg` and `flame_hA_W_per_K`. Defaults are `from_padlock(Padlock())`, the 0.8 kg
    padlock (rounded; test_thermal_padlock.py checks them); other padlocks by `from_padlock`.
    """

    body_mass_kg: float = param(0.742, 0.01, 20.0, "kg")
    body_cp_J_per_kg_K: float = param(490.0, 100.0, 1000.0, "J/(kg K)")  # carbon steel
    # h = 10 W/(m^2 K) over the steel's 0.0166 m^2.
    body_hA_W_per_K: float = param(0.166, 0.001, 50.0, "W/K")
    core_mass_kg: float = param(0.0580, 0.001, 5.0, "kg")
    core_cp_J_per_kg_K: float = param(380.0, 100.0, 1000.0, "J/(kg K)")  # brass
    # Only the keyhole face (2.3 cm^2) sees air directly.
    core_hA_W_per_K: float = param(0.00227, 0.0, 50.0, "W/K")
    # Metal contact, 1000 W/(m^2 K) over the core's 16 cm^2 side.
    coupling_W_per_K: float = param(1.60, 0.0, 100.0, "W/K")
    # The flame spot: a 10 cm^2 disc, the steel hemisphere under it, its spreading conductance.
    flame_mass_kg: float = param(0.0928, 1e-6, 5.0, "kg")
    flame_hA_W_per_K: float = param(0.01, 0.0, 50.0, "W/K")
    flame_coupling_W_per_K: float = param(2.97, 0.0, 1000.0, "W/K")
    limit_C: float = param(85.0, 40.0, 200.0, "degC")
    citation: str = (
        "hw_parameters.md: 85 degC lock limit (operator FAQ); steel 490 and brass 380 J/(kg K) "
        "(engineering tables); derived from a stated Padlock (see Padlock.citation): free "
        "convection h over its surface, dry metal contact over the core's side, disc spreading "
        "into the body under the flame."
    )

    def __post_init__(self):
        super().__post_init__()
        if self.flame_mass_kg >= self.body_mass_kg:
            raise ValueError("ThermalParams: flame_mass_kg must be part of body_mass_kg")
        if self.flame_hA_W_per_K >= self.body_hA_W_per_K:
            raise ValueError("ThermalParams: flame_hA_W_per_K must be part of body_hA_W_per_K")

    @classmethod
    def from_padlock(cls, padlock, limit_C=85.0):
        """The network of a stated padlock: masses, h*A, contact and spreading from its geometry."""
        return cls(
            body_mass_kg=float(padlock.steel_mass_kg),
            body_cp_J_per_kg_K=padlock.steel_cp_J_per_kg_K,
            body_hA_W_per_K=float(padlock.h_W_per_m2_K * padlock.steel_surface_m2),
            core_mass_kg=float(padlock.core_mass_kg),
            core_cp_J_per_kg_K=padlock.brass_cp_J_per_kg_K,
            core_hA_W_per_K=float(padlock.h_W_per_m2_K * padlock.keyhole_area_m2),
            coupling_W_per_K=float(padlock.contact_h_W_per_m2_K * padlock.contact_area_m2),
            flame_mass_kg=float(padlock.flame_mass_kg),
            flame_hA_W_per_K=float(padlock.h_W_per_m2_K * padlock.flame_area_m2),
            flame_coupling_W_per_K=float(padlock.flame_conductance_W_per_K),
            limit_C=limit_C,
        )

    @property
    def heat_capacity_J_per_K(self):
        """Per node (body less the flame spot, core, flame spot) [J/K]."""
        return np.array(
            [
                (self.body_mass_kg - self.flame_mass_kg) * self.body_cp_J_per_kg_K,
                self.core_mass_kg * self.core_cp_J_per_kg_K,
                self.flame_mass_kg * self.body_cp_J_per_kg_K,
            ]
        )

    @property
    def hA_W_per_K(self):
        """Per node loss to ambient [W/K]."""
        return np.array([self.body_hA_W_per_K - self.flame_hA_W_per_K, self.core_hA_W_per_K, self.flame_hA_W_per_K])


# Named padlocks. The heavy one is the product's default; the light one is the common 0.4 kg
# laminated-steel size the issue says the old defaults hid (65-104 degC for 300 W over 60 s).
PADLOCKS = {
    "steel-60mm": Padlock(),
    "steel-45mm": Padlock(
        name="steel-45mm",
        mass_kg=0.4,
        body_width_m=0.045,
        body_height_m=0.040,
        body_depth_m=0.025,
        shackle_diameter_m=0.007,
        shackle_clear_m=0.022,
        shackle_inner_width_m=0.022,
        core_diameter_m=0.015,
        core_length_m=0.022,
    ),
}
DEFAULT_PADLOCK = PADLOCKS["steel-60mm"]


def padlock_by_name(name):
    try:
        return PADLOCKS[name]
    except KeyError:
        raise ValueError(f"unknown padlock {name!r}; known: {', '.join(PADLOCKS)}") from None


DEFAULT_THERMAL = ThermalParams()


@dataclass(frozen=True)
class KeyLoadParams(Validated):
    """The key's steady currents between openings, and the lock's idle draw when a key stays in."""

    # nRF52 System ON idle with the RTC running and RAM retained (System OFF alone is 0.3-0.4 uA).
    sleep_current_A: float = param(2e-6, 0.0, 1e-3, "A")
    # BLE advertising at a 1 s interval with DC/DC, average (secondary: ~10 uA).
    advertising_current_A: float = param(10e-6, 0.0, 1e-3, "A")
    # Charge one opening takes: simulate_opening for a fresh CR2032 at 20 degC gives 4.3 mC
    # (issue 14's power path; 31 mC before). Weak or cold cells take more (the lock charges its
    # reservoir for them): ~13-20 mC at 50 % and 20 degC, see `keylock bench energy`.
    opening_charge_C: float = param(0.0043, 0.0, 10.0, "C")
    # A key left in a lock keeps the lock powered: MCU idle waiting for the key to leave, the
    # one-wire pull-up and the motor driver's quiescent current (derived, tunable).
    lock_idle_current_A: float = param(150e-6, 0.0, 0.05, "A")
    citation: str = (
        "hw_parameters.md: nRF52 System OFF 0.3-0.4 uA, BLE advertising ~10 uA average (secondary); "
        "opening charge from power.simulate_opening; lock idle current derived."
    )


DEFAULT_KEY_LOAD = KeyLoadParams()


@dataclass(frozen=True)
class RetentionParams(Validated):
    """The key's backup capacitor feeding the clock and pairing RAM while the battery is out.

    It is charged to a regulated `charge_V` and discharges through the retained domain, modelled
    as a resistor; clock and pairing survive while the voltage stays above `hold_min_V`.
    Defaults give a hold time R C ln(charge_V / hold_min_V) of 60.1 s: a battery change shorter than
    a minute keeps them, one of a minute or more loses them (the product's rule, DESIGN.md §1).
    """

    capacitance_F: float = param(100e-6, 1e-7, 10.0, "F")  # X5R ceramic / tantalum
    # RTC (tens of nA), RAM retention and capacitor leakage: ~1.5 uA at 1.8 V (derived).
    load_ohm: float = param(1.22e6, 1e3, 1e10, "ohm")
    charge_V: float = param(1.8, 0.5, 5.0, "V")  # the key's regulated rail
    # Timekeeping minimum of a low-power RTC (1.1 V class, e.g. Micro Crystal RV-3028).
    hold_min_V: float = param(1.1, 0.3, 4.0, "V")
    citation: str = (
        "DESIGN.md §1 (battery out for at least one minute releases pairing); RTC 1.1 V timekeeping "
        "minimum from low-power RTC datasheets; capacitor and load derived to give the one-minute rule."
    )

    def __post_init__(self):
        super().__post_init__()
        if self.hold_min_V >= self.charge_V:
            raise ValueError("RetentionParams: hold_min_V must be below charge_V")


DEFAULT_RETENTION = RetentionParams()


@dataclass(frozen=True)
class SiteParams(Validated):
    """A site's keys and climate for the fleet model (illustrative defaults for a Nordic utility)."""

    # Daily mean air temperature: a cosine over the year, warmest in mid-July.
    mean_temperature_C: float = param(6.0, -30.0, 40.0, "degC")
    amplitude_C: float = param(12.0, 0.0, 30.0, "degC")
    warmest_day: float = param(196.0, 0.0, 365.0, "day")
    # Openings per key per day: Poisson around a per-key rate drawn log-normally (few heavy users).
    median_openings_per_day: float = param(4.0, 0.0, 500.0, "1/day")
    openings_sigma: float = param(0.8, 0.0, 3.0, "")
    advertising_fraction: float = param(0.1, 0.0, 1.0, "")
    # Keys forgotten in a lock: chance per key and day, and how long they stay (uniform).
    left_in_lock_per_day: float = param(0.002, 0.0, 1.0, "1/day")
    left_in_lock_max_h: float = param(24.0, 0.0, 24.0, "h")
    # Batteries of mixed age at the start of the year.
    initial_soc_min: float = param(0.3, 0.0, 1.0, "")
    initial_soc_max: float = param(1.0, 0.0, 1.0, "")
    citation: str = "Illustrative site; climate from a Nordic inland station's yearly cycle (derived)."


DEFAULT_SITE = SiteParams()
