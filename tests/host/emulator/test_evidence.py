"""Every motor run has a record, made durable before the motor moves (issue 11, SECURITY.md).
On df81519 the record was written after the pulse, so a key that cut its own power at the
pulse (it supplies the lock) opened the door and left no trace."""

from keylock.host.emulator.site import EmulatedSite
from keylock.protocol.codes import Denial, Outcome


class PowerCutAtMotor(Exception):
    """The key cut the supply it gives the lock, at the motor pulse."""


def test_a_power_cut_at_the_motor_pulse_leaves_the_grant_recorded(tmp_path):
    site = EmulatedSite("cpython", folder=tmp_path)
    site.add_lock("L1", group="depot")
    site.add_key("K1", holder="Holder K1")
    site.server.grant("K1", groups=["depot"])
    assert site.validate("K1") is None
    before = len(site.lock_audit("L1"))
    site.devices.boot("L1")  # the key is inserted: the lock powers up
    lock = site.devices._apps["L1"]
    pulses = []

    def cut_at_the_pulse():
        pulses.append(1)  # the motor was driven: the door may have opened
        raise PowerCutAtMotor

    lock.dev.motor_pulse = cut_at_the_pulse
    raw = site.devices.call("K1", "begin")
    try:
        while raw is not None:
            reply = lock.on_key_frame(raw)
            raw = site.devices.call("K1", "on_lock_frame", reply) if reply is not None else None
    except PowerCutAtMotor:
        pass
    assert pulses == [1]
    site.devices.boot("L1")  # power back: the lock boots from what its flash holds
    events = site.lock_audit("L1")
    assert len(events) == before + 1, "the motor ran and the lock kept no record"
    assert (events[-1]["key_id"], events[-1]["outcome"], events[-1]["reason"]) == (site.server.key_id("K1"), Outcome.GRANTED, Denial.NONE)
    site.close()
