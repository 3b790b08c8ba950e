"""The `site` fixture's isolation (issue 12): a test that validates a key, opens a lock and
lets days pass leaves the outcomes of the other tests of its file unchanged, in file order,
in reversed order and under `-n 2`, because each test gets a site of its own. The control
shares one site (`--keylock-site-scope module|session`) and runs the same file in file
order: the tests after the one that acted now fail, so the file can see a leak."""

import pytest

pytest_plugins = ["pytester"]

# Inner runs without the hypothesis plugin (a second to import), a cache, pytest-embedded
# (test_coexistence.py loads it) or random order.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-p", "no:pytest_embedded", "-p", "no:randomly")

# Test A acts on the site; B and C check what a fresh site gives. Each also holds in a fresh
# site whatever ran before it, and B and C fail in a site A has used.
MODULE = """
from keylock.host.emulator.site import EmulatedSite

DAY_S = 86400


def fresh_start_s():
    new = EmulatedSite()
    try:
        return int(new.now_s)
    finally:
        new.close()


def test_a_validates_opens_and_lets_days_pass(site, key, lock):
    key.validate(site.server, "K1")
    assert site.open("K1", "L1") == {"outcome": "granted", "reason": "none"}
    site.call(lambda s: s.advance(3 * DAY_S))
    assert key.status()["time"] >= fresh_start_s() + 3 * DAY_S
    assert lock.audit()[-1]["key_id"] == key.info()["id"]


def test_b_another_key_opens_the_lock_first(site, lock, keys):
    k2 = keys[1].info()["id"]
    assert site.open("K2", "L1") == {"outcome": "granted", "reason": "none"}
    assert {e["key_id"] for e in lock.audit()} == {k2}, "the lock's audit holds only this test's opening"


def test_c_status_shows_the_initial_state(site, lock, keys):
    assert lock.audit() == [], "lock audit empty at start"
    status = lock.status()
    assert (status["events"], status["highest_time"]) == (0, 0), "no opening has ever reached the lock"
    start_s = fresh_start_s()
    for k in keys:
        assert k.status()["time"] == start_s, "every key's clock where a new site's starts"
"""

# Reverses the collected order when asked, so the same file runs C, B, A.
CONFTEST = """
def pytest_addoption(parser):
    parser.addoption("--reverse-order", action="store_true")


def pytest_collection_modifyitems(config, items):
    if config.getoption("reverse_order"):
        items.reverse()
"""

ORDER = [
    "*test_a_validates_opens_and_lets_days_pass*",
    "*test_b_another_key_opens_the_lock_first*",
    "*test_c_status_shows_the_initial_state*",
]


@pytest.fixture
def leaky(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_leaky=MODULE)
    return pytester


@pytest.mark.parametrize("order", ["file", "reversed"])
def test_each_test_gets_its_own_site_in_any_order(leaky, order):
    args = ["--reverse-order"] if order == "reversed" else []
    result = leaky.runpytest(*QUIET, "-v", *args)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(ORDER if order == "file" else ORDER[::-1])  # the order they ran in


@pytest.mark.parametrize("order", ["file", "reversed"])
def test_each_test_gets_its_own_site_under_xdist(leaky, order):
    args = ["--reverse-order"] if order == "reversed" else []
    result = leaky.runpytest(*QUIET, "-n", "2", *args)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*2 workers*"])  # really two processes sharing out the file


@pytest.mark.parametrize("scope", ["module", "session"])
def test_control_a_shared_site_leaks_and_the_file_sees_it(leaky, scope):
    result = leaky.runpytest(*QUIET, "-v", "--keylock-site-scope", scope)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*test_a_validates_opens_and_lets_days_pass PASSED*"])
    result.stdout.fnmatch_lines(["*the lock's audit holds only this test's opening*", "*lock audit empty at start*"])
    # Reversed, A acts last and nothing fails: with a shared site outcomes depend on the order.
    leaky.runpytest(*QUIET, "--reverse-order", "--keylock-site-scope", scope).assert_outcomes(passed=3)


def test_the_scope_option_takes_only_pytest_scopes(pytester):
    pytester.makepyfile(test_any="def test_any(site):\n    pass\n")
    result = pytester.runpytest(*QUIET, "--keylock-site-scope", "package")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--keylock-site-scope: invalid choice: 'package'*"])
