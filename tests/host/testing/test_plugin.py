"""The plugin's device fixtures through pytester: one test module runs against the default
emulated site and, given --keylock-port (or --keylock-key-port/--keylock-lock-port) URLs,
against a separately started `keylock emulate`; a failed test's report shows the frames
exchanged."""

import pytest

pytest_plugins = ["pytester"]

# Inner runs without the hypothesis plugin (a second to import), a cache or pytest-embedded
# (test_coexistence.py loads it beside keylock).
QUIET = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-p", "no:pytest_embedded")

MODULE = """
import pytest

def test_key_and_lock_answer(key, lock):
    assert key.info()["role"] == "key"
    assert lock.info()["role"] == "lock"
    print("KEY AT", key.url)

def test_pairing(key, site):
    key.pair(4711)
    try:
        assert key.status()["paired_phone"] == 4711
    finally:
        key.unpair(site.server, 4711)  # the release is the server's to sign

def test_every_key(keys):
    assert len(keys) == 2 and {k.info()["role"] for k in keys} == {"key"}

def test_lock_status(lock):
    assert lock.status()["lock_id"] == lock.info()["id"]
"""


def test_the_module_runs_against_the_default_emulated_site(pytester):
    pytester.makepyfile(test_devices=MODULE)
    result = pytester.runpytest(*QUIET, "-s")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*KEY AT keylock://127.0.0.1:*/K1*"])


@pytest.mark.parametrize("form", ["port", "role_ports"])
def test_the_same_module_runs_against_another_keylock_emulate(pytester, emulate, form):
    d = emulate["devices"]
    if form == "port":
        options = ["--keylock-port", d["K1"]["socket"], "--keylock-port", d["K2"]["url"], "--keylock-port", d["L1"]["socket"]]
    else:
        options = ["--keylock-key-port", d["K1"]["socket"], "--keylock-key-port", d["K2"]["url"], "--keylock-lock-port", d["L1"]["socket"]]
    pytester.makepyfile(test_devices=MODULE)
    result = pytester.runpytest(*QUIET, "-s", *options, "--keylock-server", emulate["server"])  # the server signs the unpair
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([f"*KEY AT {d['K1']['socket']}*"])


def test_a_failed_test_shows_the_frames_exchanged(pytester):
    pytester.makepyfile(
        test_fails="""
        def test_fails(key):
            assert key.status()["paired_phone"] == 12345
    """
    )
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- frames exchanged with K1 (keylock://127.0.0.1:*/K1) -*",
            "-> STATUS_REQUEST seq 1",
            "     a502004201*",
            '<- KEY_STATUS seq 1 {"key_id":1001,*"paired_phone":0,*',
        ]
    )


@pytest.mark.parametrize("scope", ["function", "session"])
def test_indirect_parametrization_comes_first(pytester, scope):
    pytester.makepyfile(
        test_params="""
        import pytest

        @pytest.mark.parametrize("key", ["K2"], indirect=True)
        def test_named_key(key, site):
            assert key.info()["id"] == site.devices["K2"]["id"]

        @pytest.mark.parametrize("locks", [["L1", "L2"]], indirect=True)
        @pytest.mark.parametrize("site", [{"keys": 1, "locks": 2}], indirect=True)
        def test_a_bigger_site(site, keys, locks):
            assert len(keys) == 1 and [l.info()["id"] for l in locks] == [site.devices["L1"]["id"], site.devices["L2"]["id"]]

        def test_by_url(site, request):
            from keylock.host.link.device import Device
            with Device(site.devices["L1"]["socket"]) as lock:
                assert lock.info()["role"] == "lock"
    """
    )
    result = pytester.runpytest(*QUIET, "--keylock-site-scope", scope)
    result.assert_outcomes(passed=3)


def test_the_emulated_world_can_be_acted_on_and_skips_on_given_ports(pytester, emulate):
    pytester.makepyfile(
        test_world="""
        def test_opening_is_audited(site, key):
            assert site.open("K1", "L1") == {"outcome": "granted", "reason": "none"}
            with site.device("L1") as lock:
                assert lock.audit(last=1)[0]["outcome"] == "granted"
            assert key.audit(last=1)[0]["lock_id"] == site.devices["L1"]["id"]

        def test_a_lock_needs_a_lock(lock):
            assert lock.info()["role"] == "lock"
    """
    )
    pytester.runpytest(*QUIET).assert_outcomes(passed=2)
    result = pytester.runpytest(*QUIET, "-rs", "--keylock-key-port", emulate["devices"]["K1"]["socket"])
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*given by port, not emulated: nothing to act on physically*",
            "*no lock among the devices under test*",
        ]
    )


def test_a_port_of_the_wrong_role_is_an_error(pytester, emulate):
    pytester.makepyfile(test_role="def test_key(key):\n    pass\n")
    result = pytester.runpytest(*QUIET, "--keylock-key-port", emulate["devices"]["L1"]["socket"])
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*was given as a key but is lock 101*"])
