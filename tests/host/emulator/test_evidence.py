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


def test_a_burst_of_bad_or_bare_proofs_costs_at_most_one_record_with_the_count(tmp_path):
    # On df81519 every bad PROOF, and every bare PROOF frame with no handshake before it,
    # appended a record: 367 attempts pushed the oldest failed-authentication records out.
    from keylock.firmware import codec
    from keylock.firmware import frame as fw_frame

    site = validated_site(tmp_path)
    for _ in range(3):
        assert site.open("K1", "L1").outcome == Outcome.GRANTED
    before = site.lock_audit("L1")
    site.devices.arm_power_cut("L1", cut_at=0)  # count the lock's flash writes from its next power-up
    site.devices.boot("L1")
    lock = site.devices._apps["L1"]
    bare_proof = fw_frame.encode_message(codec.T_HS_PROOF, 1, {"proof": bytes(8)})
    for _ in range(500):
        assert lock.on_key_frame(bare_proof) is None  # no handshake: nothing to fail, nothing written
    assert site.devices.flash_writes("L1") == 0
    key = site.devices._apps["K1"]
    for _ in range(500):
        challenge = lock.on_key_frame(key.begin())
        proof = bytearray(key.on_lock_frame(challenge))
        proof[-5] ^= 0x01  # a wrong proof (XOR: always wrong), CRC left to be recomputed below
        assert lock.on_key_frame(fw_frame.encode_body(bytes(proof[1:-4]))) is None
    assert lock.auth_failures == 500
    # checkpoints of the count at the 1st, 2nd, 4th ... 256th failure: 9 small store writes of
    # 2 programs each (record header and name, then the value), no record; df81519 made 500
    assert site.devices.flash_writes("L1") == 9 * 2
    assert site.lock_audit("L1") == before  # nothing pushed out, nothing added yet
    site.devices.disarm("L1")
    # The attacker pulls out: RAM is gone. The next genuine session (a new power-up) records the
    # burst once, with the count as last checkpointed (256 of 500: a lower bound within a
    # factor of 2, SECURITY.md), then its own decision.
    assert site.open("K1", "L1").outcome == Outcome.GRANTED
    events = site.lock_audit("L1")
    assert events[: len(before)] == before
    burst, decision = events[len(before) :]
    assert (burst["reason"], burst["count"], burst["key_id"]) == (Denial.AUTH_FAILED, 256, site.server.key_id("K1"))
    assert (decision["reason"], decision["count"]) == (Denial.NONE, 1)
    # and only once: the count was reset
    assert site.open("K1", "L1").outcome == Outcome.GRANTED
    assert [e["reason"] for e in site.lock_audit("L1")[len(before) + 2 :]] == [Denial.NONE]
    # the server verifies the counted record like any other
    assert site.validate("K1") is None
    stored = site.server.audit(lock="L1", reason="test", by="tester")
    assert [(e.reason, e.count) for e in stored if e.reason == Denial.AUTH_FAILED] == [(Denial.AUTH_FAILED, 256)]
    assert site.server.audit_rejections() == []
    site.close()


def transact(site, key, lock):
    """One opening on the firmware alone (no physics, no wire time: fast): the lock powers
    up, the key runs its transaction to the end. The key's outcome."""
    site.devices.boot(lock)
    raw = site.devices.call(key, "begin")
    while raw is not None:
        reply = site.devices.call(lock, "on_key_frame", raw)
        raw = site.devices.call(key, "on_lock_frame", reply) if reply is not None else None
    return site.devices.outcome(key)


def test_no_event_is_lost_when_more_openings_than_the_key_can_carry_come_between_validations(tmp_path):
    # On df81519 the key's carried ring overwrote events it had acknowledged: 1,300 openings
    # between two validations reached the server as 1,115. Now the key acknowledges only what
    # it has room for beside what the server lacks; the lock keeps the rest for later.
    site = validated_site(tmp_path)
    key = site.devices._apps["K1"]
    for _ in range(1300):
        assert transact(site, "K1", "L1") == (Outcome.GRANTED, Denial.NONE)
    assert key.carried_room() == 0 and len(site.key_audit("K1")) == key.carried.capacity < 1300
    assert site.validate("K1") is None
    assert key.carried_room() == key.carried.capacity  # the server signed that it holds them all
    for _ in range(10):  # the lock hands over what it kept, 64 a transaction
        transact(site, "K1", "L1")
    assert site.validate("K1") is None
    events = site.server.audit(lock="L1", reason="test", by="tester")
    assert [e.seq for e in events] == list(range(1310))
    assert site.server.audit_gaps() == [] and site.server.audit_rejections() == []
    site.close()


def test_a_replaced_lock_starts_a_new_epoch_and_the_server_keeps_both(tmp_path):
    # On df81519 a reset or replaced lock restarted its seqs at 0 under the same lock id, and
    # the server dropped its new events as duplicates of the old (10 openings stored 0).
    site = validated_site(tmp_path)
    for _ in range(3):
        transact(site, "K1", "L1")
    assert site.validate("K1") is None
    (site.folder / "L1.flash").unlink()  # the lock replaced: new hardware, blank flash
    (site.folder / "L1.secure").unlink()
    site.devices.boot("L1")
    site.host_frame("L1", site_provision_frame(site, "L1"))
    for _ in range(10):
        assert transact(site, "K1", "L1") == (Outcome.GRANTED, Denial.NONE)
    assert site.validate("K1") is None
    events = site.server.audit(lock="L1", reason="test", by="tester")
    assert [(e.epoch, e.seq) for e in events] == [(1, s) for s in range(3)] + [(2, s) for s in range(10)]
    assert site.server.audit_rejections() == []
    site.close()


def site_provision_frame(site, lock):
    from keylock.protocol.codes import MsgType
    from keylock.protocol.frame import encode_frame

    return encode_frame(MsgType.PROVISION, site.server.provision_lock(lock), 1)
