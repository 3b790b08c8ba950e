# The secure-storage service: secrets kept by slot outside the flash image, used only as
# MACs, kept across power-ups and replaced atomically. Runs on CPython and on MicroPython.
from fwenv import crypto, new_path, secure

SECRET = bytes(range(32))
OTHER = bytes(range(32, 64))


def test_a_slot_macs_under_its_secret_and_hands_out_no_bytes():
    s = secure.FileSecureStorage(new_path("kl_secure", "dev"))
    assert not s.has(b"own") and s.key(b"own") is None
    s.put(b"own", SECRET)
    assert s.has(b"own")
    key = s.key(b"own")
    assert key.mac(b"msg") == crypto.hmac_sha256(SECRET, b"msg")
    assert key.mac(b"msg") != crypto.hmac_sha256(OTHER, b"msg")
    # usable as the KDF's PRF, with the same result as the secret in RAM
    assert crypto.derive(key, b"label", b"ctx", 32) == crypto.derive(crypto.HmacKey(SECRET), b"label", b"ctx", 32)


def test_secrets_survive_a_power_up_and_a_put_replaces_one_slot_only():
    path = new_path("kl_secure", "dev")
    s = secure.FileSecureStorage(path)
    s.put(b"own", SECRET)
    s.put(b"compartment", OTHER)
    s.put(b"own", OTHER)  # replaced
    again = secure.FileSecureStorage(path)
    assert again.key(b"own").mac(b"m") == crypto.hmac_sha256(OTHER, b"m")
    assert again.key(b"compartment").mac(b"m") == crypto.hmac_sha256(OTHER, b"m")
    assert again.key(b"missing") is None


def test_bad_slot_or_secret_sizes_are_refused_and_change_nothing():
    path = new_path("kl_secure", "dev")
    s = secure.FileSecureStorage(path)
    s.put(b"own", SECRET)
    for slot, value in ((b"", SECRET), (b"x" * 33, SECRET), (b"own", b""), (b"own", bytes(256))):
        try:
            s.put(slot, value)
            raise AssertionError("accepted")
        except ValueError:
            pass
    assert secure.FileSecureStorage(path).key(b"own").mac(b"m") == crypto.hmac_sha256(SECRET, b"m")
