"""One clock: a command against an emulated site's server runs on the site's virtual time,
as the emulator records it in the site's database, not on the wall clock. On the code before
(df81519) a key validated through the CLI or a fixture jumped to the wall clock, 11 months
past the emulated site's January, and pushed the locks it then opened ahead."""

import time

from keylock.host.server import AccessServer
from keylock.host.testing.site import Site

DAY_S = 86400


def test_validate_through_the_link_sets_the_key_to_the_sites_virtual_time():
    site = Site.emulate(keys=1, locks=1)
    try:
        virtual_s = site.call(lambda s: s.now_s)
        assert abs(virtual_s - time.time()) > 30 * DAY_S  # the emulated site is far from today
        site.call(lambda s: s.advance(3 * DAY_S))  # a fixture moves the site's time
        with site.device("K1") as key:
            got = key.validate(site.server)
            assert abs(got["server_time"] - (virtual_s + 3 * DAY_S)) < 120
            assert abs(key.time()["unix_s"] - (virtual_s + 3 * DAY_S)) < 120
        assert site.open("K1", "L1")["outcome"] == "granted"
        assert site.call(lambda s: s.lock_status("L1")["highest_time"]) < virtual_s + 4 * DAY_S  # not pushed to today
    finally:
        site.close()


def test_a_real_sites_server_runs_on_the_wall_clock(tmp_path):
    path = tmp_path / "site.db"
    AccessServer.create(path, now_s=time.time).close()
    server = AccessServer.open(path)
    try:
        assert abs(server._now_s() - time.time()) < 5
        server.record_emulated_clock(1_767_600_000, time.time(), 2.0)  # an emulator takes it over
        assert abs(server._now_s() - 1_767_600_000) < 10
    finally:
        server.close()
