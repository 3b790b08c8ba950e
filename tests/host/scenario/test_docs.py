"""docs/scenarios.md, the format's documentation for users of the package, names everything
keylock's parser knows: every action, denial reason, error code and status field. A name the
parser gains fails here until the page describes it."""

import re
from pathlib import Path

import pytest

from keylock.host.scenario.model import DENIAL_REASONS, ERROR_CODES, KEY_STATUS_FIELDS, LOCK_STATUS_FIELDS
from keylock.host.scenario.parse import ACTIONS

DOC = Path(__file__).resolve().parents[3] / "docs" / "scenarios.md"
# A name counts when the page writes it as code: `name`, or inside a longer code span such as
# `{denied: name}`.
CODE_SPANS = re.findall(r"`([^`\n]+)`", DOC.read_text(encoding="utf-8"))
WORDS = {word for span in CODE_SPANS for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span)}

NAMES = (
    [pytest.param(name, id=f"action-{name}") for name in ACTIONS]
    + [pytest.param(name, id=f"denied-{name}") for name in DENIAL_REASONS]
    + [pytest.param(name, id=f"error-{name}") for name in ERROR_CODES]
    + [pytest.param(name, id=f"key-status-{name}") for name in KEY_STATUS_FIELDS]
    + [pytest.param(name, id=f"lock-status-{name}") for name in LOCK_STATUS_FIELDS]
)


def test_the_lists_are_not_empty():
    assert ACTIONS and DENIAL_REASONS and ERROR_CODES and KEY_STATUS_FIELDS and LOCK_STATUS_FIELDS


@pytest.mark.parametrize("name", NAMES)
def test_docs_scenarios_md_names_it(name):
    assert name in WORDS, f"{DOC} does not name `{name}`; describe it there"


def _section(title):
    text = DOC.read_text(encoding="utf-8")
    assert title in text, f"{DOC} has no section {title!r}"
    return text.split(title, 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    "title, names",
    [("## Steps", ACTIONS), ("## Denial reasons", DENIAL_REASONS), ("## Error codes", ERROR_CODES)],
    ids=["actions", "denial-reasons", "error-codes"],
)
def test_each_table_has_one_row_per_name(title, names):
    # One row per name: none described twice, none left out, none that keylock does not know.
    rows = re.findall(r"^\| `([a-z_]+)` \|", _section(title), re.MULTILINE)
    assert sorted(rows) == sorted(names), f"{title}: rows {rows}, expected {list(names)}"


def test_the_status_table_has_one_row_per_field():
    rows = re.findall(r"^\| (key|lock) \| `([A-Za-z_]+)` \|", _section("## Status fields"), re.MULTILINE)
    assert sorted(rows) == sorted([("key", f) for f in KEY_STATUS_FIELDS] + [("lock", f) for f in LOCK_STATUS_FIELDS])
