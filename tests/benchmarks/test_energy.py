"""benchmarks/energy.py: its breakdown adds up and openings per battery behave; the figures
themselves are recorded in benchmarks/RESULTS.md, not asserted."""

import json

import pytest

from keylock.benchmarks import energy


def test_breakdown_adds_up_to_the_opening_energy():
    b = energy.breakdown()
    assert sum(b["parts_mJ"].values()) == pytest.approx(b["energy_mJ"], abs=0.05)
    assert b["parts_mJ"]["motor"] > 0 and b["parts_mJ"]["reservoir_left"] > 0


def test_more_openings_a_day_give_more_openings_over_fewer_days():
    per = energy.openings_per_battery()
    counts = [per[n]["openings"] for n in energy.OPENINGS_PER_DAY]
    days = [per[n]["days"] for n in energy.OPENINGS_PER_DAY]
    assert counts == sorted(counts) and days == sorted(days, reverse=True)
    # a day's sleep and advertising alone (3 uA) would empty a 230 mAh cell in ~8.7 years: fewer days
    assert days[0] < 230e-3 * 3600 / (3e-6 * 86400)
    assert all(0.0 < per[n]["fails_below_soc"] < 0.5 for n in energy.OPENINGS_PER_DAY)


def test_cli_json(capsys):
    assert energy.main(["--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r["openings_per_battery"]) == {"1", "4", "10", "20"}
    assert set(r["lowest_soc_that_opens"]) == {"20", "0", "-20", "-30"}
