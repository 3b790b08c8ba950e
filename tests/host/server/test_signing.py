# The server's cryptography (signing.py, on the `cryptography` package) gives byte for byte
# what the firmware derives and verifies (firmware/crypto.py, firmware/signed.py), and it is
# the one place in host/server that does cryptography.
import ast
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from server_testkit import START_S, YEAR_S

from keylock.firmware import crypto, signed
from keylock.host.server import signing

SERVER_DIR = Path(signing.__file__).resolve().parent
secrets_ = st.binary(min_size=32, max_size=32)
key_ids = st.integers(0, 0xFFFFFFFF)


@given(secrets_, key_ids)
def test_key_secret_is_the_firmwares(site_secret, key_id):
    assert signing.key_secret(site_secret, key_id) == crypto.key_secret(crypto.HmacKey(site_secret), key_id)


@given(secrets_, st.binary(max_size=300))
def test_the_server_key_macs_as_the_firmwares(site_secret, msg):
    assert signing.ServerKey(site_secret).mac(msg) == crypto.server_key(crypto.HmacKey(site_secret)).mac(msg)


@given(st.binary(max_size=100), st.binary(max_size=40), st.binary(max_size=40), st.integers(1, 200))
def test_derive_is_the_firmwares(secret, label, context, length):
    assert signing.derive(secret, label, context, length) == crypto.derive(crypto.HmacKey(secret), label, context, length)


def test_what_the_server_signs_the_firmware_accepts(site, clock):
    site.grant("K1", groups=["depot"])
    site.block("K1")
    site.add_holder("Bo", "BB-2", START_S + YEAR_S)
    site.add_key("K2", "Bo")
    validation = site.validate("K2")
    _, _, site_secret = site.provision_lock("L1")
    firmware_server = crypto.server_key(crypto.HmacKey(site_secret))
    assert signed.credential_ok(firmware_server, validation.credential)
    assert signed.blocklist_ok(firmware_server, validation.blocklist)
    assert validation.blocklist["key_ids"] == [site.key_id("K1")]
    assert signed.blocklist_ok(firmware_server, site.blocklist())
    key_id, secret = site.provision_key("K2")
    assert secret == crypto.key_secret(crypto.HmacKey(site_secret), key_id)
    other_site = crypto.server_key(crypto.HmacKey(bytes(32)))
    assert not signed.credential_ok(other_site, validation.credential)


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
