# The firmware's own HMAC-SHA256 and NIST SP 800-108 counter-mode KDF (firmware/crypto.py,
# hashlib's SHA-256 and nothing else) against `cryptography` (OpenSSL's HMAC and KBKDFHMAC),
# an implementation that shares no code with it. CPython only: hypothesis draws the inputs.
#
# The same oracle writes a fixed set of vectors, crypto_oracle_vectors.json, which
# test_fw_crypto_oracle.py replays on both runtimes, real MicroPython included. A test here
# regenerates them and compares, so the file cannot go stale; after a deliberate change:
#
#     .venv/bin/python tests/firmware/test_crypto_oracle.py --write
import json
import random
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode
from hypothesis import example, given
from hypothesis import strategies as st

from keylock.firmware import crypto

VECTORS_FILE = Path(__file__).resolve().with_name("crypto_oracle_vectors.json")
SEED = 800108

# --- the oracle: cryptography only -----------------------------------------------------


def oracle_hmac(key, msg):
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(msg)
    return mac.finalize()


def oracle_kdf_counter(key, fixed, length, rlen):
    """SP 800-108 counter mode over HMAC-SHA256 with caller-built fixed input: each block is
    PRF(K, [i]_rlen || fixed), i from 1, the counter before the fixed input."""
    kdf = KBKDFHMAC(hashes.SHA256(), Mode.CounterMode, length, rlen, None, CounterLocation.BeforeFixed, None, None, fixed)
    return kdf.derive(key)


def oracle_derive(key, label, context, length):
    """KBKDFHMAC's own fixed input: Label || 0x00 || Context || [L]_32, L in bits (llen=4),
    with a 4-byte counter (rlen=4) before it."""
    kdf = KBKDFHMAC(hashes.SHA256(), Mode.CounterMode, length, 4, 4, CounterLocation.BeforeFixed, label, context, None)
    return kdf.derive(key)


def oracle_key_secret(site_secret, key_id):
    return oracle_derive(site_secret, b"keylock key", key_id.to_bytes(4, "big"), 32)


def oracle_server_mac(site_secret, msg):
    return oracle_hmac(oracle_derive(site_secret, b"keylock server", b"", 32), msg)


# --- the firmware against it, on random inputs ---------------------------------------

keys = st.binary(max_size=200)  # empty, shorter than, equal to and longer than the 64-byte block
BLOCK_EDGES = [b"", b"k" * 63, b"k" * 64, b"k" * 65, b"k" * 200]


@given(keys, st.binary(max_size=1000))
@example(b"k" * 64, b"")
@example(b"k" * 65, b"m" * 55)  # 55/56: the last message length SHA-256 pads in one block, and the first it cannot
@example(b"", b"m" * 56)
@example(b"k" * 200, b"m" * 64)
def test_hmac_sha256_equals_cryptography(key, msg):
    assert crypto.hmac_sha256(key, msg) == oracle_hmac(key, msg)


@given(keys, st.lists(st.binary(max_size=300), min_size=2, max_size=4))
@example(b"k" * 64, [b"", b"m" * 64])
@example(b"k" * 65, [b"m" * 55, b"m" * 56])
def test_an_hmac_key_reused_equals_cryptography_every_time(key, msgs):
    prf = crypto.HmacKey(key)
    for msg in msgs:
        assert prf.mac(msg) == oracle_hmac(key, msg)


@given(keys, st.binary(max_size=200), st.integers(1, 300), st.integers(1, 4))
@example(b"k" * 32, b"", 1, 1)
@example(b"k" * 65, b"fixed", 300, 1)  # 10 blocks through a one-byte counter
@example(b"k" * 32, b"fixed", 33, 2)
def test_kdf_counter_equals_kbkdfhmac(key, fixed, length, rlen):
    """Every counter width the firmware's kdf_counter takes (1 to 4 bytes, as SP 800-108's
    r and KBKDFHMAC's rlen allow), lengths of one to ten blocks, partial last blocks."""
    assert crypto.kdf_counter(crypto.HmacKey(key), fixed, length, rlen) == oracle_kdf_counter(key, fixed, length, rlen)


@given(keys, st.binary(max_size=64), st.binary(max_size=64), st.integers(1, 300))
@example(b"s" * 32, b"keylock key", (1001).to_bytes(4, "big"), 32)
@example(b"s" * 32, b"keylock server", b"", 32)
@example(b"", b"", b"", 1)
@example(b"s" * 32, b"label", b"\x00context", 64)  # a 0x00 inside the context: still just bytes
def test_derive_equals_kbkdfhmac(key, label, context, length):
    assert crypto.derive(crypto.HmacKey(key), label, context, length) == oracle_derive(key, label, context, length)


@given(st.binary(min_size=32, max_size=32), st.integers(0, 0xFFFFFFFF), st.binary(max_size=200))
def test_the_system_keys_equal_kbkdfhmac(site_secret, key_id, msg):
    site = crypto.HmacKey(site_secret)
    assert crypto.key_secret(site, key_id) == oracle_key_secret(site_secret, key_id)
    assert crypto.server_key(site).mac(msg) == oracle_server_mac(site_secret, msg)


# --- the fixed vectors MicroPython replays -------------------------------------------


def _bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def generate_vectors():
    """50 cases from the oracle alone, deterministic (seeded): edge lengths first, then random."""
    rng = random.Random(SEED)
    hmac_cases = []
    for key_len, msg_len in [(0, 0), (1, 1), (32, 55), (63, 56), (64, 64), (65, 63), (131, 119), (200, 1000)] + [
        (rng.randrange(201), rng.randrange(600)) for _ in range(12)
    ]:
        key, msg = _bytes(rng, key_len), _bytes(rng, msg_len)
        hmac_cases.append({"key": key.hex(), "msg": msg.hex(), "mac": oracle_hmac(key, msg).hex()})
    kdf_cases = []
    for i, length in enumerate([1, 16, 32, 33, 64, 65, 100, 200, 255, 300, rng.randrange(1, 301), rng.randrange(1, 301)]):
        rlen = 1 + i % 4
        key, fixed = _bytes(rng, rng.randrange(201)), _bytes(rng, rng.randrange(120))
        out = oracle_kdf_counter(key, fixed, length, rlen)
        kdf_cases.append({"key": key.hex(), "fixed": fixed.hex(), "length": length, "rlen": rlen, "out": out.hex()})
    derive_cases = []
    # (length, label length, context length): empty label and context, the key's own 4-byte
    # context, partial and whole blocks, then random ones.
    specs = [(32, 0, 0), (1, 11, 4), (32, 14, 0), (33, 0, 4), (64, 5, 5), (96, 47, 47), (100, 1, 1), (255, 20, 30)]
    specs += [(rng.randrange(1, 301), rng.randrange(48), rng.randrange(48)) for _ in range(4)]
    for length, label_len, context_len in specs:
        key = _bytes(rng, rng.randrange(201))
        label, context = _bytes(rng, label_len), _bytes(rng, context_len)
        out = oracle_derive(key, label, context, length)
        derive_cases.append({"key": key.hex(), "label": label.hex(), "context": context.hex(), "length": length, "out": out.hex()})
    system_cases = []
    for key_id in [0, 1001, 0xFFFFFFFF, rng.randrange(2**32), rng.randrange(2**32), rng.randrange(2**32)]:
        site, msg = _bytes(rng, 32), _bytes(rng, rng.randrange(200))
        system_cases.append(
            {
                "site": site.hex(),
                "key_id": key_id,
                "key_secret": oracle_key_secret(site, key_id).hex(),
                "msg": msg.hex(),
                "server_mac": oracle_server_mac(site, msg).hex(),
            }
        )
    return {
        "comment": (
            "HMAC-SHA256 and NIST SP 800-108 counter-mode KDF (HMAC-SHA256) vectors computed with the `cryptography` package "
            "(HMAC, KBKDFHMAC), the firmware's independent oracle. Bytes are hex. Written by tests/firmware/test_crypto_oracle.py "
            "(a test regenerates and compares); replayed by test_fw_crypto_oracle.py on CPython and MicroPython. "
            "kdf_counter: PRF(key, [i]_rlen || fixed), i from 1. derive: fixed = label || 00 || context || [length*8]_32, rlen 4. "
            "system: key_secret = derive(site, 'keylock key', [key_id]_32, 32); server_mac = HMAC(derive(site, 'keylock server', '', 32), msg)."
        ),
        "seed": SEED,
        "hmac_sha256": hmac_cases,
        "kdf_counter": kdf_cases,
        "derive": derive_cases,
        "system": system_cases,
    }


def render(vectors):
    return json.dumps(vectors, indent=1) + "\n"


def test_the_vector_file_is_what_the_oracle_writes_now():
    assert VECTORS_FILE.exists(), f"write it: {sys.executable} {__file__} --write"
    stored = json.loads(VECTORS_FILE.read_text())
    assert stored == generate_vectors(), f"stale: regenerate with {sys.executable} {__file__} --write"
    assert sum(len(v) for v in stored.values() if isinstance(v, list)) == 50


def test_the_vectors_cover_the_edges():
    v = generate_vectors()
    key_lengths = {len(c["key"]) // 2 for c in v["hmac_sha256"]}
    assert {0, 63, 64, 65, 200} <= key_lengths
    assert {c["rlen"] for c in v["kdf_counter"]} == {1, 2, 3, 4}
    assert max(c["length"] for c in v["kdf_counter"]) > 8 * 32  # up to ten blocks, the counter counting to 10
    assert any(c["length"] % 32 for c in v["derive"]) and any(c["label"] == c["context"] == "" for c in v["derive"])
    assert {0, 0xFFFFFFFF} <= {c["key_id"] for c in v["system"]}


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {sys.argv[0]} --write   (regenerates {VECTORS_FILE.name} from the oracle)")
    VECTORS_FILE.write_text(render(generate_vectors()))
    print(f"wrote {VECTORS_FILE}")
