# What a device's app needs from its hardware, as one object a board port or the emulator
# supplies: readings (supply, battery gauge, temperature, the key's RTC), outputs (LED,
# buzzer, motor), its flash and its secure storage (secure.py: the secrets, never in flash).
# The emulator's port (host/emulator) sets readings before it delivers a frame and records
# outputs; a board port reads ADCs and drives pins.
from . import hal


class Device:
    def __init__(self, flash, secure):
        self.flash = flash
        self.secure = secure
        self.supply_mV = 3000
        self.battery_permille = 1000  # the key's fuel gauge; the lock has none
        self.temperature_dC = 200
        self.rtc_s = None  # the key's real-time clock; None when it has lost time
        self.ticks = 0  # a free-running millisecond counter wrapping at 2**30 (a board's time.ticks_ms; the emulator's virtual time)
        self.outputs = []  # (what, detail) in order: ("led", "warn"), ("motor", 1), ...

    def sample(self):
        """Take the readings afresh. A board port reads its ADCs here (ports/board.py), once
        before each transaction; the emulator sets the attributes itself instead."""

    def urandom(self, n):
        return hal.urandom(n)

    def ticks_ms(self):
        return self.ticks

    def now_s(self):
        return self.rtc_s

    def set_clock(self, unix_s):
        self.rtc_s = unix_s

    def output(self, what, detail):
        self.outputs.append((what, detail))

    def motor_pulse(self):
        # A board drives the H-bridge here; the emulator may cut power during the pulse.
        self.output("motor", 1)
