"""The lock believes only signed time, and a key's newer blocklist is adopted before the lock
decides, and the key takes any lock input without raising (SECURITY.md). Every test here
but `test_a_key_on_the_newer_list_...` failed on the code before this change (df81519): a
denied key's clock moved the lock's rollback guard ahead, a granted key's claimed time did
too, a clock set back before its credential was issued still opened a fresh lock, an
unblocked key was refused at the lock its blocking had reached, a lock decided (and drove
its motor) again on a repeated CREDENTIAL, and the key raised AttributeError on a lock
frame outside a session."""

from keylock.firmware import codec
from keylock.firmware import frame as fw_frame
from keylock.host.emulator.site import EmulatedSite
from keylock.protocol.codes import Denial, Outcome

DAY_S = 86400


def site_with(tmp_path, *keys, yard_only=()):
    """L1 in the depot, L2 in the yard; every key granted the depot, or the yard only."""
    site = EmulatedSite("cpython", folder=tmp_path)
    site.add_lock("L1", group="depot")
    site.add_lock("L2", group="yard")
    for key in keys:
        site.add_key(key, holder=f"Holder {key}")
        site.server.grant(key, groups=["yard" if key in yard_only else "depot"])
        assert site.validate(key) is None
    return site


def decision(opening):
    return opening.outcome, opening.reason


def test_a_denied_key_with_a_clock_far_ahead_cannot_lock_everyone_out(tmp_path):
    site = site_with(tmp_path, "K1", "K2", yard_only=["K2"])  # K2 may open the yard, not L1
    site.skew_clock("K2", int(9.95 * DAY_S))  # just inside its validity, as far ahead as it gets
    before = site.lock_status("L1")["highest_time"]
    assert decision(site.open("K2", "L1")) == (Outcome.DENIED, Denial.NOT_AUTHORIZED)
    assert site.lock_status("L1")["highest_time"] == before  # a denial moves nothing
    assert decision(site.open("K1", "L1")) == (Outcome.GRANTED, Denial.NONE)
    site.close()


def test_a_granted_key_moves_the_guard_to_its_signed_issue_time_not_to_its_clock(tmp_path):
    site = site_with(tmp_path, "K1", "K2")
    issued_at = site.server.validate("K1").credential["issued_at"]
    assert site.validate("K1") is None
    site.skew_clock("K1", int(9 * DAY_S))
    assert decision(site.open("K1", "L1")) == (Outcome.GRANTED, Denial.NONE)
    guard = site.lock_status("L1")["highest_time"]
    assert issued_at <= guard < issued_at + 3600  # the server's time, not nine days ahead
    assert decision(site.open("K2", "L1")) == (Outcome.GRANTED, Denial.NONE)  # honest keys still open
    site.close()


def test_a_clock_set_back_before_the_credential_was_issued_is_rollback_even_at_a_fresh_lock(tmp_path):
    site = site_with(tmp_path, "K1")
    assert site.lock_status("L1")["highest_time"] == 0  # nobody has opened L1: no guard yet
    site.skew_clock("K1", -2 * 3600)
    assert decision(site.open("K1", "L1")) == (Outcome.DENIED, Denial.CLOCK_ROLLBACK)
    assert site.lock_audit("L1")[-1]["reason"] == Denial.CLOCK_ROLLBACK
    site.close()


def test_an_unblocked_key_opens_at_the_first_lock_it_visits_after_validation(tmp_path):
    site = site_with(tmp_path, "K1", "K2")
    site.server.block("K1")
    assert site.validate("K2") is None  # K2 now carries the blocklist naming K1
    assert decision(site.open("K2", "L1")) == (Outcome.GRANTED, Denial.NONE)
    assert decision(site.open("K1", "L1")) == (Outcome.DENIED, Denial.BLOCKED)  # the block reached L1
    site.server.unblock("K1")  # the key was found
    assert site.validate("K1") is None  # K1 carries the newer list, which no longer names it
    assert decision(site.open("K1", "L1")) == (Outcome.GRANTED, Denial.NONE)
    assert site.lock_status("L1")["blocklist_version"] == site.server.blocklist()["version"]
    site.close()


def test_a_key_on_the_newer_list_is_refused_where_that_list_arrives_first(tmp_path):
    site = site_with(tmp_path, "K1", "K2")
    site.server.block("K1")
    assert site.validate("K2") is None
    # K2's insertion hands L1 the list before L1 decides on K2; K1, still inside its old
    # validity, is refused at its next insertion.
    assert decision(site.open("K2", "L1")) == (Outcome.GRANTED, Denial.NONE)
    assert decision(site.open("K1", "L1")) == (Outcome.DENIED, Denial.BLOCKED)
    site.close()


def test_a_lock_decides_once_per_session(tmp_path):
    # A second CREDENTIAL in the same session (a modified key replaying it to pulse the motor
    # again) is refused and recorded nowhere.
    site = site_with(tmp_path, "K1")
    assert decision(site.insert("K1", "L1")) == (Outcome.GRANTED, Denial.NONE)  # the key stays in
    key, lock = site.devices._apps["K1"], site.devices._apps["L1"]
    events = len(site.lock_audit("L1"))
    again = key._session.seal(codec.T_CREDENTIAL, 9, {"key_time": int(site.now_s), "credential": key.credential})
    t, _seq, answer = key._session.open(lock.on_key_frame(again))
    assert (t, answer["code"]) == (codec.T_RESULT, codec.ERR_BAD_REQUEST)
    assert len(site.lock_audit("L1")) == events
    site.close()


def test_the_key_takes_any_lock_frame_outside_a_session_without_raising(tmp_path):
    site = site_with(tmp_path, "K1")
    key = site.devices._apps["K1"]
    noise = [b"", b"\xa5", bytes(range(40)), bytes.fromhex("a5000a00")]
    assert [key.on_lock_frame(raw) for raw in noise] == [None] * len(noise)  # idle: nothing to answer
    hello = key.begin()
    assert hello is not None
    assert key.on_lock_frame(bytes(len(hello))) is None  # a garbled CHALLENGE ends the transaction
    assert key.outcome == (Outcome.DENIED, Denial.AUTH_FAILED)
    assert [key.on_lock_frame(raw) for raw in noise] == [None] * len(noise)  # and later frames are ignored
    site.close()


def test_key_and_lock_of_different_protocol_versions_deny_with_the_reason(tmp_path):
    site = site_with(tmp_path, "K1")
    key, lock = site.devices._apps["K1"], site.devices._apps["L1"]
    hello = bytearray(key.begin())
    hello[-5] ^= 0x01  # the version byte before the CRC: the key speaks another version
    body = bytes(hello[1:-4])
    answer = lock.on_key_frame(fw_frame.encode_body(body))
    t, _seq, fields, _mac = fw_frame.decode(answer)
    assert (t, fields["code"]) == (codec.T_RESULT, codec.ERR_PROTOCOL_VERSION)  # said, not silence
    assert key.on_lock_frame(answer) is None
    assert key.outcome == (Outcome.DENIED, Denial.PROTOCOL_MISMATCH)
    site.close()


def test_a_relay_that_slows_the_challenge_round_trip_is_refused_with_timeout(tmp_path):
    # On df81519 a relay adding an hour per frame still got a grant.
    site = site_with(tmp_path, "K1")
    assert decision(site.open("K1", "L1")) == (Outcome.GRANTED, Denial.NONE)  # at the link's speed
    site.relay_delay_s = 0.1  # 100 ms each way: CHALLENGE -> PROOF takes 200 ms more
    assert decision(site.open("K1", "L1")) == (Outcome.DENIED, Denial.TIMEOUT)
    assert site.lock_audit("L1")[-1]["reason"] == Denial.TIMEOUT
    site.relay_delay_s = 3600.0
    assert decision(site.open("K1", "L1")) == (Outcome.DENIED, Denial.TIMEOUT)
    site.relay_delay_s = 0.0
    assert decision(site.open("K1", "L1")) == (Outcome.GRANTED, Denial.NONE)
    site.close()
