"""`keylock demo` (make demo): the scenario library on emulated devices, with a summary."""

from keylock.host.cli import main


def test_demo_runs_the_library_and_sums_it_up(capsys):
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "scenarios   13 of 13 passed" in out
    assert "denied low_battery" in out and "denied blocked" in out
    assert "energy per opening  mean" in out
    assert "batteries at the end" in out
