# The RP2040 (Raspberry Pi Pico) port: what this chip does its own way. Pins: ports/pins.py's
# PICO map.
#
# Readings: the supply is VSYS through the Pico's own 1:3 divider on ADC3 (GP29); the
# temperature is the RP2040's internal sensor on ADC channel 4 (datasheet 4.9.5: 27 C at
# 0.706 V, -1.721 mV/C), good to a few degrees, which is what the lock's 85 C / -25 C limits
# need. The ADC's reference is the 3.3 V rail.
#
# The store: the top flash_len bytes of the flash's storage region, as its own block device
# through rp2.Flash(start=, len=) (MicroPython 1.23 and later; start is within the region).
# The filesystem lives in the same region, so it must end before them: a build whose frozen
# _boot.py mounts rp2.Flash(len=region - flash_len) (README, "Real boards"); the stock one
# mounts the whole region. storage.py's A/B pages make the store power-fail safe; no littlefs
# file is involved.
#
# Secure storage, honestly: the RP2040 has none. It has no OTP for keys, no readout
# protection, and its flash is an external chip that BOOTSEL (picotool), SWD or a clip
# reads in seconds. The secrets are kept in a file of the board's filesystem, apart from the
# store, which keeps them out of a dump of the store alone and nothing more: whoever holds a
# Pico key or lock holds its secrets. A deployment needs a secure element doing the HMACs
# (ATECC608A: secure.py's SlotKey.mac inside it) or a chip with OTP and secure boot (RP2350).
#
# Random: os.urandom (hal.urandom) draws on the ring oscillator, the RP2040's only entropy
# source; MicroPython seeds its generator from it.
import machine
import rp2
from machine import ADC, UART, Pin

from .. import secure
from . import board

_SAMPLES = 16
SECURE_PATH = "keylock.secure"  # on the board's filesystem (see above)


class PicoDevice(board.BoardDevice):
    def __init__(self, flash_hal, secure_storage, pins, role):
        self._supply = ADC(Pin(pins["supply_adc"]))
        self._temp = ADC(pins["temp_adc"])  # channel 4: the internal sensor, no pin
        self._div = pins["supply_div"]
        super().__init__(flash_hal, secure_storage, pins, role)

    def read_supply_mV(self):
        return board.adc_mean_u16(self._supply, _SAMPLES) * 3300 * self._div // 65535

    def read_temperature_dC(self):
        uv = board.adc_mean_u16(self._temp, _SAMPLES) * 3300000 // 65535
        return 270 - (uv - 706000) * 10 // 1721

    def sleep_ms(self, ms):
        machine.lightsleep(ms)  # RAM and the RTC keep; the USB link drops while asleep


def open_flash(pins, sectors):
    length = pins["flash_len"]
    blocks = rp2.Flash().ioctl(4, 0) or 0  # the storage region's size in this build, in blocks
    region = blocks * board.SECTOR_SIZE
    # start/len: MicroPython 1.23's rp2.Flash; the stubs still show the argument-less form.
    bdev = rp2.Flash(start=region - length, len=length)  # pyright: ignore[reportCallIssue]
    return board.BlockFlash(bdev, sectors)


def make_device(role, pins, sectors):
    return PicoDevice(open_flash(pins, sectors), secure.FileSecureStorage(SECURE_PATH), pins, role)


def contact_uart(pins):
    return UART(pins["uart"], baudrate=pins["baud"], tx=Pin(pins["tx"]), rx=Pin(pins["rx"]), rxbuf=1024, timeout=0)
