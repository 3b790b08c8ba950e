# The emulator's board port: a Device whose readings the emulator sets before it delivers a
# frame, and whose motor pulse can be made to lose power (the lock browned out); and Devices,
# every device of an emulated site with its boot path and its power-cut injection. Emulator
# only: firmware/manifest.py does not list it, so `keylock flash` never sends it to a board.
#
# Devices runs unchanged on CPython (host/emulator/devices.py calls it directly) and inside the
# WebAssembly MicroPython (the host execs `from keylock_fw.ports import emulator` and forwards
# calls), so a device boots, and loses power, the same way on both runtimes. Hence plain
# MicroPython: no typing, no dataclasses, no f-strings.
from .. import device, flash, secure

# What call() answers when the device lost power during the call: a str, so it can never be
# mistaken for a frame (bytes) or for no answer (None), and it crosses to the host as JSON.
POWER_CUT = "power_cut"
# The world's readings, not the device's state: they survive a reboot.
READINGS = ("supply_mV", "battery_permille", "temperature_dC", "rtc_s")
ROLES = ("key", "lock")


def _app(role):
    # Imported when a device of the role is added, not before: a process serving one device
    # (the unix runtime: one per device, a board's heap each) holds only its own app's code.
    if role == "key":
        from .. import key_app

        return key_app.KeyApp, key_app.FLASH_SECTORS
    from .. import lock_app

    return lock_app.LockApp, lock_app.FLASH_SECTORS


class EmuDevice(device.Device):
    def __init__(self, flash_hal, secure):
        super().__init__(flash_hal, secure)
        self.cut_at_motor = False

    def motor_pulse(self):
        if self.cut_at_motor:
            raise flash.PowerCut("brown-out under the motor pulse")
        super().motor_pulse()


def _file(chip):
    return getattr(chip, "flash", chip)  # a FaultyFlash wraps the file flash


class Devices:
    """The devices of a site by name: each boots from its flash file `<folder>/<name>.flash`
    and its secure storage `<folder>/<name>.secure` (the secrets beside the flash image, never
    in it: a secure element on a board). `apps` maps a name to its running app."""

    def __init__(self, folder):
        self.folder = folder
        self.apps = {}  # only ever changed in place: the host may hold on to it
        self.roles = {}
        self.chips = {}  # name -> the flash its app runs on (FileFlash, or a FaultyFlash around it)
        self.cuts = {}  # name -> (cut_at, tear, seed), applied from its next boot

    def add(self, name, role):
        if role not in ROLES:
            raise ValueError("a role is key or lock")
        self.roles[name] = role
        self.boot(name)

    def boot(self, name):
        """Power up (again): the app is rebuilt from its flash file; RAM is gone. Raises what
        the app's mount raises (a store that no longer reads)."""
        cls, sectors = _app(self.roles[name])
        old = self.apps.get(name)
        if name in self.chips:
            _file(self.chips.pop(name)).close()
        base = self.folder + "/" + name
        chip = flash.FileFlash(base + ".flash", sectors)
        cut = self.cuts.get(name)
        if cut is not None:
            chip = flash.FaultyFlash(chip, cut_at=cut[0], tear=cut[1], seed=cut[2])
        self.chips[name] = chip
        dev = EmuDevice(chip, secure.FileSecureStorage(base + ".secure"))
        if old is not None:
            for attr in READINGS:
                setattr(dev, attr, getattr(old.dev, attr))
        self.apps[name] = cls(dev)

    # --- power cuts ---------------------------------------------------------------------

    def arm_power_cut(self, name, cut_at, tear="half", seed=0):
        """From the device's next boot, count its flash writes (program and erase) and cut
        power at the `cut_at`-th (1-based; 0 only counts), tearing that write by `tear`
        (flash.TEARS) with `seed`. disarm() ends it."""
        if tear not in flash.TEARS:
            raise ValueError("tear is one of clean, half, prefix, bits")
        if name not in self.roles:
            raise ValueError("no device " + name)
        self.cuts[name] = (cut_at, tear, seed)

    def disarm(self, name):
        self.cuts.pop(name, None)

    def _faulty(self, name):
        chip = self.chips[name]
        if not isinstance(chip, flash.FaultyFlash):
            raise ValueError(name + "'s flash writes are counted only from arm_power_cut and its next boot")
        return chip

    def flash_writes(self, name):
        """Program and erase calls since the armed boot (the cut one included, none after)."""
        return self._faulty(name).ops

    def power_cut(self, name):
        """The write the armed cut interrupted, as [kind, address or sector, bytes] (see
        FaultyFlash.failed), or None while it has not happened."""
        failed = self._faulty(name).failed
        return None if failed is None else list(failed)

    def flash_work(self, name):
        """[bytes programmed, sectors erased] since the device last booted."""
        chip = _file(self.chips[name])
        return [chip.programmed_bytes, chip.erased_sectors]

    # --- the device's world and its entry points ------------------------------------------

    def set(self, name, **readings):
        dev = self.apps[name].dev
        for attr in readings:
            setattr(dev, attr, readings[attr])

    def get(self, name, attr):
        return getattr(self.apps[name].dev, attr)

    def call(self, name, method, raw=None):
        """A firmware entry point (begin, on_lock_frame, on_key_frame, on_host_frame,
        link_lost): bytes or None, or POWER_CUT when the device lost power during the call."""
        fn = getattr(self.apps[name], method)
        try:
            out = fn() if raw is None else fn(raw)
        except flash.PowerCut:
            return POWER_CUT
        return None if out is None else bytes(out)

    def call_hex(self, name, method, raw_hex=None):
        """call() with the frames as hex strings: what crosses a JSON bridge."""
        out = self.call(name, method, None if raw_hex is None else bytes.fromhex(raw_hex))
        return out.hex() if isinstance(out, bytes) else out

    def outcome(self, name):
        if self.roles[name] != "key":
            raise ValueError(name + " is a lock: only a key knows a transaction's outcome")
        return self.apps[name].outcome

    def lose_backup(self, name):
        """Battery out for too long: the backup capacitor let go of clock and RAM."""
        self.set(name, rtc_s=None)
        self.boot(name)

    def close(self):
        self.apps.clear()
        for chip in self.chips.values():
            _file(chip).close()
        self.chips.clear()
