# What the board ports (ports/rp2.py, ports/esp32.py) have in common: the flash HAL over a
# raw flash partition, and a Device that reads ADCs and drives pins through `machine`. A port
# subclasses BoardDevice for what its chip does its own way (the temperature sensor, the ADC's
# range, sleep) and says how to open its partition and its secure storage.
#
# Plain MicroPython: it runs on the boards and, unchanged, on the unix port against the fake
# `machine` of tests/firmware/fake/.
import time

import micropython
from machine import PWM, RTC, Pin

from .. import device
from .._const import const

SECTOR_SIZE = const(4096)  # storage.py's sector: a NOR flash's erase unit on both chips
MOTOR_MS = const(120)  # how long the H-bridge drives the bolt's motor
BEEP_MS = const(60)
BEEP_HZ = const(2700)  # a piezo buzzer's resonance
BEEP_DUTY = const(32768)
_OUTPUTS_KEPT = const(8)  # the last outputs, for the host link's diagnostics; never a growing list
# The RTC counts from power-up when its backup domain lost power (RP2040: 2021-01-01): any
# date before this cannot be the real time, so the key says its clock is not set.
CLOCK_VALID_FROM_S = 1735689600  # 2025-01-01 UTC

# ioctl operations of MicroPython's block-device protocol (vfs.AbstractBlockDev)
_BP_IOCTL_BLOCK_COUNT = const(4)
_BP_IOCTL_BLOCK_SIZE = const(5)
_BP_IOCTL_BLOCK_ERASE = const(6)


class BlockFlash:
    """The flash HAL (firmware/flash.py's interface: read, readinto, program, erase) over a
    block device in MicroPython's extended protocol: rp2.Flash, esp32.Partition, or the fake's
    file-backed partition. The store owns the partition whole: no filesystem on it.

    program() writes with an offset, which never erases (the protocol's rule), so it only
    clears bits as NOR programming does; erase() erases one sector. Block and sector must be
    the same size (4 KiB on both chips)."""

    def __init__(self, bdev, sectors):
        size = bdev.ioctl(_BP_IOCTL_BLOCK_SIZE, 0)
        count = bdev.ioctl(_BP_IOCTL_BLOCK_COUNT, 0)
        if size != SECTOR_SIZE:
            raise ValueError("the flash partition's blocks are not 4 KiB sectors")
        if count < sectors:
            raise ValueError("the flash partition is smaller than the store")
        self._bdev = bdev
        self.sectors = sectors
        self.sector_size = SECTOR_SIZE
        self.size = sectors * SECTOR_SIZE

    def _check(self, addr, n):
        if addr < 0 or n < 0 or addr + n > self.size:
            raise ValueError("flash access out of range")

    def read(self, addr, n):
        buf = bytearray(n)
        self.readinto(addr, buf)
        return bytes(buf)

    def readinto(self, addr, buf):
        self._check(addr, len(buf))
        if len(buf):
            self._bdev.readblocks(addr // SECTOR_SIZE, buf, addr % SECTOR_SIZE)

    def program(self, addr, data):
        self._check(addr, len(data))
        if len(data):
            self._bdev.writeblocks(addr // SECTOR_SIZE, data, addr % SECTOR_SIZE)

    def erase(self, sector):
        if not 0 <= sector < self.sectors:
            raise ValueError("no such sector")
        self._bdev.ioctl(_BP_IOCTL_BLOCK_ERASE, sector)


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): the RTC's
    date to Unix time with integers only, whatever epoch the port's `time` module uses."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day, weekday with Monday 0) of a day count since 1970-01-01."""
    weekday = (z + 3) % 7
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d, weekday


class BoardDevice(device.Device):
    """A Device on a board: readings from ADCs (sample()), the key's clock in the RTC, LEDs,
    buzzer and the motor's H-bridge on pins, insertion and the lock's power switch.

    `pins` is the board's map (ports/pins.py); `role` is "key" or "lock". A port overrides
    read_supply_mV, read_temperature_dC and sleep_ms."""

    def __init__(self, flash_hal, secure, pins, role):
        super().__init__(flash_hal, secure)
        self.pins = pins
        self.role = role
        self.led_green = Pin(pins["led_green"], Pin.OUT, value=0)
        self.led_red = Pin(pins["led_red"], Pin.OUT, value=0)
        self.buzzer = PWM(Pin(pins["buzzer"]), freq=BEEP_HZ, duty_u16=0)
        self.motor_a = Pin(pins["motor_a"], Pin.OUT, value=0)
        self.motor_b = Pin(pins["motor_b"], Pin.OUT, value=0)
        self.insert = Pin(pins["insert"], Pin.IN, Pin.PULL_UP)
        self.lock_power = Pin(pins["lock_power"], Pin.OUT, value=0)
        self.rtc = RTC() if role == "key" else None  # the lock has no clock (lock_app: signed time only)
        self.rtc_s = self.now_s()
        self.sample()

    # --- readings ---------------------------------------------------------------------------

    def read_supply_mV(self):
        raise NotImplementedError  # the port's ADC

    def read_temperature_dC(self):
        raise NotImplementedError  # the port's sensor

    def sample(self):
        mv = self.read_supply_mV()
        self.supply_mV = mv
        self.temperature_dC = self.read_temperature_dC()
        if self.role == "key":
            self.battery_permille = battery_permille(mv)

    def ticks_ms(self):
        return time.ticks_ms()

    # --- the key's clock ---------------------------------------------------------------------

    def now_s(self):
        rtc = self.rtc
        if rtc is None:
            return None
        y, mo, d, _wd, h, mi, s = rtc.datetime()[:7]
        unix_s = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
        return unix_s if unix_s >= CLOCK_VALID_FROM_S else None

    def set_clock(self, unix_s):
        rtc = self.rtc
        if rtc is None:
            return
        y, mo, d, wd = civil_from_days(unix_s // 86400)
        s = unix_s % 86400
        rtc.datetime((y, mo, d, wd, s // 3600, s // 60 % 60, s % 60, 0))
        self.rtc_s = unix_s

    # --- outputs ------------------------------------------------------------------------------

    def output(self, what, detail):
        outputs = self.outputs
        outputs.append((what, detail))
        if len(outputs) > _OUTPUTS_KEPT:
            outputs.pop(0)
        if what != "led":
            return
        green = detail == "green"
        self.led_green.value(1 if green else 0)
        self.led_red.value(0 if green else 1)
        self.beep(2 if green else 1)

    def beep(self, times):
        for _ in range(times):
            self.buzzer.duty_u16(BEEP_DUTY)
            time.sleep_ms(BEEP_MS)
            self.buzzer.duty_u16(0)
            time.sleep_ms(BEEP_MS)

    def leds_off(self):
        self.led_green.value(0)
        self.led_red.value(0)

    def motor_pulse(self):
        # Forward through the H-bridge for MOTOR_MS, then both inputs low (coast); the lock's
        # power (the key's battery) may sag here, which is why the decision is recorded first.
        self.output("motor", 1)
        self.motor_a.value(1)
        self.motor_b.value(0)
        time.sleep_ms(MOTOR_MS)
        self.motor_a.value(0)

    # --- the key's side of the contact ---------------------------------------------------------

    def inserted(self):
        return self.insert.value() == 0  # the switch closes to ground

    def power_lock(self, on):
        self.lock_power.value(1 if on else 0)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)


def battery_permille(mv):
    """A lithium coin cell's state of charge from its voltage, roughly: 3.0 V full, 2.5 V
    empty, linear between (a fuel gauge it is not: the key has none)."""
    if mv >= 3000:
        return 1000
    if mv <= 2500:
        return 0
    return (mv - 2500) * 2


@micropython.native
def adc_mean_u16(adc, n):
    """The mean of `n` ADC readings (0-65535): one reading is noisy on both chips. Native
    code, so this module is compiled for the board's CPU (mpy-cross -march: armv6m on the
    Pico, xtensawin on the ESP32) and a .mpy built for another board refuses to load."""
    total = 0
    for _ in range(n):
        total += adc.read_u16()
    return total // n
