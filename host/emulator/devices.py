"""Emulated devices: the real firmware apps behind one small interface, on CPython in this
process, on real MicroPython (all devices of a site in one WebAssembly interpreter), or on
MicroPython's unix port (each device in a process of its own with a board-sized heap).

Both runtimes run the same device registry, `Devices` in firmware/ports/emulator.py: how a
device boots from its flash file, carries the world's readings over a reboot, and loses power
at an armed flash write (tear models: keylock.firmware.flash.TEARS). Here it is only called:
directly on CPython, through MicroPython's exec/eval bridge on MicroPython.
"""

from pathlib import Path
from typing import Any

from ...firmware.flash import PowerCut
from ...firmware.ports import emulator as emu_port
from ..runtime.micropython import Interpreter, MicroPython, MicroPythonError
from ..runtime.unix_port import BOARD_HEAP, UnixPort

__all__ = ["CpythonDevices", "MicropythonDevices", "PowerCut", "UnixDevices", "make_devices"]


def _tear(tear: str, torn: bool | None) -> str:
    # `torn` is the older interface: True was today's "half", False "clean".
    return tear if torn is None else ("half" if torn else "clean")


class CpythonDevices:
    """Every device of a site as firmware objects in this interpreter."""

    runtime = "cpython"

    def __init__(self, folder: Path):
        self.folder = folder
        self._devices = emu_port.Devices(str(folder))
        self._apps = self._devices.apps  # the running apps by name (tests reach into them)

    def add(self, name: str, role: str) -> None:
        self._devices.add(name, role)

    def boot(self, name: str) -> None:
        """Power up (again): the app is rebuilt from its flash file; RAM is gone."""
        self._devices.boot(name)

    def arm_power_cut(self, name: str, cut_at: int, tear: str = "half", seed: int = 0, torn: bool | None = None) -> None:
        """From the device's next power-up, count its flash writes (program and erase) and cut
        power at the `cut_at`-th (1-based; 0 only counts), torn by `tear` (flash.TEARS) with
        `seed`. disarm() ends it."""
        self._devices.arm_power_cut(name, cut_at, _tear(tear, torn), seed)

    def disarm(self, name: str) -> None:
        self._devices.disarm(name)

    def flash_writes(self, name: str) -> int:
        return self._devices.flash_writes(name)

    def power_cut(self, name: str) -> list | None:
        """The write the armed cut interrupted ([kind, address or sector, bytes]), or None."""
        return self._devices.power_cut(name)

    def flash_work(self, name: str) -> list[int]:
        """[bytes programmed, sectors erased] since the device last booted."""
        return self._devices.flash_work(name)

    def set(self, name: str, **readings) -> None:
        self._devices.set(name, **readings)

    def get(self, name: str, attr: str) -> Any:
        return self._devices.get(name, attr)

    def call(self, name: str, method: str, raw: bytes | None = None):
        """A firmware entry point (begin, on_lock_frame, on_key_frame, on_host_frame): bytes or None.
        Raises PowerCut when the device lost power during the call."""
        out = self._devices.call(name, method, raw)
        if out == emu_port.POWER_CUT:
            raise PowerCut(f"{name} lost power during {method}")
        return out

    def outcome(self, name: str):
        return self._devices.outcome(name)

    def lose_backup(self, name: str) -> None:
        """Battery out for too long: the backup capacitor let go of clock and RAM."""
        self._devices.lose_backup(name)

    def close(self) -> None:
        self._devices.close()


# The devices' files live in the interpreter's in-memory filesystem, under this folder.
MP_FOLDER = "/flash"
_MP_SETUP = f"""
import os
try:
    os.mkdir({MP_FOLDER!r})
except OSError:
    pass
from keylock_fw.ports import emulator
DEVICES = emulator.Devices({MP_FOLDER!r})
"""


class MicropythonDevices:
    """Every device of a site inside one real MicroPython (WebAssembly) interpreter, run by
    the same Devices as on CPython; each method here is one call across the bridge."""

    runtime = "micropython"

    def __init__(self, folder: Path):
        self.folder = folder  # the site's folder (its database); the devices' files are in MP_FOLDER
        self.mp = MicroPython()
        self.mp.exec(_MP_SETUP)

    def _interpreter(self, method: str, name: str) -> Interpreter:
        """The interpreter holding device `name` (here: every device's)."""
        return self.mp

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        # Arguments are str, int, bool or None: their repr is MicroPython source too.
        source = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        interpreter = self._interpreter(method, args[0])
        try:
            return interpreter.eval(f"DEVICES.{method}({source})")
        except MicroPythonError as exc:
            if exc.type == "ValueError":  # bad input, as CpythonDevices raises it
                raise ValueError(str(exc).strip().splitlines()[-1].partition(": ")[2]) from exc
            raise

    def add(self, name: str, role: str) -> None:
        self._call("add", name, role)

    def boot(self, name: str) -> None:
        self._call("boot", name)

    def arm_power_cut(self, name: str, cut_at: int, tear: str = "half", seed: int = 0, torn: bool | None = None) -> None:
        self._call("arm_power_cut", name, cut_at, _tear(tear, torn), seed)

    def disarm(self, name: str) -> None:
        self._call("disarm", name)

    def flash_writes(self, name: str) -> int:
        return self._call("flash_writes", name)

    def power_cut(self, name: str) -> list | None:
        return self._call("power_cut", name)

    def flash_work(self, name: str) -> list[int]:
        return self._call("flash_work", name)

    def set(self, name: str, **readings) -> None:
        self._call("set", name, **readings)

    def get(self, name: str, attr: str) -> Any:
        value = self._call("get", name, attr)
        if isinstance(value, list):  # JSON made the tuples in a list (outputs) lists
            return [tuple(v) if isinstance(v, list) else v for v in value]
        return value

    def call(self, name: str, method: str, raw: bytes | None = None):
        out = self._call("call_hex", name, method, None if raw is None else raw.hex())
        if out == emu_port.POWER_CUT:
            raise PowerCut(f"{name} lost power during {method}")
        return None if out is None else bytes.fromhex(out)

    def outcome(self, name: str):
        value = self._call("outcome", name)
        return tuple(value) if value is not None else None

    def lose_backup(self, name: str) -> None:
        self._call("lose_backup", name)

    def close(self) -> None:
        self.mp.close()


class UnixDevices(MicropythonDevices):
    """Every device of a site in a MicroPython process of its own (the unix port, native) with
    a board's heap (unix_port.BOARD_HEAP), as each would be a board: a device that does not
    fit its heap fails here. Each process runs the same Devices registry, with one device;
    their flash and secure files are real files in the site's folder."""

    runtime = "unix"

    def __init__(self, folder: Path, heap: str = BOARD_HEAP):
        self.folder = folder
        self.heap = heap
        self._ports: dict[str, UnixPort] = {}

    def _interpreter(self, method: str, name: str) -> Interpreter:
        """Device `name`'s own process, started when the device is added."""
        if method == "add" and name not in self._ports:
            port = UnixPort(heap=self.heap)
            port.exec(f"from keylock_fw.ports import emulator\nDEVICES = emulator.Devices({str(self.folder)!r})")
            self._ports[name] = port
        if name not in self._ports:
            raise ValueError(f"no device {name!r}")
        return self._ports[name]

    def close(self) -> None:
        for port in self._ports.values():
            port.close()
        self._ports.clear()


RUNTIMES = {"cpython": CpythonDevices, "micropython": MicropythonDevices, "unix": UnixDevices}


def make_devices(runtime: str, folder: Path):
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}: {', '.join(RUNTIMES)}")
    return RUNTIMES[runtime](folder)
