# Battery readings and the report of keys at or below 15 %.
import pytest
from server_testkit import DAY_S, START_S, YEAR_S


@pytest.fixture
def fleet(site):
    site.add_holder("Bo", "BB-2", START_S + YEAR_S)
    for name in ("K2", "K3", "K10"):
        site.add_key(name, "Bo")
    return site


def test_the_report_uses_each_key_latest_reading(fleet, clock):
    assert fleet.battery_report() == []
    fleet.battery_reading("K1", 0.10)
    fleet.battery_reading("K2", 0.15)  # at 15 %: reported
    fleet.battery_reading("K3", 0.151)
    fleet.battery_reading("K10", 0.02)
    assert fleet.battery_report() == ["K1", "K10", "K2"]
    clock.advance(DAY_S)
    fleet.battery_reading("K1", 0.9)  # battery changed
    fleet.validate("K3", soc=0.14)  # a key reports its charge at validation too
    assert fleet.battery_report() == ["K10", "K2", "K3"]


def test_readings_at_the_same_second_keep_the_last(fleet):
    fleet.battery_reading("K1", 0.05)
    fleet.battery_reading("K1", 0.5)
    assert fleet.battery_report() == []


@pytest.mark.parametrize("soc", [-0.01, 1.01, float("nan"), float("inf"), "0.1", None, True])
def test_bad_readings_are_refused(fleet, soc):
    with pytest.raises(ValueError):
        fleet.battery_reading("K1", soc)
    assert fleet.battery_report() == []


def test_unknown_key(fleet):
    with pytest.raises(ValueError, match="unknown key"):
        fleet.battery_reading("K99", 0.1)
