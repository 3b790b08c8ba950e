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

    def mac(self, msg, more=None):
        """The MAC of msg, or of msg followed by `more` (a large part passed as a memoryview,
        never copied into one message)."""
        inner = sha256(self._inner)
        inner.update(msg)
        if more is not None:
            inner.update(more)
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
# The access server holds a master secret no device has. From it:
#   a compartment's secret  (each lock of the compartment holds it, in secure storage)
#   a device's own secret   (a key's: shared with the server only; a lock's: its audit key)
# and from a compartment's secret (`compartment`, a PRF: secure.SlotKey or HmacKey):
#   a key's secret for that compartment  (the server wraps it into the key at validation)
#   the server's MAC key for that compartment (credentials and blocklists)
# so one lock's secrets open, sign and prove nothing outside its compartment.

SECRET_LEN = const(32)


def key_secret(compartment, key_id):
    """A key's secret for one compartment: it proves that key's identity to that
    compartment's locks and nothing else."""
    return derive(compartment, b"keylock key", key_id.to_bytes(4, "big"), SECRET_LEN)


def server_key(compartment):
    """The HmacKey under which the access server MACs credentials and blocklists for the
    locks of one compartment."""
    return HmacKey(derive(compartment, b"keylock server", b"", SECRET_LEN))


def command_key(own):
    """The HmacKey under which the server signs commands for one key (`own`: a PRF under
    that key's own secret): only that key and the server can make or check them."""
    return HmacKey(derive(own, b"keylock command", b"", SECRET_LEN))


def wrap_stream(own, nonce, context):
    """32 bytes of key stream that hide a secret the server sends one key, bound to the
    signed command's nonce (single use) and to what the secret is for (`context`)."""
    return derive(own, b"keylock wrap", bytes(nonce) + context, SECRET_LEN)
