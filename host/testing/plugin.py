"""pytest plugin: device fixtures, and every `*.scenario.yaml` file as a test.

Installed as the `keylock` pytest11 entry point.

Device fixtures, as pytest-embedded's: a test written against them runs unchanged against
the default emulated site, another `keylock emulate` process or boards.

  site             the devices under test (host/testing/site.py Site): `devices` (name -> endpoints),
                   `server` (the access-server database, for grant/validate), `keys`,
                   `locks`, `device(name)`; and, on the emulated site only, `open(key, lock)`
                   and `call(fn)` to act on the emulated world (else the test is skipped)
  key, lock        an open client (host/link/device.py Device: info(), status(), time(), audit(),
                   pair(phone), unpair(phone), grant(server, key), validate(server, key),
                   provision(...), raw(hex)) for the site's first key / lock
  keys, locks      every key / lock of the site, as a list of clients

Each resolves, in order: indirect parametrization (`key`/`lock`: a device name in the site or
a URL; `keys`/`locks`: a list of those; `site`: a dict of emulate options, e.g.
{"keys": 3, "locks": 2, "scenario": PATH, "runtime": "micropython"}), then the command
line (--keylock-key-port, --keylock-lock-port, --keylock-port), then the default: an emulated
site (two keys, one lock, granted and validated, as `keylock emulate`) served by a thread of
the test process on real endpoints. Clients reach it through --keylock-endpoint (keylock://
by default; socket or pty). A fixture whose role is among none of the given ports skips.
A failed test's report shows every frame its clients exchanged.

Isolation: by default every test gets a site of its own, so no test sees what another did to
the devices, the server or the clock, and outcomes do not depend on test order or on -n.
--keylock-site-scope module|session shares one site per module or per session (per xdist
worker): faster (an emulated default site takes about 0.14 s to build and stop, the median of
7 on a 2-core machine: 0.04 s to build, 0.1 s to stop), but then a test sees what earlier
tests did: a validated key's credential and clock, openings in the locks' audit, time
advanced. Boards given by port are never reset: only the emulated site can be made afresh.

Every option has the plugin's prefix, as pytest-embedded's services have theirs (--qemu-...,
--wokwi-...), so keylock installs beside pytest-embedded, which owns --port:

  --keylock-port URL        a device under test, its role asked with INFO (repeatable)
  --keylock-key-port URL    a key under test (repeatable)
  --keylock-lock-port URL   a lock under test (repeatable)
  --keylock-server DB       the access-server database of the devices given by port
  --keylock-endpoint url|socket|pty   how clients reach the emulated site's devices
  --keylock-site-scope function|module|session   how long one site lives (default function)
  --keylock-timeout-ms N, --keylock-retries N   the clients' transport settings

Scenario files: options

  --keylock-scenario-runtime cpython|micropython   overrides each file's `runtime:`
                                                   (default: the file's, else cpython)
  --keylock-scenario-engine module:function        the engine factory, called as
                                                   factory(runtime, scenario); default: the
                                                   KEYLOCK_SCENARIO_ENGINE environment
                                                   variable, else the emulator
                                                   (keylock.host.emulator.factory)

A malformed file is a collection error showing `FILE:LINE: reason`; a failed expectation
shows the step, its line, what was expected and what was seen, and the steps run before it.
"""

from typing import Literal, cast

import pytest

from ..emulator.factory import load_factory, make_engine
from ..errors import KeylockError
from ..link.device import Device, frame_line
from ..scenario import report
from ..scenario.model import RUNTIMES, ScenarioError
from ..scenario.parse import load
from ..scenario.runner import run
from .site import ENDPOINT_KINDS, Site

SUFFIX = ".scenario.yaml"
SiteScope = Literal["function", "module", "session"]
SITE_SCOPES: tuple[SiteScope, ...] = ("function", "module", "session")


def pytest_addoption(parser):
    group = parser.getgroup("keylock", "keylock devices (fixtures site, key, lock, keys, locks) and scenario files (*.scenario.yaml)")
    group.addoption(
        "--keylock-port",
        action="append",
        default=[],
        metavar="URL",
        help="a device under test (its role is asked); repeatable. Default: an emulated site",
    )
    group.addoption("--keylock-key-port", action="append", default=[], metavar="URL", help="a key under test; repeatable")
    group.addoption("--keylock-lock-port", action="append", default=[], metavar="URL", help="a lock under test; repeatable")
    group.addoption(
        "--keylock-server", default=None, metavar="DB", help="the access-server database of the devices given by port (for grant/validate)"
    )
    group.addoption(
        "--keylock-endpoint",
        choices=ENDPOINT_KINDS,
        default="url",
        help="how clients reach the emulated site's devices (default url: keylock://)",
    )
    group.addoption("--keylock-timeout-ms", type=int, default=1000, metavar="N", help="each answer's timeout (default 1000)")
    group.addoption("--keylock-retries", type=int, default=2, metavar="N", help="retries on silence or a damaged answer (default 2)")
    group.addoption(
        "--keylock-site-scope",
        choices=SITE_SCOPES,
        default="function",
        help="how long one site lives: function (default: a fresh site per test), module or session (shared: faster, "
        "but a test sees what earlier ones did to the devices, the server and the clock)",
    )
    group.addoption(
        "--keylock-scenario-runtime",
        choices=RUNTIMES,
        default=None,
        help="run scenario files on this runtime (default: each file's runtime:, else cpython)",
    )
    group.addoption(
        "--keylock-scenario-engine",
        default=None,
        metavar="MODULE:FUNCTION",
        help="engine factory for scenario files (default: $KEYLOCK_SCENARIO_ENGINE, else the emulator)",
    )


def pytest_collect_file(file_path, parent):
    if file_path.name.endswith(SUFFIX):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        try:
            scenario = load(self.path)
        except ScenarioError as exc:
            # CollectError is shown as its message alone: FILE:LINE: reason, no traceback.
            raise self.CollectError(str(exc)) from None
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioFailed(Exception):
    """A step's outcome did not meet its expectation."""

    def __init__(self, result):
        super().__init__(result.failed.problem)
        self.result = result


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, **kwargs):
        super().__init__(**kwargs)
        self.scenario = scenario
        # No fixtures, but as a Function's: pytest-embedded's pytest_runtest_call reads every
        # item's funcargs (for a `dut`), and would fail each scenario file without it.
        self.funcargs: dict = {}

    def runtest(self):
        runtime = self.config.getoption("keylock_scenario_runtime") or self.scenario.runtime
        spec = self.config.getoption("keylock_scenario_engine")
        engine = load_factory(spec)(runtime, self.scenario) if spec else make_engine(runtime, self.scenario)
        result = run(self.scenario, engine, runtime)
        self.user_properties.append(("summary", report.summary_json(result)))
        if not result.passed:
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ScenarioFailed):
            result = excinfo.value.result
            bad = result.failed
            lines = [
                f"{self.scenario.path}:{bad.step.line}: step {bad.step.index} ({bad.step.action}) failed",
                f"  expected: {report.expect_text(bad.expected)}",
                f"  seen:     {report.seen_text(bad)}",
                f"  {bad.problem}",
                "",
                f"steps run ({result.runtime}):",
            ]
            for step_report in result.steps:
                lines += report.step_lines(step_report)
            return "\n".join(lines)
        if isinstance(excinfo.value, KeylockError):  # e.g. the emulator is not built yet
            return f"{self.scenario.path}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"scenario: {self.name}"


# --- device fixtures ---------------------------------------------------------------------

CLIENTS = pytest.StashKey[list]()
MAX_REPORTED_FRAMES = 60


def _given_ports(config) -> bool:
    return bool(config.getoption("keylock_port") or config.getoption("keylock_key_port") or config.getoption("keylock_lock_port"))


def _site_scope(fixture_name: str, config: pytest.Config) -> SiteScope:
    """--keylock-site-scope (one of SITE_SCOPES, argparse checks): pytest asks once, when it
    collects the fixture."""
    return cast(SiteScope, config.getoption("keylock_site_scope"))


@pytest.fixture(scope=_site_scope)
def site(request):
    """The devices under test: a site of its own for each test unless --keylock-site-scope
    shares one; see the module's docstring."""
    config = request.config
    timeout_ms, retries = config.getoption("keylock_timeout_ms"), config.getoption("keylock_retries")
    options = getattr(request, "param", None)
    if options is None and _given_ports(config):
        the_site = Site.from_ports(
            config.getoption("keylock_port"),
            config.getoption("keylock_key_port"),
            config.getoption("keylock_lock_port"),
            server=config.getoption("keylock_server"),
            timeout_ms=timeout_ms,
            retries=retries,
        )
    else:
        the_site = Site.emulate(via=config.getoption("keylock_endpoint"), **(options or {}))
        the_site.timeout_ms, the_site.retries = timeout_ms, retries
    the_site.not_emulated = pytest.skip  # site.open()/call() against boards: skip, not fail
    try:
        yield the_site
    finally:
        the_site.close()


def _clients(request, role: str, one: bool):
    site = request.getfixturevalue("site")
    param = getattr(request, "param", None)
    if param is not None:
        wanted = [param] if isinstance(param, str) else list(param)
    else:
        wanted = site.keys if role == "key" else site.locks
        if not wanted:
            pytest.skip(f"no {role} among the devices under test ({', '.join(site.devices) or 'none'})")
        if one:
            wanted = wanted[:1]
    clients = []
    registered = request.node.stash.setdefault(CLIENTS, [])
    try:
        for name in wanted:
            if "://" in name or name.startswith("/"):
                client = Device(name, timeout_ms=site.timeout_ms, retries=site.retries).open()
            else:
                client = site.device(name)
            clients.append(client)
            registered.append(client)
    except BaseException:
        for client in clients:
            client.close()
        raise
    return clients


@pytest.fixture
def key(request):
    """An open client for a key: indirect param (name or URL), else the site's first key."""
    (client,) = _clients(request, "key", one=True)
    yield client
    client.close()


@pytest.fixture
def lock(request):
    """An open client for a lock: indirect param (name or URL), else the site's first lock."""
    (client,) = _clients(request, "lock", one=True)
    yield client
    client.close()


@pytest.fixture
def keys(request):
    """Open clients for keys: indirect param (names or URLs), else all the site's keys."""
    clients = _clients(request, "key", one=False)
    yield clients
    for client in clients:
        client.close()


@pytest.fixture
def locks(request):
    """Open clients for locks: indirect param (names or URLs), else all the site's locks."""
    clients = _clients(request, "lock", one=False)
    yield clients
    for client in clients:
        client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    test_report = yield
    if test_report.failed:
        for client in item.stash.get(CLIENTS, []):
            frames = client.exchanged
            lines = [frame_line(direction, raw) for direction, raw in frames[-MAX_REPORTED_FRAMES:]]
            if len(frames) > MAX_REPORTED_FRAMES:
                lines.insert(0, f"... {len(frames) - MAX_REPORTED_FRAMES} earlier frames left out")
            test_report.sections.append((f"frames exchanged with {client.name} ({client.url})", "\n".join(lines) or "(none)"))
    return test_report
