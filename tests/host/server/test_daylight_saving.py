"""A credential names the daylight-saving change within its validity, found to the second,
so the lock reads its rights in local time after it. On df81519 credentials had no such
field and schedules drifted an hour for up to 10 days after a change."""

from datetime import UTC, datetime

import pytest
from server_testkit import YEAR_S, Clock

from keylock.host.server import AccessServer


def utc_s(*args):
    return int(datetime(*args, tzinfo=UTC).timestamp())


def credential_at(tmp_path, timezone, now_s):
    clock = Clock(now_s)
    with AccessServer.create(str(tmp_path / "site.db"), now_s=clock, timezone=timezone) as server:
        server.add_holder("Anna Berg", "BB-1234-567890", now_s + 4 * YEAR_S)
        server.add_key("K1", "Anna Berg")
        server.add_lock("L1", group="depot")
        server.grant("K1", groups=["depot"], schedule={"days": ["mon"], "from": "07:00", "to": "16:00"})
        return server.validate("K1").credential


@pytest.mark.parametrize(
    "timezone, now, change_at, change_min",
    [
        ("Europe/Stockholm", (2026, 3, 27, 7), (2026, 3, 29, 1), 60),  # spring forward, 02:00 -> 03:00 local
        ("Europe/Stockholm", (2026, 10, 23, 7), (2026, 10, 25, 1), -60),  # fall back, 03:00 -> 02:00 local
        ("America/New_York", (2026, 3, 1, 12), (2026, 3, 8, 7), 60),  # another zone, another day
        ("Europe/Stockholm", (2026, 1, 5, 7), None, 0),  # no change within 10 days
        ("UTC", (2026, 3, 27, 7), None, 0),
    ],
)
def test_the_change_within_the_validity_is_in_the_credential(tmp_path, timezone, now, change_at, change_min):
    cred = credential_at(tmp_path, timezone, utc_s(*now))
    assert cred["offset_change_at"] == (utc_s(*change_at) if change_at else 0)
    assert cred["offset_change_min"] == change_min


def test_a_change_just_after_the_validity_is_left_out(tmp_path):
    # Validated 10 days and one hour before the change: the credential ends before it.
    cred = credential_at(tmp_path, "Europe/Stockholm", utc_s(2026, 3, 19, 0))
    assert cred["valid_until"] < utc_s(2026, 3, 29, 1)
    assert (cred["offset_change_at"], cred["offset_change_min"]) == (0, 0)
