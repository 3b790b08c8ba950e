# Server-signed credentials and blocklists: any change to a signed field breaks the MAC.
from fwenv import crypto

try:
    from keylock_fw import signed
except ImportError:
    from keylock.firmware import signed

SERVER = crypto.server_key(crypto.HmacKey(b"\x11" * 32))
CRED = {
    "key_id": 1001,
    "issued_at": 100,
    "not_before": 0,
    "not_after": 10**9,
    "valid_until": 864100,
    "offset_change_at": 0,
    "offset_change_min": 0,
    "blocklist_version": 3,
    "rights": [{"target": 7, "kind": 1, "days": 127, "from_min": 0, "to_min": 1440}],
    "mac": bytes(16),
}


def test_signed_credential_verifies_and_any_change_breaks_it():
    cred = signed.sign_credential(SERVER, CRED)
    assert signed.credential_ok(SERVER, cred)
    for field, value in (("key_id", 1002), ("valid_until", 864101), ("blocklist_version", 4), ("not_before", 1)):
        changed = dict(cred)
        changed[field] = value
        assert not signed.credential_ok(SERVER, changed), field
    widened = dict(cred)
    widened["rights"] = [dict(cred["rights"][0], to_min=1439)]
    assert not signed.credential_ok(SERVER, widened)
    other_site = crypto.server_key(crypto.HmacKey(b"\x22" * 32))
    assert not signed.credential_ok(other_site, cred)


def test_signed_blocklist_verifies_and_any_change_breaks_it():
    update = signed.sign_blocklist(SERVER, 5, [30, 10, 20])
    assert update["key_ids"] == [10, 20, 30]
    assert signed.blocklist_ok(SERVER, update)
    assert not signed.blocklist_ok(SERVER, dict(update, version=6))
    assert not signed.blocklist_ok(SERVER, dict(update, key_ids=[10, 20]))
    assert not signed.blocklist_ok(SERVER, dict(update, key_ids=[10, 20, 31]))
