"""The tester commands' world: one emulated site served on real endpoints for the session,
with an opening already done (so locks and keys have audit events) and one unprovisioned key
per endpoint kind (for `provision`)."""

import pytest
from keylock.host.client import ENDPOINT_KINDS, Site
from keylock.host.emulator.site import KeyState
from keylock.hw_models import battery_by_name

VIAS = [pytest.param(kind, id=kind) for kind in ("pty", "socket", "url")]
assert {v.values[0] for v in VIAS} == set(ENDPOINT_KINDS)


def blank_key(name):
    return f"new-{name}"


def build(site):
    site.open("K1", "L1")  # K1 opens L1: L1 records it, K1 carries it
    for kind in ENDPOINT_KINDS:  # known to the server, never provisioned
        site.server.add_key(blank_key(kind), "Holder 1")
        site.devices.add(blank_key(kind), "key")
        site.keys[blank_key(kind)] = KeyState(blank_key(kind), battery_by_name("CR2032"), 1.0, 20.0)


@pytest.fixture(scope="session")
def served():
    site = Site.emulate(keys=2, locks=1, build=build)
    yield site
    site.close()


@pytest.fixture(params=VIAS)
def via(request):
    return request.param


class _NoReconnectPause:
    @staticmethod
    def sleep(_seconds):
        pass


@pytest.fixture(autouse=True)
def _quick_socket_close(monkeypatch):
    # pyserial's socket:// (and so keylock://) sleeps 0.3 s after every close "in case of quick
    # reconnects"; the emulated endpoints need no such pause, and these tests close hundreds.
    from serial.urlhandler import protocol_socket

    monkeypatch.setattr(protocol_socket, "time", _NoReconnectPause)
