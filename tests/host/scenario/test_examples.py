"""The example scenario files of the format's documentation (docs/examples) parse."""

from pathlib import Path

import pytest

from keylock.host.scenario.parse import load

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "docs" / "examples").glob("*.scenario.yaml"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name.split(".")[0])
def test_example_parses(path):
    scenario = load(path)
    assert scenario.name and scenario.steps and scenario.site.keys and scenario.site.locks
