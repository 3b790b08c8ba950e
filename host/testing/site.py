"""The devices under test as the pytest plugin sees them: an emulated site's, or boards
given by port. Tests reach either through the same `Device` client."""

from collections.abc import Callable, Sequence
from typing import Any

from ..emulator.served import ServedSite
from ..errors import KeylockError
from ..link.device import Device

ENDPOINT_KINDS = ("url", "socket", "pty")  # how an emulated device is reached: keylock://, socket://, its pty


def _refuse(message: str):
    raise KeylockError(message)


class Site:
    """The devices under test: an emulated site's, or the ports given to pytest.

    `devices` maps a name to its endpoints ({"role", "id", "pty", "socket", "url"} for an
    emulated device, {"role", "id", "url"} for a given port); `server` is the access-server
    database for grant/validate (None when unknown); `emulated` the ServedSite, or None for
    devices that are not ours to act on physically."""

    def __init__(
        self,
        devices: dict[str, dict],
        server: str | None = None,
        emulated: ServedSite | None = None,
        via: str = "url",
        timeout_ms: int = 1000,
        retries: int = 2,
    ):
        self.devices = devices
        self.server = server
        self.emulated = emulated
        self.via = via
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.not_emulated: Callable[[str], Any] = _refuse  # the plugin makes it pytest.skip

    @classmethod
    def emulate(cls, via: str = "url", **options) -> "Site":
        served = ServedSite(**options).start()
        a = served.announcement
        return cls(a["devices"], a["server"], served, via)

    @classmethod
    def from_ports(
        cls,
        ports: Sequence[str],
        key_ports: Sequence[str] = (),
        lock_ports: Sequence[str] = (),
        server: str | None = None,
        timeout_ms: int = 1000,
        retries: int = 2,
    ) -> "Site":
        """Devices at URLs: --keylock-key-port and --keylock-lock-port say their role,
        --keylock-port ones are asked."""
        devices = {}
        for url in [*key_ports, *lock_ports, *ports]:
            if url in devices:
                continue
            with Device(url, timeout_ms=timeout_ms, retries=retries) as device:
                info = device.info()
            wanted = "key" if url in key_ports else "lock" if url in lock_ports else info["role"]
            if info["role"] != wanted:
                raise KeylockError(f"{url} was given as a {wanted} but is {info['role']} {info['id']}")
            devices[url] = {"role": info["role"], "id": info["id"], "url": url}
        return cls(devices, server, None, "url", timeout_ms, retries)

    @property
    def keys(self) -> list[str]:
        return [name for name, d in self.devices.items() if d["role"] == "key"]

    @property
    def locks(self) -> list[str]:
        return [name for name, d in self.devices.items() if d["role"] == "lock"]

    def endpoint(self, name: str, via: str | None = None) -> str:
        if name not in self.devices:
            raise KeylockError(f"no device {name!r} in this site; it has {', '.join(self.devices)}")
        d = self.devices[name]
        return d.get(via or self.via) or d["url"]

    def device(self, name: str, via: str | None = None, **options) -> Device:
        """An open client for a device of the site (close it, or use it as a context manager)."""
        options = {"timeout_ms": self.timeout_ms, "retries": self.retries, **options}
        return Device(self.endpoint(name, via), name=name, **options).open()

    def call(self, fn: Callable) -> Any:
        """fn(EmulatedSite) in the emulated world (insert keys, let time pass, ...)."""
        if self.emulated is None:
            self.not_emulated("the devices under test are given by port, not emulated: nothing to act on physically")
            raise AssertionError("unreachable")
        return self.emulated.call(fn)

    def open(self, key: str, lock: str) -> dict:
        """Insert an emulated key into an emulated lock and take it out: the outcome."""
        opening = self.call(lambda s: s.open(key, lock))
        return {"outcome": opening.outcome.name.lower(), "reason": opening.reason.name.lower()}

    def close(self) -> None:
        if self.emulated is not None:
            self.emulated.stop()
