"""The access server's cryptography, all of it, on the `cryptography` package: the keys it
derives from the site secret and the MAC it signs credentials and blocklists with.

The firmware verifies with its own HMAC-SHA256 and SP 800-108 KDF (firmware/crypto.py, on
hashlib's SHA-256 alone, as MicroPython offers nothing more); the server computes the same
values with OpenSSL's, so the two implementations check each other on every validation
(tests/firmware/test_crypto_oracle.py compares them directly). What is signed, its domain
tag and the MAC's truncation stay defined once, in firmware/signed.py: the server hands its
functions a ServerKey, which has the one method they call, mac().

firmware/crypto.derive(prf, label, context, L) is NIST SP 800-108 in counter mode over
HMAC-SHA256, each block HMAC(K, [i]_32 || Label || 0x00 || Context || [L*8]_32) with i from
1, cut to L bytes; in KBKDFHMAC's terms: mode CounterMode, rlen=4 (a 4-byte big-endian
counter), location BeforeFixed (the counter before the fixed input), llen=4 (a 4-byte
big-endian length in bits, present), the 0x00 separator KBKDFHMAC always puts between label
and context, and no `fixed` (KBKDFHMAC builds the fixed input from label and context).
"""

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

SECRET_LEN = 32  # bytes of every derived secret (firmware crypto.SECRET_LEN)
KEY_LABEL = b"keylock key"  # a key's own secret: context is the key's id, 4 bytes big-endian
SERVER_LABEL = b"keylock server"  # the server's MAC key: empty context
COMMAND_LABEL = b"keylock command"  # the key under which the server signs commands for one key: empty context


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


def key_secret(site_secret, key_id):
    """A key's own secret, diversified from the site secret: what is written into the key
    (firmware crypto.key_secret(HmacKey(site_secret), key_id))."""
    return derive(site_secret, KEY_LABEL, key_id.to_bytes(4, "big"))


class CommandKey:
    """The key under which the server signs commands for one key, derived from that key's
    own secret (firmware crypto.command_key()); firmware/signed.py's command_mac takes it."""

    def __init__(self, key_secret):
        self._key = derive(key_secret, COMMAND_LABEL, b"")

    def mac(self, msg):
        return hmac_sha256(self._key, msg)


class ServerKey:
    """The key under which the server MACs credentials and blocklists, derived from the site
    secret (firmware crypto.server_key()). firmware/signed.py's sign_* functions take it."""

    def __init__(self, site_secret):
        self._key = derive(site_secret, SERVER_LABEL, b"")

    def mac(self, msg):
        """HMAC-SHA256 of `msg`, all 32 bytes (signed.py truncates)."""
        return hmac_sha256(self._key, msg)
