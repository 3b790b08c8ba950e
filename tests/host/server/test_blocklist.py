# The versioned blocklist: every change bumps the version, the update is signed for every
# compartment of the site's locks, a blocked key cannot be validated, an unblocked one can.
import pytest
from server_testkit import START_S, YEAR_S

from keylock.firmware import crypto, signed
from keylock.host.server import ServerError


def verifies_on(server, lock, update):
    """What a lock provisioned now makes of `update`: its compartment's server key on its
    compartment's MAC."""
    p = server.provision_lock(lock)
    compartment = (p["compartment"]["kind"], p["compartment"]["target"])
    return signed.blocklist_ok(crypto.server_key(crypto.HmacKey(p["compartment_secret"])), compartment, update)


@pytest.fixture
def three_keys(site):
    site.add_holder("Bo", "BB-2", START_S + YEAR_S)
    site.add_key("K2", "Bo")
    site.add_key("K3", "Bo")
    return site


def test_every_change_bumps_the_version_and_no_change_does_not(three_keys):
    s = three_keys
    assert s.blocklist()["version"] == 0 and s.blocklist()["key_ids"] == []
    assert s.block("K2") == 1
    assert s.block("K2") == 1  # already blocked: nothing changed
    assert s.block("K1") == 2
    assert s.unblock("K3") == 2  # was not blocked
    assert s.unblock("K2") == 3
    update = s.blocklist()
    assert (update["version"], update["key_ids"]) == (3, [1001])
    assert len(update["macs"]) == 2  # depot (L1, L2) and L3 alone
    for lock in ("L1", "L2", "L3"):
        assert verifies_on(s, lock, update)
        assert not verifies_on(s, lock, dict(update, key_ids=[]))
        assert not verifies_on(s, lock, dict(update, version=2))


def test_a_blocked_key_is_refused_and_admitted_again_after_unblock(three_keys):
    s = three_keys
    s.block("K2")
    with pytest.raises(ServerError) as info:
        s.validate("K2")
    assert info.value.code == "blocked"
    assert s.key_info("K2").blocked
    # Another key carries the new list to the locks it opens: signed for their compartment.
    s.grant("K1", groups=["depot"])
    carried = s.validate("K1").blocklist
    assert carried["key_ids"] == [s.key_id("K2")]
    assert verifies_on(s, "L2", carried) and not verifies_on(s, "L3", carried)
    s.unblock("K2")
    v = s.validate("K2")
    assert v.blocklist["key_ids"] == [] and v.blocklist["version"] == 2
    assert not s.key_info("K2").blocked


def test_the_version_survives_reopening(three_keys, db_path, clock):
    from keylock.host.server import AccessServer

    three_keys.block("K3")
    with AccessServer.open(db_path, now_s=clock) as again:
        update = again.blocklist()
        assert (update["version"], update["key_ids"]) == (1, [1003])
        assert verifies_on(again, "L3", update)
