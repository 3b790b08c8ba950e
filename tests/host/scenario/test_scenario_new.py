"""`keylock scenario new FILE`: a commented starter file that runs as written on the real
emulator, and an existing file left alone unless --force."""

import re

import yaml

from keylock.host.cli import main
from keylock.host.emulator.factory import ENGINE_ENV
from keylock.host.scenario.parse import load


def test_the_starter_passes_scenario_run_on_the_emulator(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    path = tmp_path / "night_shift.scenario.yaml"
    assert main(["scenario", "new", str(path)]) == 0
    assert capsys.readouterr().out == f"wrote {path}: run it with `keylock scenario run {path}`\n"
    scenario = load(path)
    assert scenario.name == "night shift"
    assert main(["scenario", "run", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"PASSED: night shift ({path}, cpython), {len(scenario.steps)} of {len(scenario.steps)} steps" in out
    # A few steps with expectations, granted and denied both shown.
    expected = [s.expect for s in scenario.steps if s.expect is not None]
    assert len(expected) >= 3 and {e.result for e in expected} >= {"granted", "denied"}


def test_every_section_of_the_starter_is_explained_in_a_comment(tmp_path):
    path = tmp_path / "s.scenario.yaml"
    assert main(["scenario", "new", str(path)]) == 0
    text = path.read_text()
    data = yaml.safe_load(text)
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    sections = [*data, *data["site"]]
    assert {"name", "runtime", "seed", "start", "site", "steps", "timezone", "keys", "locks", "phones"} <= set(sections)
    for section in sections:
        assert re.search(rf"\b{section}\b", comments), f"the starter does not explain `{section}` in a comment"
    assert "expect" in comments


def test_an_existing_file_is_left_alone_without_force(tmp_path, capsys):
    path = tmp_path / "mine.scenario.yaml"
    path.write_text("name: my own work\n")
    assert main(["scenario", "new", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"keylock: {path} exists; --force overwrites it\n" and captured.out == ""
    assert path.read_text() == "name: my own work\n"

    assert main(["scenario", "new", "--force", str(path)]) == 0
    assert load(path).name == "mine"


def test_a_missing_folder_or_a_folder_given_is_exit_2_and_nothing_written(tmp_path, capsys):
    assert main(["scenario", "new", str(tmp_path / "no" / "such" / "x.scenario.yaml")]) == 2
    assert "no folder" in capsys.readouterr().err
    assert main(["scenario", "new", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_name_the_plugin_would_not_collect_gets_a_note(tmp_path, capsys):
    path = tmp_path / "check.yaml"
    assert main(["scenario", "new", str(path)]) == 0
    assert "collects only files named *.scenario.yaml" in capsys.readouterr().out
    assert load(path).name == "check"
