"""Device.audit_positions: what `audit --from` takes, on either role. A lock's is its event
seq; a key's is its position among the events it carries, which is not the seq of the lock
that wrote the event, so both are checked against a fresh read from that number."""

import pytest

from keylock.host.link.device import Device
from keylock.host.testing.site import Site


@pytest.fixture(scope="module")
def site():
    def build(s):
        for key in ("K1", "K2", "K2"):  # L1's events 0, 1, 2; K2 carries 1 and 2 at positions 0 and 1
            s.open(key, "L1")

    s = Site.emulate(keys=2, locks=1, build=build)
    yield s
    s.close()


def test_a_lock_is_positioned_by_its_seq_and_a_key_by_what_it_carries(site):
    with Device(site.endpoint("L1", "socket")) as lock:
        assert [(where, r["seq"], r["key_id"]) for where, r in lock.audit_positions()] == [(0, 0, 1001), (1, 1, 1002), (2, 2, 1002)]
    with Device(site.endpoint("K2", "socket")) as key:
        positioned = key.audit_positions()
        assert [(where, r["seq"]) for where, r in positioned] == [(0, 1), (1, 2)]
        for where, record in positioned:
            assert key.audit_positions(where)[0] == (where, record)
        assert key.audit_positions(last=1) == positioned[-1:]


def test_reading_one_event_at_a_time_gives_the_same_positions(site):
    # the path taken when a batch has a gap (events freed, or one lost to a power cut):
    # each one-event read says exactly where that event was
    with Device(site.endpoint("K2", "socket")) as key:
        assert key._carried_one_by_one(0, 10) == key.audit_positions()
        assert key._carried_one_by_one(1, 10) == key.audit_positions(1)
