# The server's cryptography (signing.py, on the `cryptography` package) gives byte for byte
# what the firmware derives and verifies (firmware/crypto.py, firmware/signed.py), and it is
# the one place in host/server that does cryptography.
import ast
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from server_testkit import START_S, YEAR_S

from keylock.firmware import audit, crypto, signed
from keylock.host.server import signing
from keylock.protocol.codes import MsgType, Role, TargetKind

SERVER_DIR = Path(signing.__file__).resolve().parent
secrets_ = st.binary(min_size=32, max_size=32)
key_ids = st.integers(0, 0xFFFFFFFF)
kinds = st.sampled_from(list(TargetKind))


@given(secrets_, key_ids)
def test_key_secret_is_the_firmwares(compartment_secret, key_id):
    assert signing.key_secret(compartment_secret, key_id) == crypto.key_secret(crypto.HmacKey(compartment_secret), key_id)


@given(secrets_, st.binary(max_size=300))
def test_the_server_key_macs_as_the_firmwares(compartment_secret, msg):
    assert signing.server_key(compartment_secret).mac(msg) == crypto.server_key(crypto.HmacKey(compartment_secret)).mac(msg)


@given(secrets_, st.binary(max_size=300))
def test_the_command_key_macs_as_the_firmwares(own, msg):
    assert signing.command_key(own).mac(msg) == crypto.command_key(crypto.HmacKey(own)).mac(msg)


@given(secrets_, st.binary(min_size=16, max_size=16), st.binary(max_size=8))
def test_the_wrap_stream_is_the_firmwares(own, nonce, context):
    assert signing.wrap_stream(own, nonce, context) == crypto.wrap_stream(crypto.HmacKey(own), nonce, context)


@given(secrets_, st.binary(max_size=300))
def test_a_mac_key_is_hmac_sha256(secret, msg):
    assert signing.MacKey(secret).mac(msg) == crypto.HmacKey(secret).mac(msg)


@given(st.binary(max_size=100), st.binary(max_size=40), st.binary(max_size=40), st.integers(1, 200))
def test_derive_is_the_firmwares(secret, label, context, length):
    assert signing.derive(secret, label, context, length) == crypto.derive(crypto.HmacKey(secret), label, context, length)


@given(secrets_, kinds, key_ids, kinds, key_ids)
def test_compartments_have_their_own_secrets(master, kind_a, target_a, kind_b, target_b):
    same = (kind_a, target_a) == (kind_b, target_b)
    a = signing.compartment_secret(master, kind_a, target_a)
    assert (a == signing.compartment_secret(master, kind_b, target_b)) == same
    assert a != master and len(a) == 32


@given(secrets_, st.sampled_from([Role.KEY, Role.LOCK]), key_ids, st.integers(0, 0xFFFF))
def test_device_secrets_are_apart_per_role_id_and_epoch(master, role, device_id, epoch):
    own = signing.device_secret(master, role, device_id, epoch)
    other_role = Role.LOCK if role == Role.KEY else Role.KEY
    assert own != signing.device_secret(master, other_role, device_id, epoch)
    assert own != signing.device_secret(master, role, device_id ^ 1, epoch)
    assert own != signing.device_secret(master, role, device_id, epoch ^ 1)
    # nor is it any compartment's: a device id that is also a lock's compartment name
    assert own not in (signing.compartment_secret(master, kind, device_id) for kind in TargetKind)


def test_what_the_server_signs_the_firmware_accepts(site, clock):
    site.grant("K1", groups=["depot"])
    site.block("K1")
    site.add_holder("Bo", "BB-2", START_S + YEAR_S)
    site.add_key("K2", "Bo")
    site.grant("K2", groups=["depot"])
    validation = site.validate("K2")
    lock = site.provision_lock("L1")
    compartment = (lock["compartment"]["kind"], lock["compartment"]["target"])
    firmware_server = crypto.server_key(crypto.HmacKey(lock["compartment_secret"]))
    assert signed.credential_ok(firmware_server, compartment, validation.credential)
    assert signed.blocklist_ok(firmware_server, compartment, validation.blocklist)
    assert validation.blocklist["key_ids"] == [site.key_id("K1")]
    assert signed.blocklist_ok(firmware_server, compartment, site.blocklist())
    key = site.provision_key("K2")
    nonce = bytes(range(16))
    command = site.sign_command("K2", nonce, MsgType.TIME_SET)
    assert signed.command_ok(crypto.command_key(crypto.HmacKey(key["secret"])), key["device_id"], nonce, command)
    assert not signed.command_ok(crypto.command_key(crypto.HmacKey(key["secret"])), key["device_id"], bytes(16), command)
    other_site = crypto.server_key(crypto.HmacKey(bytes(32)))
    assert not signed.credential_ok(other_site, compartment, validation.credential)


def test_what_the_firmware_signs_the_server_verifies(site, evidence):
    # A lock's record and a key's batch, MACed with the firmware's HMAC (crypto.HmacKey) under
    # the secrets the server provisioned: the server (signing.py's HMAC) stores them.
    lock, key = evidence.lock("L1"), evidence.key("K1")
    body = audit.pack_body(0, lock["epoch"], START_S, 1001, lock["device_id"], 0, 0, 1)
    raw = body + signed.audit_mac(crypto.HmacKey(lock["secret"]), body)
    batch = {
        "from_seq": 0,
        "records": [audit.to_fields(raw)],
        "next_seq": 1,
        "mac": signed.carried_mac(crypto.HmacKey(key["secret"]), 1001, 0, 1, [raw]),
    }
    v = site.validate("K1", audit=[batch])
    assert (v.audit_stored, v.audit_rejected, v.uploaded_to) == (1, 0, 1)


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield from (f"{'.' * node.level}{node.module or ''}.{a.name}" for a in node.names)


def test_signing_is_the_one_place_that_does_the_servers_cryptography():
    for path in sorted(SERVER_DIR.glob("*.py")):
        names = list(_imports(path))
        uses_cryptography = any(n.startswith(("cryptography", "hmac", "hashlib", "secrets.")) for n in names)
        uses_firmware_crypto = any(n.endswith("firmware.crypto") for n in names)
        assert not uses_firmware_crypto, path.name  # the server computes with cryptography, never the firmware's code
        if path.name != "signing.py":
            assert not uses_cryptography, path.name
