# The ESP32 port: what this chip does its own way. Pins: ports/pins.py's ESP32 map.
#
# Readings: the ESP32's ADC1 with 11 dB attenuation (a range to about 2.5 V), read as
# calibrated microvolts (ADC.read_uv, the eFuse calibration): the supply through a 1:2
# divider, the temperature from an analogue sensor (TMP36: 500 mV at 0 C, 10 mV/C), since the
# ESP32's own sensor is uncalibrated and gone from later chips.
#
# The store: a raw data partition labelled "keylock" (esp32.Partition), which the board's
# partition table must have (README, "Real boards": MicroPython built with a partitions CSV
# that adds it); storage.py's A/B pages make it power-fail safe, no filesystem involved.
#
# Secure storage, honestly: the secrets are in the NVS partition (esp32.NVS, namespace
# "keylock"), apart from the store. On the same external flash chip: esptool reads it out
# unless flash encryption is on (an eFuse-held AES key software cannot read, enabled once
# and for good) with NVS encryption; MicroPython's released builds enable neither. With them
# (a custom build, release mode, secure boot v2) a flash dump yields no secret, but code
# running on the chip still reads them: the original ESP32 has no HMAC peripheral to keep a
# key from software (the S2, S3 and C3 have one, which MicroPython does not expose).
#
# Random: os.urandom (hal.urandom) is esp_random(), a true RNG while the radio runs and
# mixed with the SAR ADC's noise otherwise (Espressif's note on esp_random).
import hashlib
from binascii import hexlify

import esp32
import machine
from machine import ADC, UART, Pin

from .. import crypto, secure
from . import board

_SAMPLES = 16
NVS_NAMESPACE = "keylock"


class Esp32Device(board.BoardDevice):
    def __init__(self, flash_hal, secure_storage, pins, role):
        self._supply = ADC(Pin(pins["supply_adc"]), atten=ADC.ATTN_11DB)
        self._temp = ADC(Pin(pins["temp_adc"]), atten=ADC.ATTN_11DB)
        self._div = pins["supply_div"]
        super().__init__(flash_hal, secure_storage, pins, role)

    def read_supply_mV(self):
        return _mean_uv(self._supply) * self._div // 1000

    def read_temperature_dC(self):
        return _mean_uv(self._temp) // 1000 - 500  # 10 mV/C: one mV is 0.1 C

    def sleep_ms(self, ms):
        machine.lightsleep(ms)  # RAM and the RTC keep


def _mean_uv(adc):
    total = 0
    for _ in range(_SAMPLES):
        total += adc.read_uv()
    return total // _SAMPLES


class NvsSecureStorage:
    """secure.FileSecureStorage's interface (has, key, put) over an esp32.NVS namespace. A
    slot name may be up to 32 bytes, an NVS key 15 characters: each slot is stored under "k"
    and 7 bytes of the SHA-256 of its name in hex. NVS writes an entry atomically: a power
    cut leaves the old secret or the new one."""

    def __init__(self, nvs):
        self._nvs = nvs
        self._keys = {}
        self._secrets = {}

    def _name(self, slot):
        return "k" + hexlify(hashlib.sha256(slot).digest()[:7]).decode()

    def _secret(self, slot):
        if slot in self._secrets:
            return self._secrets[slot]
        buf = bytearray(255)
        try:
            n = self._nvs.get_blob(self._name(slot), buf)
        except OSError:
            return None  # no such entry
        secret = bytes(buf[:n])
        self._secrets[slot] = secret
        return secret

    def has(self, slot):
        return self._secret(slot) is not None

    def key(self, slot):
        k = self._keys.get(slot)
        if k is None:
            secret = self._secret(slot)
            if secret is None:
                return None
            k = self._keys[slot] = secure.SlotKey(crypto.HmacKey(secret))
        return k

    def put(self, slot, secret):
        if not 0 < len(slot) <= 32 or not 0 < len(secret) <= 255:
            raise ValueError("a slot name is 1 to 32 bytes, a secret 1 to 255")
        slot, secret = bytes(slot), bytes(secret)
        if self._secret(slot) == secret:
            return  # already there: no write
        self._nvs.set_blob(self._name(slot), secret)
        self._nvs.commit()
        self._secrets[slot] = secret
        self._keys[slot] = secure.SlotKey(crypto.HmacKey(secret))


def open_flash(pins, sectors):
    found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=pins["flash_label"])
    if not found:
        raise OSError("no data partition labelled " + pins["flash_label"] + ": flash a partition table with one (README)")
    return board.BlockFlash(found[0], sectors)


def make_device(role, pins, sectors):
    return Esp32Device(open_flash(pins, sectors), NvsSecureStorage(esp32.NVS(NVS_NAMESPACE)), pins, role)


def contact_uart(pins):
    return UART(pins["uart"], baudrate=pins["baud"], tx=pins["tx"], rx=pins["rx"], rxbuf=1024, timeout=0)
