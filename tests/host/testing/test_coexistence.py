"""keylock's pytest plugin installed beside pytest-embedded (issue 12): one pytest session
loads both, each plugin's options and fixtures work, and keylock's scenario files still run."""

import pytest

pytest_plugins = ["pytester"]

QUIET = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-p", "no:randomly")

MODULE = """
import re

from keylock.protocol.codes import MsgType, Role
from keylock.protocol.frame import decode_frame, encode_frame

SEQ = 7


def test_both_plugins_fixtures_in_one_test(request, dut, key):
    '''pytest-embedded's `dut`, on its serial service, is attached by pytest-embedded's own
    --port to lock L1 of a separate `keylock emulate`; keylock's `key` is K1 of the default
    site keylock's plugin emulates in this process (no --keylock-port given). The dut sends
    an INFO request as raw bytes and reads the lock's framed answer through its pexpect
    buffer; the key answers keylock's client. So --port is pytest-embedded's alone, and
    both plugins' fixtures work side by side.'''
    plugins = request.config.pluginmanager
    assert plugins.hasplugin("keylock") and plugins.hasplugin("pytest_embedded")

    assert key.info()["role"] == "key"
    assert key.url.startswith("keylock://"), "keylock's own default site, not pytest-embedded's --port"

    dut.write(encode_frame(MsgType.INFO_REQUEST, {}, SEQ))
    length = int.from_bytes(dut.expect(re.compile(rb"\\xa5([\\s\\S]{2})"), timeout=10).group(1), "little")
    rest = dut.expect(re.compile(rb"[\\s\\S]{%d}" % (length + 4)), timeout=10).group(0)  # body and CRC
    answer = decode_frame(b"\\xa5" + length.to_bytes(2, "little") + rest)
    assert (answer.type, answer.seq) == (MsgType.INFO, SEQ)
    print("DUT SAW", Role(answer.fields["role"]).name.lower(), answer.fields["device_id"])
"""

SCENARIO = """\
name: opens once beside pytest-embedded
site:
  keys: [{id: K1}]
  locks: [{id: L1}]
steps:
  - grant: {key: K1, locks: [L1]}
  - validate: {key: K1}
  - open: {key: K1, lock: L1}
    expect: granted
"""


@pytest.fixture
def both(pytester):
    pytester.makepyfile(test_both=MODULE)
    (pytester.path / "opens.scenario.yaml").write_text(SCENARIO)
    return pytester


def test_pytest_starts_with_both_plugins_and_both_fixtures_work(both, emulate):
    """The whole acceptance in one session. Before the options were namespaced, pytest refused
    to start (`option dest 'port' already used`); before ScenarioItem had `funcargs`,
    pytest-embedded's pytest_runtest_call failed every scenario file."""
    lock = emulate["devices"]["L1"]
    # A process of its own, as a CI job's pytest: both plugins come from their entry points.
    result = both.runpytest_subprocess(*QUIET, "-s", "-v", "--embedded-services", "serial", "--port", lock["socket"])
    assert "already used" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["plugins:*keylock-*"])
    result.stdout.fnmatch_lines(["plugins:*embedded-*"])
    result.stdout.fnmatch_lines([f"*DUT SAW lock {lock['id']}*"])
    result.stdout.fnmatch_lines(["*opens.scenario.yaml::opens once beside pytest-embedded PASSED*"])


@pytest.mark.parametrize("old", ["--key-port", "--lock-port", "--scenario-runtime", "--scenario-engine"])
def test_the_old_option_names_are_gone(pytester, old):
    """Renamed, not aliased: an old name in a CI script is an error, not silently ignored."""
    pytester.makepyfile(test_any="def test_any():\n    pass\n")
    result = pytester.runpytest(*QUIET, old, "x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*unrecognized arguments: {old}*"])
