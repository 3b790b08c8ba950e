# Bad input gets a clear error and changes nothing: the whole database is compared before
# and after each refused call (read through a second connection, as another process would).

import pytest
from server_testkit import START_S, YEAR_S, dump

from keylock.host.server import ServerError


@pytest.fixture
def busy_site(site, evidence):
    site.grant("K1", locks=["L1"], schedule={"days": ["mon"], "from": "07:00", "to": "16:00"})
    site.validate("K1", audit=evidence.upload("K1", [evidence.record("L1", 0)]))
    site.add_phone("P1")
    return site


BAD_CALLS = [
    ("add_holder", ("Anna Berg", "BB-9", START_S + YEAR_S), "already exists"),  # duplicate name
    ("add_holder", ("Bo", "BB-1234-567890", START_S + YEAR_S), "already belongs"),  # duplicate card
    ("add_holder", ("Bo", "BB-9", START_S + 6 * YEAR_S), "5 years"),
    ("add_holder", ("", "BB-9", START_S + YEAR_S), "non-empty"),
    ("add_holder", ("Bo", "BB-9", -1), "integer"),
    ("block_card", ("BB-0",), "unknown ID06"),
    ("add_key", ("K1", "Anna Berg"), "already exists"),
    ("add_key", ("K2", "Nobody"), "unknown holder"),
    ("add_key", ("K2", "Anna Berg", "lost"), "state"),
    ("add_key", ("K2", "Anna Berg", "approved", 10, 10), "before"),
    ("sign_receipt", ("K1",), "issued"),
    ("approve", ("K9",), "unknown key"),
    ("add_lock", ("L1",), "already exists"),
    ("add_lock", ("L9", None, "door"), "cylinder or padlock"),
    ("add_lock", ("L9", []), "non-empty"),
    ("add_group", ("depot",), "already exists"),
    ("add_phone", ("P1",), "already exists"),
    ("grant", ("K9", ["L1"]), "unknown key"),
    ("grant", ("K1", ["L1", "L9"]), "unknown lock"),  # the first lock must not be granted either
    ("grant", ("K1", None, ["nowhere"]), "unknown group"),
    ("grant", ("K1",), "name the locks"),
    ("grant", ("K1", []), "non-empty"),
    ("grant", ("K1", ["L2"], None, {"days": ["mon"], "from": "7", "to": "16:00"}), "07:00"),
    ("revoke", ("K1", ["L2"]), "no grant"),
    ("revoke", ("K1", ["L1", "L2"]), "no grant"),  # L1's grant must survive
    ("validate", ("K9",), "unknown key"),
    ("validate", ("K1", True, [{"from_seq": 5, "records": [], "next_seq": 4, "mac": bytes(8)}]), "carried batch"),
    ("validate", ("K1", True, [{"from_seq": 0, "records": [{"seq": 0}], "next_seq": 1, "mac": bytes(8)}]), "audit record needs"),
    ("block", ("K9",), "unknown key"),
    ("unblock", ("K9",), "unknown key"),
    ("battery_reading", ("K1", 2), "state of charge"),
    ("provision_key", ("K9",), "unknown key"),
    ("provision_lock", ("L9",), "unknown lock"),
    ("key_id", ("K9",), "unknown key"),
    ("lock_name", (999,), "unknown lock"),
]


@pytest.mark.parametrize("method, args, message", BAD_CALLS, ids=[f"{m}{i}" for i, (m, _, _) in enumerate(BAD_CALLS)])
def test_bad_input_raises_and_changes_nothing(busy_site, db_path, method, args, message):
    before = dump(db_path)
    with pytest.raises(ValueError, match=message):
        getattr(busy_site, method)(*args)
    assert dump(db_path) == before
    busy_site.add_key("K-after", "Anna Berg")  # the connection is still usable: no open transaction


def test_refusals_are_not_value_errors(busy_site):
    busy_site.block("K1")
    with pytest.raises(ServerError) as info:
        busy_site.validate("K1")
    assert not isinstance(info.value, ValueError)


def test_an_unknown_time_zone_is_refused(tmp_path, clock):
    from keylock.host.server import AccessServer

    with pytest.raises(ValueError, match="time zone"):
        AccessServer.create(str(tmp_path / "x.db"), now_s=clock, timezone="Mars/Olympus")


def test_more_rights_than_a_credential_carries_are_refused(clock):
    from keylock.host.server import AccessServer
    from keylock.protocol.messages import MAX_RIGHTS

    with AccessServer.create(":memory:", now_s=clock) as server:
        server.add_holder("H", "C", START_S + YEAR_S)
        server.add_key("K", "H")
        locks = [f"L{i}" for i in range(MAX_RIGHTS + 1)]
        for lock in locks:
            server.add_lock(lock, group="yard")  # one compartment: the rights are the limit here
        server.grant("K", locks=locks[:MAX_RIGHTS])
        with pytest.raises(ValueError, match="access rights"):
            server.grant("K", locks=locks[MAX_RIGHTS:])
        assert len(server.validate("K").credential["rights"]) == MAX_RIGHTS


def test_a_lock_whose_epochs_are_used_up_is_refused_and_nothing_changes(site, db_path):
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE locks SET epoch = 65535 WHERE name = 'L1'")  # provisioned 65,535 times
    conn.commit()
    conn.close()
    before = dump(db_path)
    for _ in range(2):
        with pytest.raises(ValueError, match="16 bits"):
            site.provision_lock("L1")
        assert dump(db_path) == before
    assert site.provision_lock("L2")["epoch"] == 1


def test_more_compartments_than_a_credential_carries_are_refused_at_the_grant(clock):
    # Refused when granted (rolled back), not at every later validation, which would roll
    # back the key's audit upload with it.
    from keylock.host.server import AccessServer
    from keylock.protocol.messages import MAX_COMPARTMENTS

    with AccessServer.create(":memory:", now_s=clock) as server:
        server.add_holder("H", "C", START_S + YEAR_S)
        server.add_key("K", "H")
        locks = [f"L{i}" for i in range(MAX_COMPARTMENTS + 1)]
        for lock in locks:
            server.add_lock(lock)  # no group: each lock is a compartment of its own
        server.grant("K", locks=locks[:MAX_COMPARTMENTS])
        with pytest.raises(ValueError, match="compartments"):
            server.grant("K", locks=locks[MAX_COMPARTMENTS:])
        assert len(server.validate("K").credential["macs"]) == MAX_COMPARTMENTS


def test_a_full_blocklist_signed_for_the_most_compartments_fits_one_signed_command():
    from keylock.firmware import crypto, signed
    from keylock.protocol.codes import MsgType
    from keylock.protocol.messages import MAX_BLOCKLIST, MAX_COMPARTMENTS, MESSAGES

    servers = [(1, g, crypto.server_key(crypto.HmacKey(bytes([g]) * 32))) for g in range(MAX_COMPARTMENTS)]
    update = signed.sign_blocklist(servers, 9, range(10_000, 10_000 + MAX_BLOCKLIST))
    body = MESSAGES[MsgType.BLOCKLIST_UPDATE].build(update)
    frame = MESSAGES[MsgType.SIGNED_COMMAND].build({"command": MsgType.BLOCKLIST_UPDATE, "body": body, "mac": bytes(16)})
    assert len(body) == 4 + 2 + 4 * MAX_BLOCKLIST + 1 + 21 * MAX_COMPARTMENTS and len(frame) > len(body)
