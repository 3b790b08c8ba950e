# A full disk (and any other storage failure) inside a server call is one clear StorageError,
# with the call rolled back: the database is exactly as before, and usable again once there is
# room. "Full" for real, without filling a disk: SQLite's PRAGMA max_page_count on the
# server's connection caps the file at its current size, so the next page SQLite needs fails
# with SQLITE_FULL ("database or disk is full"), as it would on a full disk.
import sqlite3

import pytest
from server_testkit import START_S, YEAR_S, dump

from keylock.host.errors import KeylockError
from keylock.host.server import AccessServer, ServerError, StorageError, db


def cap_at_current_size(server):
    (pages,) = server._conn.execute("PRAGMA page_count").fetchone()
    (limit,) = server._conn.execute(f"PRAGMA max_page_count = {pages}").fetchone()
    assert limit == pages
    return pages


def lift_cap(server):
    server._conn.execute("PRAGMA max_page_count = 1073741823")


def upload(evidence, seqs):
    """What K1 carries: genuine events of L1's (provisioned before the disk fills up)."""
    return evidence.upload("K1", [evidence.record("L1", seq) for seq in seqs])


def assert_is_full_error(exc):
    assert isinstance(exc, StorageError) and isinstance(exc, KeylockError)
    assert not isinstance(exc, (ServerError, ValueError, sqlite3.Error))
    assert exc.sqlite_error == "SQLITE_FULL"
    assert isinstance(exc.__cause__, sqlite3.OperationalError) and "database or disk is full" in str(exc.__cause__)
    message = str(exc)
    assert "full" in message and "rolled back" in message and "\n" not in message


def test_a_full_disk_mid_validation_leaves_nothing_half_written(site, evidence, db_path):
    site.grant("K1", groups=["depot"])
    carried = upload(evidence, range(1, 501))
    before = dump(db_path)
    cap_at_current_size(site)
    # One call, many writes: 500 audit rows (the first fit in free space, later ones need new
    # pages), a battery reading and the key's validation time.
    with pytest.raises(StorageError) as info:
        site.validate("K1", audit=carried, soc=0.1)
    assert_is_full_error(info.value)
    assert not site._conn.in_transaction
    assert dump(db_path) == before
    assert site.key_info("K1").validated_at_s is None
    assert site.battery_report() == []

    lift_cap(site)  # room again: the same call now goes through, completely
    validation = site.validate("K1", audit=carried, soc=0.1)
    assert (validation.audit_stored, validation.audit_rejected, validation.uploaded_to) == (500, 0, 500)
    assert site.key_info("K1").validated_at_s == START_S
    assert site.battery_report() == ["K1"]
    assert len(site.audit(lock="L1", reason="after the disk was full", by="pytest")) == 500
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


# Every kind of write, repeated with fresh names until the capped file has no room left
# (`e`: the site's Evidence, L1 provisioned before the cap).
OPERATIONS = {
    "add_holder": lambda s, e, i: s.add_holder(f"Holder {i}", f"CARD-{i}", START_S + YEAR_S),
    "add_key": lambda s, e, i: s.add_key(f"Key {i}", "Anna Berg"),
    "add_lock with new groups": lambda s, e, i: s.add_lock(f"Lock {i}", group=[f"Group {i}a", f"Group {i}b"]),
    "add_phone": lambda s, e, i: s.add_phone(f"Phone {i}"),
    "battery_reading": lambda s, e, i: s.battery_reading("K1", 0.5),
    "audit retrieval": lambda s, e, i: s.audit(reason=f"review {i}", by="pytest"),
    "validate with upload": lambda s, e, i: s.validate("K1", audit=upload(e, range(100 * i, 100 * i + 100)), soc=0.9),
    "validate with forged upload": lambda s, e, i: s.validate(
        "K1", audit=e.upload("K1", [e.record("L1", 10 * i + j, secret=bytes(32)) for j in range(10)]), soc=0.9
    ),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_write_on_a_full_disk_is_a_storage_error_and_changes_nothing(site, evidence, db_path, operation):
    do = OPERATIONS[operation]
    evidence.lock("L1")
    cap_at_current_size(site)
    for i in range(5000):
        before = dump(db_path)
        try:
            do(site, evidence, i)
        except StorageError as exc:
            assert_is_full_error(exc)
            break
    else:
        pytest.fail(f"{operation} never filled the capped database")
    assert i > 0  # some calls fitted into free space before the cap bit
    assert dump(db_path) == before
    lift_cap(site)
    do(site, evidence, i)  # the refused call, again, now with room
    assert dump(db_path) != before


def test_a_lock_held_by_another_writer_is_a_storage_error(site, db_path):
    site._conn.execute("PRAGMA busy_timeout = 0")  # do not wait the server's 5 s for the lock
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        before = dump(db_path)
        with pytest.raises(StorageError) as info:
            site.add_phone("P9")
        assert info.value.sqlite_error.startswith("SQLITE_BUSY") and "try again" in str(info.value)
        assert not site._conn.in_transaction
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert dump(db_path) == before
    assert site.add_phone("P9")  # the lock is free again


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path, clock):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not an SQLite file, just some bytes " * 200)
    with pytest.raises(StorageError) as info:
        AccessServer.open(str(path), now_s=clock)
    assert info.value.sqlite_error == "SQLITE_NOTADB"


class CommitFails:
    """A connection whose COMMIT (and, if asked, ROLLBACK) fails with a storage error: SQLite
    can report a full disk or an I/O error at the commit itself, when the log is written."""

    def __init__(self, conn, error, rollback_fails=False):
        self._conn, self._error, self._rollback_fails = conn, error, rollback_fails

    @property
    def in_transaction(self):
        return self._conn.in_transaction

    def execute(self, sql, params=()):
        if sql == "COMMIT" or (sql == "ROLLBACK" and self._rollback_fails):
            raise self._error
        return self._conn.execute(sql, params)


def sqlite_error(cls, message, name):
    exc = cls(message)
    exc.sqlite_errorname = name
    return exc


@pytest.fixture
def conn(tmp_path):
    conn = db.connect(str(tmp_path / "t.db"))
    conn.execute("CREATE TABLE t (x INTEGER)")
    yield conn
    conn.close()


def test_a_failed_commit_is_rolled_back(conn):
    full = sqlite_error(sqlite3.OperationalError, "database or disk is full", "SQLITE_FULL")
    with pytest.raises(StorageError, match="rolled back") as info:
        with db.transaction(CommitFails(conn, full)):
            conn.execute("INSERT INTO t VALUES (1)")
    assert info.value.__cause__ is full
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with db.transaction(conn):
        conn.execute("INSERT INTO t VALUES (2)")
    assert conn.execute("SELECT x FROM t").fetchall() == [(2,)]


def test_a_failed_rollback_says_to_reopen(conn):
    ioerr = sqlite_error(sqlite3.OperationalError, "disk I/O error", "SQLITE_IOERR_WRITE")
    with pytest.raises(StorageError, match="rolling back .* failed too.*open it again"):
        with db.transaction(CommitFails(conn, ioerr, rollback_fails=True)):
            conn.execute("INSERT INTO t VALUES (1)")
    conn.execute("ROLLBACK")  # what reopening does
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_an_extended_error_code_is_named_with_its_primary_text(conn):
    ioerr = sqlite_error(sqlite3.OperationalError, "disk I/O error", "SQLITE_IOERR_FSYNC")
    with pytest.raises(StorageError, match=r"I/O error \(SQLITE_IOERR_FSYNC: disk I/O error\)") as info:
        with db.transaction(CommitFails(conn, ioerr)):
            conn.execute("INSERT INTO t VALUES (1)")
    assert info.value.sqlite_error == "SQLITE_IOERR_FSYNC"


@pytest.mark.parametrize(
    "sql, error",
    [
        ("SELECT * FROM no_such_table", sqlite3.OperationalError),  # SQLITE_ERROR: keylock's bug
        ("INSERT INTO t VALUES (1, 2)", sqlite3.OperationalError),
    ],
)
def test_errors_that_are_not_storage_failures_stay_as_they_are_after_the_rollback(conn, sql, error):
    with pytest.raises(error) as info:
        with db.transaction(conn):
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute(sql)
    assert not isinstance(info.value, StorageError)
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_an_integrity_error_stays_an_integrity_error(conn):
    conn.execute("CREATE TABLE u (x INTEGER PRIMARY KEY)")
    with pytest.raises(sqlite3.IntegrityError):
        with db.transaction(conn):
            conn.execute("INSERT INTO u VALUES (1)")
            conn.execute("INSERT INTO u VALUES (1)")
    assert conn.execute("SELECT count(*) FROM u").fetchone() == (0,)
