"""The access server's cryptography, all of it, on the `cryptography` package: the secrets it
derives from its master secret (which no device holds) and the MACs it signs with.

    compartment secret  = KDF(master, "keylock compartment", kind | target)   each lock of it holds this
    device secret       = KDF(master, "keylock device", role | id | epoch)    a key's own; a lock's audit key
    key's compartment secret = KDF(compartment secret, "keylock key", key id) wrapped into the key
    compartment server key   = KDF(compartment secret, "keylock server")      credentials, blocklists
    command key              = KDF(key's own secret, "keylock command")        signed commands
    wrap stream              = KDF(key's own secret, "keylock wrap", nonce | kind | target)

so a lock's secrets (its compartment's and its own) sign and prove nothing outside its
compartment, and a key's only its own identity.

The firmware verifies with its own HMAC-SHA256 and SP 800-108 KDF (firmware/crypto.py, on
hashlib's SHA-256 alone, as MicroPython offers nothing more); the server computes the same
values with OpenSSL's, so the two implementations check each other on every validation
(tests/firmware/test_crypto_oracle.py compares them directly). What is signed, its domain
tag and the MAC's truncation stay defined once, in firmware/signed.py: the server hands its
functions MacKey objects, which have the one method they call, mac().

firmware/crypto.derive(prf, label, context, L) is NIST SP 800-108 in counter mode over
HMAC-SHA256, each block HMAC(K, [i]_32 || Label || 0x00 || Context || [L*8]_32) with i from
1, cut to L bytes; in KBKDFHMAC's terms: mode CounterMode, rlen=4 (a 4-byte big-endian
counter), location BeforeFixed (the counter before the fixed input), llen=4 (a 4-byte
big-endian length in bits, present), the 0x00 separator KBKDFHMAC always puts between label
and context, and no `fixed` (KBKDFHMAC builds the fixed input from label and context).
"""

import struct

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

SECRET_LEN = 32  # bytes of every derived secret (firmware crypto.SECRET_LEN)
COMPARTMENT_LABEL = b"keylock compartment"  # context: kind u8 | target u32, big-endian
DEVICE_LABEL = b"keylock device"  # context: role u8 | id u32 | epoch u16, big-endian
KEY_LABEL = b"keylock key"  # a key's secret for a compartment: context is the key's id, 4 bytes big-endian
SERVER_LABEL = b"keylock server"  # a compartment's server key: empty context
COMMAND_LABEL = b"keylock command"  # the key under which the server signs commands for one key: empty context
WRAP_LABEL = b"keylock wrap"  # context: the command's nonce | kind u8 | target u32 little-endian


def derive(secret, label, context, length=SECRET_LEN):
    """SP 800-108 counter-mode KDF over HMAC-SHA256, as firmware/crypto.derive()."""
    kdf = KBKDFHMAC(
        algorithm=hashes.SHA256(),
        mode=Mode.CounterMode,
        length=length,
        rlen=4,
        llen=4,
        location=CounterLocation.BeforeFixed,
        label=label,
        context=context,
        fixed=None,
    )
    return kdf.derive(secret)


def hmac_sha256(key, msg):
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(msg)
    return mac.finalize()


def compartment_secret(master, kind, target):
    return derive(master, COMPARTMENT_LABEL, struct.pack(">BL", kind, target))


def device_secret(master, role, device_id, epoch=0):
    """A device's own secret: a key's, shared with the server only; a lock's (per epoch),
    with which it MACs its audit records."""
    return derive(master, DEVICE_LABEL, struct.pack(">BLH", role, device_id, epoch))


def key_secret(compartment, key_id):
    """A key's secret for one compartment (firmware crypto.key_secret(compartment, key_id))."""
    return derive(compartment, KEY_LABEL, key_id.to_bytes(4, "big"))


def wrap_stream(own, nonce, context):
    """firmware crypto.wrap_stream, for signed.wrap_secret."""
    return derive(own, WRAP_LABEL, bytes(nonce) + context)


class MacKey:
    """HMAC-SHA256 under one secret: the object firmware/signed.py's functions call mac() on."""

    def __init__(self, secret):
        self._key = secret

    def mac(self, msg):
        """HMAC-SHA256 of `msg`, all 32 bytes (signed.py truncates)."""
        return hmac_sha256(self._key, msg)


def server_key(compartment):
    """The compartment's server key (firmware crypto.server_key()): credentials, blocklists."""
    return MacKey(derive(compartment, SERVER_LABEL, b""))


def command_key(own):
    """The key under which the server signs commands for one key (firmware crypto.command_key())."""
    return MacKey(derive(own, COMMAND_LABEL, b""))
