"""advance: every key's drain is drain.drain's, out of a lock and in one, at its own temperature;
a lock's heated part relaxes to ambient and a settled lock is left alone."""

import pytest

from keylock.host.emulator.site import EmulatedSite
from keylock.hw_models import drain, thermal


@pytest.fixture
def site(tmp_path):
    s = EmulatedSite("cpython", folder=tmp_path)
    s.add_lock("L1", group="depot")
    for key in ("K1", "K2"):
        s.add_key(key, holder=f"H{key}", soc=0.8)
    yield s
    s.close()


def test_advance_drains_each_key_as_drain_does(site):
    site.set_temperature(-10.0, key="K2")
    site.keys["K2"].in_lock = "L1"  # left in the lock: it powers the lock's idle current
    site.advance(3600.0)
    site.advance(86400.0 - 3600.0)
    cell = site.keys["K1"].battery
    assert site.keys["K1"].soc == pytest.approx(float(drain.drain(0.8, 86400.0, cell, 20.0)), rel=1e-12)
    assert site.keys["K2"].soc == pytest.approx(float(drain.drain(0.8, 86400.0, cell, -10.0, in_lock_s=86400.0)), rel=1e-12)
    site.set_temperature(40.0, key="K1")  # a new temperature, a new rate
    before = site.keys["K1"].soc
    site.advance(86400.0)
    assert site.keys["K1"].soc == pytest.approx(float(drain.drain(before, 86400.0, cell, 40.0)), rel=1e-12)


def test_a_heated_part_relaxes_and_then_the_lock_is_settled(site):
    site.set_temperature(80.0, lock="L1", part="electronics")
    assert not site.locks["L1"].settled
    site.advance(600.0)
    warm_C = float(site.locks["L1"].temps_C[thermal.ELECTRONICS])
    assert 20.0 < warm_C < 80.0
    site.advance(7 * 86400.0)
    assert site.locks["L1"].settled
    assert site.locks["L1"].temps_C == pytest.approx([20.0] * thermal.N_NODES, abs=2e-3)  # np.allclose: atol + rtol * 20


def test_the_other_keys_idle_through_a_transaction():
    """An opening moves the clock by its frames' time; every other key drains through it as it
    would through an advance of the same length (the opening key's charge is the power path's)."""
    site = EmulatedSite("cpython")
    try:
        site.add_lock("L1", group="g")
        for name in ("K1", "K2"):
            site.add_key(name, soc=0.8)
        site.server.grant("K1", groups=["g"])
        site.validate("K1")
        before_s, soc_before = site.now_s, site.keys["K2"].soc
        site.insert("K1", "L1")
        took_s = site.now_s - before_s
        assert took_s > 0.05
        rate = site.keys["K2"].drain_out_per_s
        assert site.keys["K2"].soc == pytest.approx(soc_before - rate * took_s, rel=0, abs=1e-15)
        assert site.keys["K2"].soc < soc_before
    finally:
        site.close()
