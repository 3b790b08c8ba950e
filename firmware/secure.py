# The secure-storage service (a HAL service): a device's secrets by slot, used only through
# MACs computed inside the service. On a board a secure element or the chip's protected key
# store does this (ports say what each board can really protect); the emulator keeps the
# secrets in a file of their own, beside and never inside the flash image, so a dump of a
# device's flash holds no secret, and a test can hand an attacker exactly this interface
# (key(slot).mac, unlimited) and nothing more.
import os

from . import crypto

_MAX_SLOT = 32


class SlotKey:
    """A PRF under one slot's secret (mac(msg) -> 32 bytes), usable as crypto.derive's prf;
    the secret itself never leaves the service."""

    def __init__(self, hmac_key):
        self._key = hmac_key

    def mac(self, msg):
        return self._key.mac(msg)


class FileSecureStorage:
    """Secrets in the file `path`, rewritten whole and atomically (a new file, then a rename)
    on every put: a power cut leaves the old set or the new one, never a mix."""

    def __init__(self, path):
        self._path = path
        self._keys = {}
        self._secrets = {}
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            raw = b""
        pos = 0
        while pos + 2 <= len(raw):
            n = raw[pos]
            slot = bytes(raw[pos + 1 : pos + 1 + n])
            pos += 1 + n
            m = raw[pos]
            self._set(slot, bytes(raw[pos + 1 : pos + 1 + m]))
            pos += 1 + m

    def _set(self, slot, secret):
        self._secrets[slot] = secret
        self._keys[slot] = SlotKey(crypto.HmacKey(secret))

    def has(self, slot):
        return slot in self._secrets

    def key(self, slot):
        """The slot's PRF, or None when the slot is empty."""
        return self._keys.get(slot)

    def put(self, slot, secret):
        if not 0 < len(slot) <= _MAX_SLOT or not 0 < len(secret) <= 255:
            raise ValueError("a slot name is 1 to 32 bytes, a secret 1 to 255")
        if self._secrets.get(slot) == secret:
            return  # already there: no write
        self._set(bytes(slot), bytes(secret))
        out = bytearray()
        for name, value in self._secrets.items():
            out += bytes((len(name),)) + name + bytes((len(value),)) + value
        tmp = self._path + ".new"
        with open(tmp, "wb") as f:
            f.write(out)
        os.rename(tmp, self._path)
