# The credential a validation issues: one MAC per compartment the key's grants reach, each
# verified by a lock of that compartment with the compartment secret it was provisioned with
# and by no other; encodable on the wire; naming exactly the granted locks and groups. And
# what provisioning and a signed VALIDATE give each device: no lock holds anything that
# derives a key's own secret, or another compartment's.
from server_testkit import DAY_S, START_S, lock_admits

from keylock.firmware import codec, crypto, signed
from keylock.protocol.codes import MsgType, Role, TargetKind
from keylock.protocol.frame import decode_message, encode_message

DEPOT = (TargetKind.GROUP, 1)  # L1 and L2's compartment (the site fixture)
L3_ALONE = (TargetKind.LOCK, 103)


def compartment_of(p):
    return (p["compartment"]["kind"], p["compartment"]["target"])


def lock_server_key(server, lock):
    """What a lock provisioned now holds and derives: its PROVISION fields, its compartment
    and that compartment's server key (with which it checks credentials)."""
    p = server.provision_lock(lock)
    return p, compartment_of(p), crypto.server_key(crypto.HmacKey(p["compartment_secret"]))


def verifies_on(server, lock, cred):
    _, compartment, server_key = lock_server_key(server, lock)
    return signed.credential_ok(server_key, compartment, cred)


def test_the_credential_verifies_on_every_lock_it_opens_and_any_change_breaks_it(site):
    site.grant("K1", groups=["depot"])
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
        "warn_permille",
        "rights",
        "macs",
    }
    assert [(m["kind"], m["target"]) for m in cred["macs"]] == [L3_ALONE, DEPOT]
    for lock in ("L1", "L2", "L3"):
        assert verifies_on(site, lock, cred)
        # what the key hands this lock: its compartment's MAC alone
        _, compartment, server_key = lock_server_key(site, lock)
        only = signed.for_compartment(cred, compartment)
        assert len(only["macs"]) == 1 and signed.credential_ok(server_key, compartment, only)
    for lock in ("L1", "L3"):
        assert not verifies_on(site, lock, dict(cred, valid_until=cred["valid_until"] + 1))
        shifted = dict(cred, offset_change_at=cred["issued_at"] + 60, offset_change_min=cred["offset_change_min"] ^ 60)
        assert not verifies_on(site, lock, shifted)  # the daylight-saving fields are signed too
        widened = dict(cred, rights=[dict(cred["rights"][0], target=102)])
        assert not verifies_on(site, lock, widened)
        assert not verifies_on(site, lock, dict(cred, warn_permille=cred["warn_permille"] ^ 1))  # the warning threshold is signed


def test_a_lock_verifies_no_mac_but_its_own_compartments(site):
    site.add_lock("L4", group="yard")  # group 2: another compartment
    site.grant("K1", groups=["yard"])
    yard_only = site.validate("K1").credential
    assert [(m["kind"], m["target"]) for m in yard_only["macs"]] == [(TargetKind.GROUP, 2)]
    assert verifies_on(site, "L4", yard_only)
    for lock in ("L1", "L2", "L3"):  # not granted: nothing their compartments accept
        assert not verifies_on(site, lock, yard_only)
        assert signed.for_compartment(yard_only, lock_server_key(site, lock)[1]) is None

    # A key granted both carries both MACs; the depot's compartment secret verifies none but
    # the depot's, whatever compartment a MAC is presented as.
    site.grant("K1", groups=["depot"])
    both = site.validate("K1").credential
    _, depot, depot_server = lock_server_key(site, "L1")
    assert depot == DEPOT and signed.credential_ok(depot_server, depot, both)
    others = [m for m in both["macs"] if (m["kind"], m["target"]) != depot]
    assert others
    for m in others:
        relabelled = dict(both, macs=[dict(m, kind=depot[0], target=depot[1])])
        assert not signed.credential_ok(depot_server, depot, relabelled)
    # ... and a yard lock cannot make a depot MAC: its server key is another.
    _, _, yard_server = lock_server_key(site, "L4")
    assert not signed.credential_ok(depot_server, depot, signed.sign_credential([(depot[0], depot[1], yard_server)], both))


def test_the_blocklist_verifies_with_the_lock_compartment_secret(site):
    site.block("K1")
    update = site.blocklist()
    for lock in ("L1", "L3"):
        _, compartment, server_key = lock_server_key(site, lock)
        assert signed.blocklist_ok(server_key, compartment, update)
    _, compartment, l1_server = lock_server_key(site, "L1")
    assert not signed.blocklist_ok(l1_server, L3_ALONE, update)  # L3's MAC is not under L1's secret


def test_another_site_cannot_verify(site, tmp_path, clock):
    from keylock.host.server import AccessServer

    site.grant("K1", groups=["depot"])
    cred = site.validate("K1").credential
    with AccessServer.create(str(tmp_path / "other.db"), now_s=clock) as other:
        other.add_lock("L1", group="depot")  # the same compartment's name, another site's secret
        _, compartment, server_key = lock_server_key(other, "L1")
        assert compartment == DEPOT
        assert not signed.credential_ok(server_key, compartment, cred)


def test_rights_name_the_granted_lock_or_group(site):
    site.grant("K1", groups=["depot"])
    site.grant("K1", locks=["L3"])
    cred = site.validate("K1").credential
    assert cred["rights"] == [
        {"target": 103, "kind": codec.TARGET_LOCK, "days": 0x7F, "from_min": 0, "to_min": 1440},
        {"target": 1, "kind": codec.TARGET_GROUP, "days": 0x7F, "from_min": 0, "to_min": 1440},
    ]
    for lock in ("L1", "L2", "L3"):
        p = site.provision_lock(lock)
        assert lock_admits(cred, p["device_id"], p["groups"], START_S)
    site.add_lock("L4")
    p = site.provision_lock("L4")
    assert p["groups"] == [] and not lock_admits(cred, p["device_id"], p["groups"], START_S)


def test_revoke_removes_the_right_at_the_next_validation(site):
    site.grant("K1", groups=["depot"], schedule={"days": ["mon"], "from": "07:00", "to": "09:00"})
    site.grant("K1", groups=["depot"])
    site.grant("K1", locks=["L3"])
    site.revoke("K1", groups=["depot"])  # every window on the group goes
    cred = site.validate("K1").credential
    assert [r["target"] for r in cred["rights"]] == [103]
    assert [(m["kind"], m["target"]) for m in cred["macs"]] == [L3_ALONE]  # the depot's MAC went too


def test_the_credential_encodes_identically_with_construct_and_the_firmware_codec(site):
    site.grant("K1", groups=["depot"], schedule={"days": ["mon", "fri"], "from": "22:00", "to": "06:00"})
    site.grant("K1", locks=["L3"])
    v = site.validate("K1")
    fields = {
        "server_time": v.server_time,
        "credential": v.credential,
        "secrets": [{"kind": m["kind"], "target": m["target"], "wrapped": bytes(range(32))} for m in v.credential["macs"]],
        "uploaded_to": v.uploaded_to,
    }
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


def test_a_key_is_provisioned_with_its_own_secret_only(site):
    k = site.provision_key("K1")
    assert (k["role"], k["device_id"], k["groups"], k["epoch"]) == (Role.KEY, 1001, [], 0)
    assert k["compartment"] == {"kind": TargetKind.LOCK, "target": 0}
    assert k["compartment_secret"] == bytes(32) and len(k["secret"]) == 32 and k["secret"] != bytes(32)
    assert site.provision_key("K1") == k  # fixed for the key's life: nothing new each call


def test_no_lock_holds_a_secret_that_derives_a_key_own_secret(site):
    site.add_holder("Bo", "BB-2", START_S + DAY_S * 100)
    site.add_key("K2", "Bo")
    keys = [site.provision_key(k) for k in ("K1", "K2")]
    locks = [site.provision_lock(lock) for lock in ("L1", "L2", "L3")]
    held = [secret for p in locks for secret in (p["secret"], p["compartment_secret"])]
    for k in keys:
        own = k["secret"]
        assert own not in held
        for secret in held:  # whatever a lock holds, as the old site secret derived key secrets
            assert crypto.key_secret(crypto.HmacKey(secret), k["device_id"]) != own
            assert crypto.command_key(crypto.HmacKey(secret)).mac(b"x") != crypto.command_key(crypto.HmacKey(own)).mac(b"x")
    # Locks of one compartment share its secret; each lock's own secret is its alone.
    assert locks[0]["compartment_secret"] == locks[1]["compartment_secret"] != locks[2]["compartment_secret"]
    assert len({p["secret"] for p in locks}) == 3
    assert [compartment_of(p) for p in locks] == [DEPOT, DEPOT, L3_ALONE]


def test_a_signed_validate_wraps_the_key_secret_for_each_compartment_it_opens(site):
    site.grant("K1", groups=["depot"])
    site.grant("K1", locks=["L3"])
    v = site.validate("K1")
    own = crypto.HmacKey(site.provision_key("K1")["secret"])
    nonce = bytes(range(16))
    command = site.sign_command("K1", nonce, MsgType.VALIDATE, {"server_time": v.server_time, "credential": v.credential, "uploaded_to": 0})
    assert signed.command_ok(crypto.command_key(own), 1001, nonce, command)
    body = decode_message(MsgType.VALIDATE, command["body"])
    assert body["credential"] == v.credential
    wrapped = {(s["kind"], s["target"]): s["wrapped"] for s in body["secrets"]}
    assert sorted(wrapped) == [L3_ALONE, DEPOT]
    for lock in ("L1", "L3"):
        p = site.provision_lock(lock)
        compartment = compartment_of(p)
        expected = crypto.key_secret(crypto.HmacKey(p["compartment_secret"]), 1001)  # what the lock checks the key's proof with
        key_side = signed.unwrap_secret(lambda n, c: crypto.wrap_stream(own, n, c), nonce, *compartment, wrapped[compartment])
        assert key_side == expected and wrapped[compartment] != expected  # the relay sees it wrapped
    # Under another nonce the same secret is wrapped differently: no two commands share a stream.
    again = site.sign_command(
        "K1", bytes(16), MsgType.VALIDATE, {"server_time": v.server_time, "credential": v.credential, "uploaded_to": 0}
    )
    assert decode_message(MsgType.VALIDATE, again["body"])["secrets"] != body["secrets"]
