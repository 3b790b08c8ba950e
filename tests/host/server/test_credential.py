# The credential a validation issues: signed so the lock verifies it with the site secret it
# was provisioned with, encodable on the wire, and naming exactly the granted locks and groups.
from server_testkit import DAY_S, START_S, lock_admits

from keylock.firmware import codec, crypto, signed
from keylock.protocol.codes import MsgType
from keylock.protocol.frame import decode_message, encode_message


def lock_server_key(server, lock):
    """What a provisioned lock derives from the site secret it holds."""
    lock_id, groups, site_secret = server.provision_lock(lock)
    return lock_id, groups, crypto.server_key(crypto.HmacKey(site_secret))


def test_the_credential_verifies_on_every_lock_and_any_change_breaks_it(site):
    site.grant("K1", locks=["L3"])
    cred = site.validate("K1").credential
    assert set(cred) == {
        "key_id",
        "issued_at",
        "not_before",
        "not_after",
        "valid_until",
        "offset_change_at",
        "offset_change_min",
        "blocklist_version",
        "rights",
        "mac",
    }
    for lock in ("L1", "L2", "L3"):
        _, _, server_key = lock_server_key(site, lock)
        assert signed.credential_ok(server_key, cred)
    assert not signed.credential_ok(lock_server_key(site, "L1")[2], dict(cred, valid_until=cred["valid_until"] + 1))
    shifted = dict(cred, offset_change_at=cred["issued_at"] + 60, offset_change_min=cred["offset_change_min"] ^ 60)
    assert not signed.credential_ok(lock_server_key(site, "L1")[2], shifted)  # the daylight-saving fields are signed too
    widened = dict(cred, rights=[dict(cred["rights"][0], target=101)])
    assert not signed.credential_ok(lock_server_key(site, "L1")[2], widened)


def test_the_blocklist_verifies_with_the_lock_site_secret(site):
    site.block("K1")
    _, _, server_key = lock_server_key(site, "L1")
    assert signed.blocklist_ok(server_key, site.blocklist())


def test_another_site_cannot_verify(site, tmp_path, clock):
    from keylock.host.server import AccessServer

    other = AccessServer.create(str(tmp_path / "other.db"), now_s=clock)
    other.add_lock("L1")
    cred = site.validate("K1").credential
    assert not signed.credential_ok(lock_server_key(other, "L1")[2], cred)
    other.close()


def test_rights_name_the_granted_lock_or_group(site):
    site.grant("K1", groups=["depot"])
    site.grant("K1", locks=["L3"])
    cred = site.validate("K1").credential
    assert cred["rights"] == [
        {"target": 103, "kind": codec.TARGET_LOCK, "days": 0x7F, "from_min": 0, "to_min": 1440},
        {"target": 1, "kind": codec.TARGET_GROUP, "days": 0x7F, "from_min": 0, "to_min": 1440},
    ]
    for lock in ("L1", "L2", "L3"):
        lock_id, groups, _ = site.provision_lock(lock)
        assert lock_admits(cred, lock_id, groups, START_S)
    site.add_lock("L4")
    lock_id, groups, _ = site.provision_lock("L4")
    assert groups == [] and not lock_admits(cred, lock_id, groups, START_S)


def test_revoke_removes_the_right_at_the_next_validation(site):
    site.grant("K1", groups=["depot"], schedule={"days": ["mon"], "from": "07:00", "to": "09:00"})
    site.grant("K1", groups=["depot"])
    site.grant("K1", locks=["L3"])
    site.revoke("K1", groups=["depot"])  # every window on the group goes
    assert [r["target"] for r in site.validate("K1").credential["rights"]] == [103]


def test_the_credential_encodes_identically_with_construct_and_the_firmware_codec(site):
    site.grant("K1", groups=["depot"], schedule={"days": ["mon", "fri"], "from": "22:00", "to": "06:00"})
    v = site.validate("K1")
    fields = {"server_time": v.server_time, "credential": v.credential}
    wire = encode_message(MsgType.VALIDATE, fields)
    assert wire == codec.encode(codec.T_VALIDATE, fields)
    assert decode_message(MsgType.VALIDATE, wire)["credential"] == v.credential
    update = encode_message(MsgType.BLOCKLIST_UPDATE, v.blocklist)
    assert update == codec.encode(codec.T_BLOCKLIST_UPDATE, v.blocklist)


def test_the_credential_carries_the_blocklist_version_at_issue(site):
    site.add_holder("Bo", "BB-2", START_S + DAY_S * 100)
    site.add_key("K2", "Bo")
    site.block("K2")
    v = site.validate("K1")
    assert v.credential["blocklist_version"] == v.blocklist["version"] == 1
    assert v.blocklist["key_ids"] == [site.key_id("K2")]


def test_provisioning_gives_the_key_its_diversified_secret(site):
    key_id, key_secret = site.provision_key("K1")
    _, _, site_secret = site.provision_lock("L1")
    assert key_id == 1001 and len(site_secret) == 32
    assert key_secret == crypto.key_secret(crypto.HmacKey(site_secret), key_id)
    assert key_secret != site_secret
