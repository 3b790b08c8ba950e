"""Behaviour of the emulated site that scenario files cannot express."""

from keylock.host.emulator.site import EmulatedSite
from keylock.protocol.codes import Denial, Outcome


def site_with(tmp_path, *keys):
    site = EmulatedSite("cpython", folder=tmp_path)
    site.add_lock("L1", group="depot")
    for key in keys:
        site.add_key(key, holder=f"Holder {key}")
        site.server.grant(key, groups=["depot"])
        assert site.validate(key) is None
    return site


def test_a_key_whose_clock_is_behind_the_lock_is_refused(tmp_path):
    site = site_with(tmp_path, "K1", "K2")
    assert site.open("K1", "L1").outcome == Outcome.GRANTED  # the lock has now seen K1's time
    site.skew_clock("K2", -3600)  # K2's clock is an hour behind (or someone wound it back)
    result = site.open("K2", "L1")
    assert (result.outcome, result.reason) == (Outcome.DENIED, Denial.CLOCK_ROLLBACK)
    assert site.lock_audit("L1")[-1]["reason"] == Denial.CLOCK_ROLLBACK
    site.skew_clock("K2", -30)  # within the lock's slack for ordinary drift
    assert site.open("K2", "L1").outcome == Outcome.GRANTED
    site.skew_clock("K2", -3600)
    assert site.validate("K2") is None  # validation sets the clock right again
    assert site.open("K2", "L1").outcome == Outcome.GRANTED
    site.close()


def test_opening_energy_is_debited_from_the_key(tmp_path):
    site = site_with(tmp_path, "K1")
    before = site.keys["K1"].soc
    result = site.open("K1", "L1")
    assert result.energy_J > 0.003  # at least the motor pulse (3-45 mJ)
    assert site.keys["K1"].soc < before
    site.close()


def test_wire_bytes_of_an_opening(tmp_path):
    site = site_with(tmp_path, "K1")
    result = site.open("K1", "L1")
    # 97 bytes of handshake, then credential/decision, audit read/batch, ack/result in the session
    assert result.wire_bytes > 97
    site.close()


def test_a_denied_opening_costs_less_than_a_granted_one(tmp_path):
    site = site_with(tmp_path, "K1")
    site.add_lock("L2", group="elsewhere")  # K1 has no right here
    granted = site.open("K1", "L1")
    denied = site.open("K1", "L2")
    assert (granted.outcome, denied.reason) == (Outcome.GRANTED, Denial.NOT_AUTHORIZED)
    assert 0 < denied.energy_J < granted.energy_J  # booted and decided, but the motor never ran
    site.close()


def test_a_provisioned_key_takes_its_clock_only_from_the_server_and_keeps_it_running(tmp_path):
    from keylock.protocol.codes import ErrorCode, MsgType

    site = site_with(tmp_path, "K1")
    before = site._host("K1", MsgType.TIME_REQUEST, {})[1]["unix_s"]
    _t, answer = site._host("K1", MsgType.TIME_SET, {"unix_s": 1900000000})  # a phone or USB host alone
    assert answer["code"] == ErrorCode.NOT_SIGNED
    assert site._host("K1", MsgType.TIME_REQUEST, {})[1]["unix_s"] == before
    site.skew_clock("K1", 500)
    assert site._signed("K1", MsgType.TIME_SET) is None  # the server's time, signed for K1
    synced = site._host("K1", MsgType.TIME_REQUEST, {})[1]["unix_s"]
    assert synced == int(site.now_s)
    site.advance(60)
    assert site._host("K1", MsgType.TIME_REQUEST, {})[1]["unix_s"] == synced + 60  # it runs from there
    site.close()


def test_a_lock_that_refuses_answers_even_when_its_motor_would_have_browned_out(tmp_path):
    # The motor is tried on a copy of the power path at the lock's decision; a lock that denies
    # never fires it, so a cell too weak for the motor still hears the lock's own reason.
    site = EmulatedSite("cpython", folder=tmp_path)
    site.add_lock("L1", group="depot")
    site.add_key("K1", holder="Holder K1", soc=0.2, temperature_C=-20.0)  # browns out under the motor
    site.server.grant("K1", groups=["depot"])
    assert site.validate("K1") is None
    assert site.open("K1", "L1", hold_s=5.0).reason == Denial.LOW_BATTERY
    site.set_temperature(90.0, lock="L1", part="keyhole")  # over the electronics' 85 degC
    result = site.open("K1", "L1", hold_s=5.0)
    assert (result.outcome, result.reason) == (Outcome.DENIED, Denial.OVER_TEMPERATURE)
    site.close()
