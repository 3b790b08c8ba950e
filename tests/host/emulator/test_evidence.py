"""Every motor run has a record, made durable before the motor moves (issue 11, SECURITY.md).
On df81519 the record was written after the pulse, so a key that cut its own power at the
pulse (it supplies the lock) opened the door and left no trace."""

from keylock.host.emulator.site import EmulatedSite
from keylock.protocol.codes import Denial, Outcome


def validated_site(tmp_path):
    """Lock L1 in the depot; key K1 granted the depot and validated."""
    site = EmulatedSite("cpython", folder=tmp_path)
    site.add_lock("L1", group="depot")
    site.add_key("K1", holder="Holder K1")
    site.server.grant("K1", groups=["depot"])
    assert site.validate("K1") is None
    return site


class PowerCutAtMotor(Exception):
    """The key cut the supply it gives the lock, at the motor pulse."""


def test_a_power_cut_at_the_motor_pulse_leaves_the_grant_recorded(tmp_path):
    site = validated_site(tmp_path)
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


def test_a_burst_of_bad_or_bare_proofs_costs_at_most_one_record(tmp_path):
    # On df81519 every bad PROOF, and every bare PROOF frame with no handshake before it,
    # appended a record: 367 attempts pushed the oldest failed-authentication records out.
    from keylock.firmware import codec
    from keylock.firmware import frame as fw_frame

    site = validated_site(tmp_path)
    site.devices.boot("L1")
    lock = site.devices._apps["L1"]
    records_before = len(lock.foreign.read(0, 1000))
    bare_proof = fw_frame.encode_message(codec.T_HS_PROOF, 1, {"proof": bytes(8)})
    for _ in range(500):
        assert lock.on_key_frame(bare_proof) is None  # no handshake: nothing to fail, nothing written
    key = site.devices._apps["K1"]
    for _ in range(500):
        challenge = lock.on_key_frame(key.begin())
        proof = bytearray(key.on_lock_frame(challenge))
        proof[-5] ^= 0x01  # a wrong proof (XOR: always wrong), CRC left to be recomputed below
        assert lock.on_key_frame(fw_frame.encode_body(bytes(proof[1:-4]))) is None
    assert lock.auth_failures == 500
    assert len(lock.foreign.read(0, 1000)) == records_before + 1
    site.close()
