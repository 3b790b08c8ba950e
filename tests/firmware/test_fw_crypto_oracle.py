# The firmware's crypto against vectors an independent implementation wrote (the `cryptography`
# package: crypto_oracle_vectors.json, made and kept current by test_crypto_oracle.py), on both
# runtimes: on real MicroPython this checks the firmware where it actually runs (its big-int
# pads, its hashlib). Runtime-neutral: nothing CPython-only is imported here.
from fwenv import TEST_DIR, crypto, load

VECTORS = "crypto_oracle_vectors.json"


def cases(kind):
    return load(VECTORS, kind, TEST_DIR)


def test_hmac_sha256_equals_the_oracle():
    for i, c in enumerate(cases("hmac_sha256")):
        assert crypto.hmac_sha256(bytes.fromhex(c["key"]), bytes.fromhex(c["msg"])).hex() == c["mac"], i


def test_an_hmac_key_reused_equals_the_oracle():
    for i, c in enumerate(cases("hmac_sha256")):
        prf = crypto.HmacKey(bytes.fromhex(c["key"]))
        msg = bytes.fromhex(c["msg"])
        assert prf.mac(msg).hex() == c["mac"] and prf.mac(msg).hex() == c["mac"], i


def test_kdf_counter_equals_the_oracle():
    for i, c in enumerate(cases("kdf_counter")):
        prf = crypto.HmacKey(bytes.fromhex(c["key"]))
        out = crypto.kdf_counter(prf, bytes.fromhex(c["fixed"]), c["length"], c["rlen"])
        assert out.hex() == c["out"], (i, c["rlen"], c["length"])


def test_derive_equals_the_oracle():
    for i, c in enumerate(cases("derive")):
        prf = crypto.HmacKey(bytes.fromhex(c["key"]))
        out = crypto.derive(prf, bytes.fromhex(c["label"]), bytes.fromhex(c["context"]), c["length"])
        assert out.hex() == c["out"], (i, c["length"])


def test_key_secret_and_server_key_equal_the_oracle():
    for i, c in enumerate(cases("system")):
        site = crypto.HmacKey(bytes.fromhex(c["site"]))
        assert crypto.key_secret(site, c["key_id"]).hex() == c["key_secret"], i
        assert crypto.server_key(site).mac(bytes.fromhex(c["msg"])).hex() == c["server_mac"], i


def test_the_vectors_are_there():
    counts = [len(cases(kind)) for kind in ("hmac_sha256", "kdf_counter", "derive", "system")]
    assert counts == [20, 12, 12, 6], counts
