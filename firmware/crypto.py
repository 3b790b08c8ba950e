# The cryptographic primitives of the handshake and of server-issued objects: HMAC-SHA256
# (RFC 2104, checked with RFC 4231's vectors), the NIST SP 800-108 KDF in counter mode with
# HMAC-SHA256 (checked with CAVP vectors) and a constant-time comparison. Only hashlib's
# SHA-256 is needed from the port: the WebAssembly port has no AES, boards may lack `hmac`.
from hashlib import sha256

from . import hal
from ._const import const

_BLOCK = const(64)
# The pads as 512-bit integers: one big-int XOR instead of a per-byte Python loop.
_IPAD = int.from_bytes(b"\x36" * 64, "big")
_OPAD = int.from_bytes(b"\x5c" * 64, "big")


class HmacKey:
    """HMAC-SHA256 under one key, its padded key blocks computed once."""

    def __init__(self, key):
        if len(key) > _BLOCK:
            key = sha256(key).digest()
        k = int.from_bytes(key + bytes(_BLOCK - len(key)), "big")
        self._inner = (k ^ _IPAD).to_bytes(_BLOCK, "big")
        self._outer = (k ^ _OPAD).to_bytes(_BLOCK, "big")

    def mac(self, msg):
        inner = sha256(self._inner)
        inner.update(msg)
        outer = sha256(self._outer)
        outer.update(inner.digest())
        return outer.digest()


def hmac_sha256(key, msg):
    return HmacKey(key).mac(msg)


def kdf_counter(prf, fixed_input, length, counter_bytes=4):
    """SP 800-108 counter mode with `prf` (an HmacKey), the counter before the fixed input."""
    out = b""
    i = 1
    while len(out) < length:
        out += prf.mac(i.to_bytes(counter_bytes, "big") + fixed_input)
        i += 1
    return out[:length]


def derive(prf, label, context, length):
    """SP 800-108 fixed input: Label || 0x00 || Context || [L]_32 (L in bits)."""
    return kdf_counter(prf, label + b"\x00" + context + (length * 8).to_bytes(4, "big"), length)


try:
    # CPython only (boards have no hmac module): a constant-time compare in C.
    from hmac import compare_digest as _compare_digest  # pyright: ignore[reportMissingImports]
except ImportError:
    _compare_digest = None

_compare_key = None


def ct_equal(a, b):
    """Compare secrets without leaking where they differ.

    MicroPython has no compare_digest: compare MACs of both values under a random per-boot
    key instead ("double HMAC verification"). Timing may still leak where those MACs differ,
    but they are unpredictable to an attacker and say nothing about the secret.
    """
    if len(a) != len(b):
        return False
    if _compare_digest is not None:
        return _compare_digest(a, b)
    global _compare_key
    if _compare_key is None:
        _compare_key = HmacKey(hal.urandom(32))
    return _compare_key.mac(a) == _compare_key.mac(b)


# --- keys of the system --------------------------------------------------------------

SECRET_LEN = const(32)


def key_secret(site, key_id):
    """A key's own secret, diversified from the site secret (`site`, an HmacKey of it).
    It proves that key's identity and nothing else."""
    return derive(site, b"keylock key", key_id.to_bytes(4, "big"), SECRET_LEN)


def server_key(site):
    """The HmacKey under which the access server MACs credentials and blocklists."""
    return HmacKey(derive(site, b"keylock server", b"", SECRET_LEN))


def command_key(key_secret):
    """The HmacKey under which the server signs commands for one key (a key's own secret,
    `key_secret` as bytes): only that key and the server can make or check them."""
    return HmacKey(derive(HmacKey(key_secret), b"keylock command", b"", SECRET_LEN))
