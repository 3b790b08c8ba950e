"""Emulated devices: the real firmware apps behind one small interface, on CPython in this
process or on real MicroPython (all devices of a site in one WebAssembly interpreter)."""

from pathlib import Path

from ...firmware import key_app, lock_app
from ...firmware.flash import FaultyFlash, FileFlash, PowerCut
from ...firmware.ports import emulator as emu_port
from ...firmware.secure import FileSecureStorage
from ..runtime.micropython import MicroPython

APPS = {"key": (key_app.KeyApp, key_app.FLASH_SECTORS), "lock": (lock_app.LockApp, lock_app.FLASH_SECTORS)}


def _close(chip) -> None:
    getattr(chip, "flash", chip).close()  # a FaultyFlash wraps the file flash


class CpythonDevices:
    """Every device of a site as firmware objects in this interpreter."""

    runtime = "cpython"

    def __init__(self, folder: Path):
        self.folder = folder
        self._apps: dict[str, key_app.KeyApp | lock_app.LockApp] = {}
        self._roles: dict[str, str] = {}
        self._cuts: dict[str, tuple[int, bool]] = {}
        self._flash: dict[str, FileFlash | FaultyFlash] = {}

    def add(self, name: str, role: str) -> None:
        self._roles[name] = role
        self.boot(name)

    def boot(self, name: str) -> None:
        """Power up (again): the app is rebuilt from its flash file; RAM is gone."""
        cls, sectors = APPS[self._roles[name]]
        old = self._apps.get(name)
        if name in self._flash:
            _close(self._flash[name])
        chip = FileFlash(str(self.folder / f"{name}.flash"), sectors)
        if name in self._cuts:
            cut_at, torn = self._cuts[name]
            chip = FaultyFlash(chip, cut_at=cut_at, torn=torn)
        self._flash[name] = chip
        # The secrets live beside the flash image, never in it (a secure element on a board).
        dev = emu_port.EmuDevice(chip, FileSecureStorage(str(self.folder / f"{name}.secure")))
        if old is not None:  # readings are the world's, not the device's: carry them over
            for attr in ("supply_mV", "battery_permille", "temperature_dC", "rtc_s"):
                setattr(dev, attr, getattr(old.dev, attr))
        self._apps[name] = cls(dev)

    def arm_power_cut(self, name: str, cut_at: int, torn: bool = True) -> None:
        """From the device's next power-up, count its flash writes (program and erase) and cut
        power at the `cut_at`-th (1-based; 0 only counts). disarm() ends it."""
        self._cuts[name] = (cut_at, torn)

    def disarm(self, name: str) -> None:
        self._cuts.pop(name, None)

    def flash_writes(self, name: str) -> int:
        chip = self._flash[name]
        if not isinstance(chip, FaultyFlash):
            raise ValueError(f"{name}'s flash writes are counted only from arm_power_cut({name!r}, 0) and its next boot")
        return chip.ops

    def set(self, name: str, **readings) -> None:
        for attr, value in readings.items():
            setattr(self._apps[name].dev, attr, value)

    def get(self, name: str, attr: str):
        return getattr(self._apps[name].dev, attr)

    def call(self, name: str, method: str, raw: bytes | None = None):
        """A firmware entry point (begin, on_lock_frame, on_key_frame, on_host_frame): bytes or None.
        Raises PowerCut when the device lost power during the call."""
        app = self._apps[name]
        out = getattr(app, method)() if raw is None else getattr(app, method)(raw)
        return bytes(out) if out is not None else None

    def outcome(self, name: str):
        app = self._apps[name]
        if not isinstance(app, key_app.KeyApp):
            raise ValueError(f"{name} is a lock: only a key knows a transaction's outcome")
        return app.outcome

    def lose_backup(self, name: str) -> None:
        """Battery out for too long: the backup capacitor let go of clock and RAM."""
        self.set(name, rtc_s=None)
        self.boot(name)

    def close(self) -> None:
        self._apps.clear()
        for chip in self._flash.values():
            _close(chip)
        self._flash.clear()


_MP_SETUP = """
import json
from keylock_fw import key_app, lock_app, flash, secure
from keylock_fw.ports import emulator as emu_port
APPS = {"key": (key_app.KeyApp, key_app.FLASH_SECTORS), "lock": (lock_app.LockApp, lock_app.FLASH_SECTORS)}
DEV = {}
ROLE = {}
def boot(name):
    cls, sectors = APPS[ROLE[name]]
    old = DEV.get(name)
    dev = emu_port.EmuDevice(flash.FileFlash("/flash/" + name + ".flash", sectors), secure.FileSecureStorage("/flash/" + name + ".secure"))
    if old is not None:
        for attr in ("supply_mV", "battery_permille", "temperature_dC", "rtc_s"):
            setattr(dev, attr, getattr(old.dev, attr))
    DEV[name] = cls(dev)
def call(name, method, raw_hex):
    app = DEV[name]
    try:
        out = getattr(app, method)() if raw_hex is None else getattr(app, method)(bytes.fromhex(raw_hex))
    except flash.PowerCut:
        return "powercut"
    return None if out is None else out.hex()
"""


class MicropythonDevices:
    """Every device of a site inside one real MicroPython (WebAssembly) interpreter."""

    runtime = "micropython"

    def __init__(self, folder: Path):
        self.mp = MicroPython()
        self.mp.exec("import os\ntry:\n    os.mkdir('/flash')\nexcept OSError:\n    pass\n" + _MP_SETUP)

    def add(self, name: str, role: str) -> None:
        self.mp.exec(f"ROLE[{name!r}] = {role!r}\nboot({name!r})")

    def boot(self, name: str) -> None:
        self.mp.exec(f"boot({name!r})")

    def set(self, name: str, **readings) -> None:
        code = "".join(f"DEV[{name!r}].dev.{attr} = {value!r}\n" for attr, value in readings.items())
        self.mp.exec(code)

    def get(self, name: str, attr: str):
        return self.mp.eval(f"DEV[{name!r}].dev.{attr}")

    def call(self, name: str, method: str, raw: bytes | None = None):
        arg = "None" if raw is None else repr(raw.hex())
        out = self.mp.eval(f"call({name!r}, {method!r}, {arg})")
        if out == "powercut":
            raise PowerCut("device lost power")
        return None if out is None else bytes.fromhex(out)

    def outcome(self, name: str):
        value = self.mp.eval(f"DEV[{name!r}].outcome")
        return tuple(value) if value is not None else None

    def lose_backup(self, name: str) -> None:
        self.set(name, rtc_s=None)
        self.boot(name)

    def close(self) -> None:
        self.mp.close()


def make_devices(runtime: str, folder: Path):
    if runtime == "cpython":
        return CpythonDevices(folder)
    if runtime == "micropython":
        return MicropythonDevices(folder)
    raise ValueError(f"unknown runtime {runtime!r}: cpython or micropython")
