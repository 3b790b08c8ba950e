# Fixtures for the access-server tests: a virtual clock and a small site on a file database.
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # server_testkit.py

from server_testkit import START_S, YEAR_S, Clock, Evidence  # noqa: E402

from keylock.host.server import AccessServer  # noqa: E402


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "site.db")


@pytest.fixture
def server(db_path, clock):
    with AccessServer.create(db_path, now_s=clock) as srv:
        yield srv


@pytest.fixture
def site(server):
    """Anna holds K1 (approved); locks L1, L2 in group depot, L3 alone."""
    server.add_holder("Anna Berg", "BB-1234-567890", START_S + 4 * YEAR_S)
    server.add_key("K1", "Anna Berg")
    server.add_lock("L1", group="depot")
    server.add_lock("L2", group="depot", kind="padlock")
    server.add_lock("L3")
    return server


@pytest.fixture
def evidence(server):
    """Genuine audit records and carried batches for this site (server_testkit.Evidence)."""
    return Evidence(server)
