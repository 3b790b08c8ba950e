"""Power cut at every flash write of an opening transaction on the lock, each in its own run,
with every tear model and on both runtimes: the lock boots afterwards with consistent state,
and no audit event it had acknowledged (to the key, with a DECISION or an accepted AUDIT_ACK)
is missing. benchmarks/powercut.py is the campaign over every flow and both devices."""

import pytest

from keylock.firmware.flash import TEARS
from keylock.host.emulator.site import EmulatedSite
from keylock.protocol.codes import Outcome

RUNTIMES = [pytest.param("cpython"), pytest.param("micropython", marks=[pytest.mark.micropython, pytest.mark.slow])]


def build(folder, runtime):
    site = EmulatedSite(runtime, folder=folder)
    site.add_lock("L1", group="depot")
    for key in ("K1", "K2"):
        site.add_key(key, holder=f"Holder {key}")
        site.server.grant(key, groups=["depot"])
        assert site.validate(key) is None
    assert site.open("K2", "L1").outcome == Outcome.GRANTED  # history that must survive
    site.server.block("K2")
    assert site.validate("K1") is None  # K1 now carries a blocklist for the lock to adopt
    return site


def writes_of_one_opening(tmp_path, runtime):
    site = build(tmp_path / "count", runtime)
    site.devices.arm_power_cut("L1", cut_at=0)  # count only
    assert site.open("K1", "L1").outcome == Outcome.GRANTED
    writes = site.devices.flash_writes("L1")
    assert site.devices.power_cut("L1") is None  # counted, never cut
    site.close()
    return writes


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_opening_writes_to_the_lock_flash(tmp_path, runtime):
    # the decision's audit record, the rollback guard, the adopted blocklist, the copy pointer
    assert writes_of_one_opening(tmp_path, runtime) >= 4


@pytest.mark.parametrize("tear", TEARS)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_power_cut_at_every_write(tmp_path, runtime, tear):
    total = writes_of_one_opening(tmp_path, runtime)
    for cut_at in range(1, total + 1):
        site = build(tmp_path / f"{tear}-{cut_at}", runtime)
        before = site.lock_audit("L1")
        site.devices.arm_power_cut("L1", cut_at=cut_at, tear=tear, seed=cut_at)
        result = site.open("K1", "L1")
        assert site.devices.power_cut("L1") is not None, f"write {cut_at} of {total} was never cut"
        site.devices.disarm("L1")
        site.devices.boot("L1")  # power comes back: the lock boots from what the flash holds
        after = site.lock_audit("L1")
        status = site.lock_status("L1")
        assert after[: len(before)] == before, f"cut at write {cut_at}: an earlier event is gone"
        assert status["events"] == len(after)
        if result.reason.name != "LOW_BATTERY":  # the key got the DECISION: its event was acknowledged
            assert after[-1]["key_id"] == site.server.key_id("K1"), f"cut at write {cut_at}: the decided event is gone"
            assert after[-1]["outcome"] == result.outcome
        assert status["blocklist_version"] in (0, site.server.blocklist()["version"])
        # and the lock still works: the next opening is decided and recorded
        again = site.open("K1", "L1")
        assert again.outcome == Outcome.GRANTED, f"cut at write {cut_at}: {again}"
        assert site.lock_audit("L1")[-1]["key_id"] == site.server.key_id("K1")
        site.close()
