# Server-signed credentials and blocklists: one MAC per compartment, each under that
# compartment's server key; any change to a signed field breaks every MAC, and a MAC for one
# compartment is worth nothing to a lock of another. Audit records and carried batches: the
# lock's and the key's MACs break on any change.
from fwenv import audit, crypto

try:
    from keylock_fw import signed
except ImportError:
    from keylock.firmware import signed

GROUP_A = (1, 7)
GROUP_B = (1, 8)
LOCK_C = (0, 101)  # a lock in no group: a compartment of its own
SERVER_A = crypto.server_key(crypto.HmacKey(b"\x11" * 32))
SERVER_B = crypto.server_key(crypto.HmacKey(b"\x22" * 32))
SERVER_C = crypto.server_key(crypto.HmacKey(b"\x33" * 32))
SERVERS = [GROUP_A + (SERVER_A,), GROUP_B + (SERVER_B,)]
CRED = {
    "key_id": 1001,
    "issued_at": 100,
    "not_before": 0,
    "not_after": 10**9,
    "valid_until": 864100,
    "offset_change_at": 0,
    "offset_change_min": 0,
    "blocklist_version": 3,
    "warn_permille": 0,
    "rights": [{"target": 7, "kind": 1, "days": 127, "from_min": 0, "to_min": 1440}],
    "macs": [],
}


def test_signed_credential_verifies_per_compartment_and_any_change_breaks_it():
    cred = signed.sign_credential(SERVERS, CRED)
    assert [(m["kind"], m["target"]) for m in cred["macs"]] == [GROUP_A, GROUP_B]
    assert signed.credential_ok(SERVER_A, GROUP_A, cred) and signed.credential_ok(SERVER_B, GROUP_B, cred)
    for field, value in (("key_id", 1002), ("valid_until", 864101), ("blocklist_version", 4), ("not_before", 1)):
        changed = dict(cred)
        changed[field] = value
        assert not signed.credential_ok(SERVER_A, GROUP_A, changed), field
        assert not signed.credential_ok(SERVER_B, GROUP_B, changed), field
    widened = dict(cred)
    widened["rights"] = [dict(cred["rights"][0], to_min=1439)]
    assert not signed.credential_ok(SERVER_A, GROUP_A, widened)
    # a compartment it names no MAC for, and another compartment's key under this one's name
    assert not signed.credential_ok(SERVER_C, LOCK_C, cred)
    assert not signed.credential_ok(SERVER_B, GROUP_A, cred)
    # B's MAC relabelled as A's does not pass a lock of A
    relabelled = dict(cred, macs=[{"kind": 1, "target": 7, "mac": cred["macs"][1]["mac"]}])
    assert not signed.credential_ok(SERVER_A, GROUP_A, relabelled)


def test_a_key_hands_a_lock_only_its_compartments_mac():
    cred = signed.sign_credential(SERVERS, CRED)
    for_b = signed.for_compartment(cred, GROUP_B)
    assert for_b["macs"] == [cred["macs"][1]] and signed.credential_ok(SERVER_B, GROUP_B, for_b)
    assert not signed.credential_ok(SERVER_A, GROUP_A, for_b)
    assert signed.for_compartment(cred, LOCK_C) is None
    assert len(cred["macs"]) == 2  # the key's own copy is untouched


def test_signed_blocklist_verifies_per_compartment_and_any_change_breaks_it():
    update = signed.sign_blocklist(SERVERS, 5, [30, 10, 20])
    assert update["key_ids"] == [10, 20, 30]
    assert signed.blocklist_ok(SERVER_A, GROUP_A, update) and signed.blocklist_ok(SERVER_B, GROUP_B, update)
    for server, where in ((SERVER_A, GROUP_A), (SERVER_B, GROUP_B)):
        assert not signed.blocklist_ok(server, where, dict(update, version=6))
        assert not signed.blocklist_ok(server, where, dict(update, key_ids=[10, 20]))
        assert not signed.blocklist_ok(server, where, dict(update, key_ids=[10, 20, 31]))
    assert not signed.blocklist_ok(SERVER_C, LOCK_C, update)
    # a credential's MAC is not a blocklist's (domain separation), even over equal bytes
    assert not signed.blocklist_ok(SERVER_A, GROUP_A, dict(update, macs=signed.sign_credential(SERVERS, CRED)["macs"]))


def test_an_audit_record_carries_its_locks_mac_and_any_change_breaks_it():
    own = crypto.HmacKey(b"\x44" * 32)
    body = audit.pack_body(41, 2, 1767600060, 1001, 101, 0, 0, 1)
    raw = body + signed.audit_mac(own, body)
    assert len(raw) == audit.RECORD_LEN and signed.audit_ok(own, raw)
    assert audit.from_fields(audit.to_fields(raw)) == raw
    assert not signed.audit_ok(crypto.HmacKey(b"\x45" * 32), raw)  # another lock's secret
    for i in range(audit.RECORD_LEN):
        flipped = raw[:i] + bytes((raw[i] ^ 0x01,)) + raw[i + 1 :]
        assert not signed.audit_ok(own, flipped), i


def test_a_carried_batch_mac_covers_every_record_and_both_positions():
    own = crypto.HmacKey(b"\x55" * 32)
    recs = [bytes((i,)) * audit.RECORD_LEN for i in range(3)]
    mac = signed.carried_mac(own, 1001, 10, 13, recs)
    assert mac == signed.carried_mac(own, 1001, 10, 13, list(recs))
    for changed in (
        signed.carried_mac(own, 1001, 10, 13, recs[:1] + recs[2:]),  # one dropped from the middle
        signed.carried_mac(own, 1001, 10, 14, recs),
        signed.carried_mac(own, 1001, 9, 13, recs),
        signed.carried_mac(own, 1002, 10, 13, recs),
        signed.carried_mac(crypto.HmacKey(b"\x56" * 32), 1001, 10, 13, recs),
    ):
        assert changed != mac


def test_a_wrapped_secret_unwraps_only_with_the_keys_own_secret_and_nonce():
    own = crypto.HmacKey(b"\x66" * 32)
    secret = bytes(range(32))
    nonce = bytes(range(100, 116))

    def stream(key):
        return lambda n, c: crypto.wrap_stream(key, n, c)

    wrapped = signed.wrap_secret(stream(own), nonce, 1, 7, secret)
    assert wrapped != secret and len(wrapped) == 32
    assert signed.unwrap_secret(stream(own), nonce, 1, 7, wrapped) == secret
    assert signed.unwrap_secret(stream(crypto.HmacKey(b"\x67" * 32)), nonce, 1, 7, wrapped) != secret
    assert signed.unwrap_secret(stream(own), bytes(16), 1, 7, wrapped) != secret
    assert signed.unwrap_secret(stream(own), nonce, 1, 8, wrapped) != secret  # bound to its compartment
