"""The opening benchmark runs a real granted transaction and refuses a folder that is no firmware."""

import json

import pytest

from keylock.benchmarks import opening


def test_a_tiny_run_reports_a_median_per_opening(capsys):
    assert opening.main(["--openings", "2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["openings_per_run"] == 2 and len(got["runs_us"]) == 5 and got["median_us"] > 0


def test_a_folder_without_firmware_is_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        opening.main(["--firmware", str(tmp_path)])
    assert exc.value.code == 2 and "--firmware a folder holding key_app.py" in capsys.readouterr().err
