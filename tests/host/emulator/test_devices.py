"""The device registry (firmware/ports/emulator.py's Devices) behaves the same behind
CpythonDevices and MicropythonDevices: booting from the flash file, readings carried over a
reboot, RAM lost, and power cuts armed, counted and turned into PowerCut on either runtime."""

import pytest

from keylock.host.emulator.devices import PowerCut
from keylock.host.emulator.site import EmulatedSite
from keylock.protocol.codes import Denial, Outcome

RUNTIMES = [pytest.param("cpython"), pytest.param("micropython", marks=[pytest.mark.micropython, pytest.mark.slow])]


@pytest.fixture(params=RUNTIMES)
def site(request, tmp_path):
    site = EmulatedSite(request.param, folder=tmp_path)
    site.add_lock("L1", group="depot")
    site.add_key("K1")
    site.server.grant("K1", groups=["depot"])
    assert site.validate("K1") is None
    yield site
    site.close()


def test_a_reboot_keeps_flash_and_readings_and_loses_ram(site):
    devices = site.devices
    devices.set("K1", supply_mV=2800, battery_permille=100, temperature_dC=-50, rtc_s=1767600123)
    devices.call("K1", "begin")  # a low battery warns at every use: the LED, recorded in RAM
    assert ("led", "battery_low") in devices.get("K1", "outputs")
    devices.boot("K1")
    for attr, value in (("supply_mV", 2800), ("battery_permille", 100), ("temperature_dC", -50), ("rtc_s", 1767600123)):
        assert devices.get("K1", attr) == value, attr
    assert devices.get("K1", "outputs") == []  # RAM is gone
    assert site.key_status("K1")["key_id"] == site.server.key_id("K1")  # the flash is not


def test_counting_and_bad_arming_are_refused_alike(site):
    devices = site.devices
    with pytest.raises(ValueError, match="counted only from arm_power_cut"):
        devices.flash_writes("L1")
    with pytest.raises(ValueError, match="tear is one of"):
        devices.arm_power_cut("L1", 1, tear="melted")
    with pytest.raises(ValueError, match="only a key knows"):
        devices.outcome("L1")
    devices.arm_power_cut("L1", 0)
    devices.boot("L1")
    assert devices.flash_writes("L1") == 0 and devices.power_cut("L1") is None


def test_a_power_cut_on_the_key_reaches_the_host_and_the_key_boots_again(site):
    devices = site.devices
    assert site.open("K1", "L1").outcome == Outcome.GRANTED  # the key's logs are set up
    devices.arm_power_cut("K1", 0)
    devices.boot("K1")
    assert site.open("K1", "L1").outcome == Outcome.GRANTED
    writes = devices.flash_writes("K1")
    assert writes >= 2  # its own trail and the lock's event it carries
    devices.boot("K1")
    assert devices.flash_writes("K1") == 0  # counted afresh from each boot
    devices.arm_power_cut("K1", writes, tear="bits", seed=7)  # the last one: the carried event
    devices.boot("K1")
    with pytest.raises(PowerCut):
        site.open("K1", "L1")
    kind, _where, size = devices.power_cut("K1")
    assert kind == "program" and size > 0
    with pytest.raises(PowerCut):  # dead flash: every later write fails too
        site.validate("K1")
    devices.disarm("K1")
    devices.boot("K1")
    site.remove("K1")
    assert site.validate("K1") is None
    result = site.open("K1", "L1")
    assert (result.outcome, result.reason) == (Outcome.GRANTED, Denial.NONE)


def test_a_lock_cut_at_the_motor_pulse_is_a_brown_out_on_both_runtimes(site):
    devices = site.devices
    devices.boot("L1")
    devices.set("L1", cut_at_motor=True)
    raw = devices.call("K1", "begin")
    with pytest.raises(PowerCut):
        while raw is not None:
            reply = devices.call("L1", "on_key_frame", raw)
            raw = devices.call("K1", "on_lock_frame", reply)
    assert ("motor", 1) not in devices.get("L1", "outputs")


# --- the unix port: one process per device, a board's heap each -------------------------------


@pytest.mark.micropython
@pytest.mark.slow
def test_on_the_unix_port_each_device_is_a_process_of_its_own_with_a_capped_heap():
    site = EmulatedSite("unix")
    try:
        site.add_lock("L1", group="depot")
        site.add_key("K1")
        site.server.grant("K1", groups=["depot"])
        assert site.validate("K1") is None
        assert site.open("K1", "L1").outcome == Outcome.GRANTED
        ports = site.devices._ports
        assert len({port._proc.pid for port in ports.values()}) == 2
        words_k = int(site.devices.heap.removesuffix("wK"))
        for port in ports.values():
            # the heap is the board's (K KiB of 4-byte words, 8-byte words here), not the machine's
            total = port.eval("__import__('gc').mem_free() + __import__('gc').mem_alloc()")
            assert total <= words_k * 1024 // 4 * 8
    finally:
        site.close()


@pytest.mark.micropython
@pytest.mark.slow
def test_a_device_that_does_not_fit_its_heap_fails_on_the_unix_port(tmp_path):
    """The negative control: the same device in a heap far below what it needs cannot boot."""
    from keylock.host.emulator.devices import UnixDevices
    from keylock.host.runtime.micropython import MicroPythonError

    devices = UnixDevices(tmp_path, heap="8wK")
    try:
        with pytest.raises(MicroPythonError) as caught:
            devices.add("L1", "lock")
        assert caught.value.type == "MemoryError"
    finally:
        devices.close()
