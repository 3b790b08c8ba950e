# The firmware's crypto primitives against published vectors, on both runtimes.
from fwenv import TEST_DIR, crypto, load
from fwenv import handshake as hs


def test_hmac_sha256_rfc4231():
    for case in load("crypto_vectors.json", "rfc4231", TEST_DIR):
        mac = crypto.hmac_sha256(bytes.fromhex(case["key"]), bytes.fromhex(case["data"]))
        assert mac.hex()[: len(case["mac"])] == case["mac"], case["case"]


def test_hmac_key_reused_for_many_messages():
    case = load("crypto_vectors.json", "rfc4231", TEST_DIR)[1]
    key = crypto.HmacKey(bytes.fromhex(case["key"]))
    for _ in range(3):
        assert key.mac(bytes.fromhex(case["data"])).hex() == case["mac"]


def test_sp800_108_counter_kdf_cavp():
    for case in load("crypto_vectors.json", "sp800_108", TEST_DIR):
        prf = crypto.HmacKey(bytes.fromhex(case["KI"]))
        out = crypto.kdf_counter(prf, bytes.fromhex(case["fixed"]), case["L"] // 8, case["rlen_bits"] // 8)
        assert out.hex() == case["KO"], case["KI"][:8]


def test_kdf_output_longer_than_one_block_is_the_counter_sequence():
    prf = crypto.HmacKey(b"k" * 32)
    out = crypto.kdf_counter(prf, b"fixed", 80)
    blocks = b"".join(crypto.hmac_sha256(b"k" * 32, i.to_bytes(4, "big") + b"fixed") for i in (1, 2, 3))
    assert out == blocks[:80]


def test_ct_equal():
    assert crypto.ct_equal(b"\x01" * 8, b"\x01" * 8)
    assert not crypto.ct_equal(b"\x01" * 8, b"\x01" * 7 + b"\x02")
    assert not crypto.ct_equal(b"\x02" + b"\x01" * 7, b"\x01" * 8)
    assert not crypto.ct_equal(b"\x01" * 8, b"\x01" * 9)
    assert crypto.ct_equal(b"", b"")


def test_key_secrets_are_diversified_per_key_and_site():
    site = crypto.HmacKey(b"s" * 32)
    a, b = crypto.key_secret(site, 1), crypto.key_secret(site, 2)
    assert len(a) == 32 and a != b
    assert crypto.key_secret(crypto.HmacKey(b"t" * 32), 1) != a
    assert crypto.key_secret(site, 1) == a


def test_nonces_are_fresh():
    seen = set()
    for _ in range(50):
        k = hs.KeyInitiator(1, b"k" * 32)
        seen.add(k.hello()[9:25])
    assert len(seen) == 50
