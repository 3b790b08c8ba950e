# The database: settings that make it crash-safe, the schema version and its migration,
# and opening and creating sites.
import sqlite3

import pytest
from server_testkit import START_S, YEAR_S

from keylock.host.server import AccessServer, db


def test_connection_settings(db_path):
    conn = db.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    conn.close()


def test_a_new_database_is_at_the_current_schema_version(server, db_path):
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(db.SCHEMA_VERSION,)]
    conn.close()


def test_migrate_from_nothing_and_again_is_a_no_op(tmp_path):
    conn = db.connect(str(tmp_path / "m.db"))
    assert db.schema_version(conn) == 0
    assert db.migrate(conn) == db.SCHEMA_VERSION
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    assert db.migrate(conn) == db.SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == tables
    conn.close()


def test_a_newer_schema_is_refused(server, db_path, clock):
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE schema_version SET version = ?", (db.SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match="newer"):
        AccessServer.open(db_path, now_s=clock)


def test_foreign_keys_are_enforced(site, db_path):
    conn = db.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO grants (key_id, lock_id, days, from_min, to_min) VALUES (1001, 999, 1, 0, 60)")
    conn.close()


def test_everything_survives_reopening(site, db_path, clock):
    site.grant("K1", locks=["L1"])
    first = site.provision_lock("L1")
    key = site.provision_key("K1")
    site.close()
    with AccessServer.open(db_path, now_s=clock) as again:
        second = again.provision_lock("L1")
        assert second["compartment_secret"] == first["compartment_secret"]  # the master secret survived
        assert second["epoch"] == first["epoch"] + 1 and second["secret"] != first["secret"]  # so did the epoch
        assert again.provision_key("K1") == key
        assert again.validate("K1").credential["rights"][0]["target"] == 101
        assert again.key_id("K1") == 1001


def test_the_time_zone_is_the_site_own(tmp_path, clock):
    path = str(tmp_path / "se.db")
    AccessServer.create(path, now_s=clock, timezone="Europe/Stockholm").close()
    with AccessServer.open(path, now_s=clock) as server:
        assert server.timezone == "Europe/Stockholm"


def test_create_refuses_an_existing_site_and_open_a_missing_one(server, db_path, tmp_path, clock):
    with pytest.raises(ValueError, match="already holds a site"):
        AccessServer.create(db_path, now_s=clock)
    with pytest.raises(FileNotFoundError):
        AccessServer.open(str(tmp_path / "missing.db"), now_s=clock)
    assert not (tmp_path / "missing.db").exists()


def test_each_site_has_its_own_secret(tmp_path, clock):
    secrets = set()
    for name in ("a.db", "b.db"):
        with AccessServer.create(str(tmp_path / name), now_s=clock) as server:
            server.add_holder("H", "C", START_S + YEAR_S)
            server.add_key("K", "H")
            server.add_lock("L")
            p = server.provision_lock("L")
            secrets |= {p["secret"], p["compartment_secret"], server.provision_key("K")["secret"]}
    assert len(secrets) == 6  # same names and ids on both sites, no secret in common


def test_an_in_memory_site_works_for_quick_tests(clock):
    with AccessServer.create(":memory:", now_s=clock) as server:
        server.add_holder("H", "C", START_S + YEAR_S)
        server.add_key("K", "H")
        assert server.validate("K").server_time == START_S


def test_the_clock_is_the_callers(site, clock):
    clock.now_s = START_S + 123
    assert site.validate("K1").credential["issued_at"] == START_S + 123
