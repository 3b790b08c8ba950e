"""Plots render to non-trivial PNGs; the CLI answers, in text and JSON, and rejects bad input."""

import json

import pytest

from keylock.host.cli import main
from keylock.hw_models import fleet, plots
from keylock.protocol.codes import LOW_BATTERY_SOC

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", sorted(plots.PLOTS))
def test_plots_render(name, tmp_path):
    out = tmp_path / f"{name}.png"
    args = [fleet.run_site(n_keys=2000, warn_soc=LOW_BATTERY_SOC)] if name == "fleet" else []
    plots.PLOTS[name](str(out), *args)
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000  # axes, curves and labels, not an empty canvas
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 800 and height >= 500


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_physics_opening_cold_weak_key(capsys):
    r = run_json(capsys, "physics", "opening", "--battery", "CR2032", "--soc", "0.2", "--temperature-C", "-20")
    assert r["browned_out"] is True and r["booted"] is True and r["reset_phase"] == "motor"
    assert r["min_supply_V"] < r["brownout_V"]
    assert 0 < r["energy_J"] < 1
    assert r["key_reset"] is False and r["min_key_supply_V"] >= r["key_brownout_V"]
    assert sum(r["energy_breakdown_mJ"].values()) == pytest.approx(r["energy_J"] * 1e3, rel=0.005)


def test_physics_opening_human_output(capsys):
    assert main(["physics", "opening"]) == 0
    out = capsys.readouterr().out
    assert "CR2032 at 100%, 20 °C: opens" in out and "mJ" in out
    # the verdict, the total, and one line per energy part (issue 14)
    assert len(out.splitlines()) == 2 + 9 and "reservoir_left" in out


def test_physics_life(capsys):
    r = run_json(capsys, "physics", "life", "--battery", "CR2032", "--average-current-uA", "10")
    assert r["years"] == pytest.approx(2.57, rel=0.3)
    assert 0 < r["days_to_warning"] < r["years"] * 365.25


@pytest.mark.parametrize("part, over", [("body", False), ("keyhole", True)])
def test_physics_thermal(capsys, part, over):
    r = run_json(capsys, "physics", "thermal", "--heat-W", "300", "--part", part, "--minutes", "1", "--ambient-C", "20")
    assert (r["seconds_above_85C"] > 0) is over
    assert (r["max_electronics_C"] > 85) is over


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["physics", "opening", "--soc", "1.5"], "--soc=1.5 is outside the valid range [0, 1]"),
        (["physics", "opening", "--temperature-C", "-45"], "[-30, 60] degC (CR2032)"),
        (["physics", "opening", "--battery", "AA"], "known: CR2032, CR2450, CR2"),
        (["physics", "life", "--average-current-uA", "0"], "--average-current-uA=0 is outside the valid range"),
        (["physics", "thermal", "--heat-W", "-3", "--part", "body", "--minutes", "1"], "--heat-W=-3"),
        (["plot", "battery", "--out", "figure.jpg"], "must name a .png"),
    ],
)
def test_bad_input_exits_2_with_the_range(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("keylock: ") and needle in err


def test_plot_command_writes_png(capsys, tmp_path):
    out = tmp_path / "power.png"
    r = run_json(capsys, "plot", "power", "--out", str(out))
    assert r == {"figure": "power", "path": str(out)}
    assert out.read_bytes().startswith(PNG_SIGNATURE)
