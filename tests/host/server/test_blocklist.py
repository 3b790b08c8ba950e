# The versioned blocklist: every change bumps the version, the update is signed, a blocked
# key cannot be validated, an unblocked one can.
import pytest
from server_testkit import START_S, YEAR_S

from keylock.firmware import crypto, signed
from keylock.host.server import ServerError


def server_key(server):
    return crypto.server_key(crypto.HmacKey(server.provision_lock("L1")[2]))


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
    assert signed.blocklist_ok(server_key(s), update)
    assert not signed.blocklist_ok(server_key(s), dict(update, key_ids=[]))


def test_a_blocked_key_is_refused_and_admitted_again_after_unblock(three_keys):
    s = three_keys
    s.block("K2")
    with pytest.raises(ServerError) as info:
        s.validate("K2")
    assert info.value.code == "blocked"
    assert s.key_info("K2").blocked
    # Another key carries the new list to the locks.
    assert s.validate("K1").blocklist["key_ids"] == [s.key_id("K2")]
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
        assert signed.blocklist_ok(server_key(again), update)
