"""The access server's SQLite database: connection settings, schema and its migrations.

Crash safety comes from SQLite itself, used the careful way: the write-ahead log, fsync on
every commit (synchronous=FULL, so a commit the caller saw survives power loss, not only a
process kill), and each public mutating call wrapped in one BEGIN IMMEDIATE ... COMMIT, so a
crash at any point leaves either all of an operation or none of it. A storage failure (a
full disk, an I/O error, the write lock not to be had) is rolled back the same way and
raised as StorageError, here where it is detected: the server's refusals (records.ServerError)
and its bad-input errors (ValueError) are another matter.
"""

import sqlite3
from contextlib import contextmanager

from ..errors import KeylockError

# Each migration takes the schema from version i to i + 1. Statements are run one by one
# inside the migration's transaction: executescript() would commit behind our back.
MIGRATIONS = [
    [
        """CREATE TABLE site (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            secret BLOB NOT NULL CHECK (length(secret) = 32),
            timezone TEXT NOT NULL,
            created_at_s INTEGER NOT NULL,
            blocklist_version INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE holders (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            id06 TEXT NOT NULL UNIQUE,
            id06_expires_s INTEGER NOT NULL,
            blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)))""",
        """CREATE TABLE keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            holder_id INTEGER NOT NULL REFERENCES holders(id),
            state TEXT NOT NULL CHECK (state IN ('issued', 'receipt_signed', 'approved')),
            not_before_s INTEGER NOT NULL,
            not_after_s INTEGER NOT NULL,
            validated_at_s INTEGER,
            valid_until_s INTEGER)""",
        "CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        """CREATE TABLE locks (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('cylinder', 'padlock')))""",
        """CREATE TABLE lock_groups (
            lock_id INTEGER NOT NULL REFERENCES locks(id),
            group_id INTEGER NOT NULL REFERENCES groups(id),
            PRIMARY KEY (lock_id, group_id))""",
        "CREATE TABLE phones (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        # A grant names a lock or a group (two columns, so both have foreign keys) and a
        # weekly window in the site's local time; it is converted to UTC at each issue.
        """CREATE TABLE grants (
            id INTEGER PRIMARY KEY,
            key_id INTEGER NOT NULL REFERENCES keys(id),
            lock_id INTEGER REFERENCES locks(id),
            group_id INTEGER REFERENCES groups(id),
            days INTEGER NOT NULL CHECK (days BETWEEN 1 AND 127),
            from_min INTEGER NOT NULL CHECK (from_min BETWEEN 0 AND 1439),
            to_min INTEGER NOT NULL CHECK (to_min BETWEEN 1 AND 1440),
            CHECK ((lock_id IS NULL) <> (group_id IS NULL)))""",
        # NULLs are distinct in UNIQUE constraints: index the target as one expression.
        """CREATE UNIQUE INDEX grants_once ON grants (
            key_id, coalesce(lock_id, -group_id), days, from_min, to_min)""",
        "CREATE TABLE blocklist (key_id INTEGER PRIMARY KEY REFERENCES keys(id))",
        # Audit events are evidence: no foreign keys, so an event naming a device the site
        # no longer (or never) knew is kept, not refused. A lock's seq identifies an event.
        """CREATE TABLE audit_events (
            lock_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            time_s INTEGER NOT NULL,
            key_id INTEGER NOT NULL,
            outcome INTEGER NOT NULL,
            reason INTEGER NOT NULL,
            uploaded_at_s INTEGER NOT NULL,
            PRIMARY KEY (lock_id, seq))""",
        "CREATE INDEX audit_by_key ON audit_events (key_id)",
        """CREATE TABLE audit_retrievals (
            id INTEGER PRIMARY KEY,
            time_s INTEGER NOT NULL,
            by TEXT NOT NULL CHECK (by <> ''),
            reason TEXT NOT NULL CHECK (reason <> ''),
            lock_id INTEGER,
            key_id INTEGER,
            last INTEGER,
            events INTEGER NOT NULL)""",
        """CREATE TABLE battery_readings (
            id INTEGER PRIMARY KEY,
            key_id INTEGER NOT NULL REFERENCES keys(id),
            time_s INTEGER NOT NULL,
            soc REAL NOT NULL CHECK (soc BETWEEN 0 AND 1))""",
        "CREATE INDEX battery_by_key ON battery_readings (key_id, time_s)",
    ],
    # An emulated site's virtual clock, so every client of its database (the CLI, the test
    # fixtures) runs on the site's time and not the wall clock: virtual_s at wall time wall_s
    # (UNIX seconds), running at `speed`. No row: a real site, on the wall clock.
    [
        """CREATE TABLE emulated_clock (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            virtual_s REAL NOT NULL,
            wall_s REAL NOT NULL,
            speed REAL NOT NULL CHECK (speed > 0))""",
    ],
    # Evidence (issue 11): a lock's records carry its epoch (its provisioning count), a count
    # and its MAC; (lock, epoch, seq) names an event. Refused uploads are kept apart. A key's
    # carried events are uploaded up to a position the server signs back (VALIDATE).
    [
        "ALTER TABLE locks ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE keys ADD COLUMN carried_uploaded INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE audit_records (
            lock_id INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            time_s INTEGER NOT NULL,
            key_id INTEGER NOT NULL,
            outcome INTEGER NOT NULL,
            reason INTEGER NOT NULL,
            count INTEGER NOT NULL DEFAULT 1,
            mac BLOB,
            uploaded_at_s INTEGER NOT NULL,
            PRIMARY KEY (lock_id, epoch, seq))""",
        # Events from before: epoch 0 and no MAC (they were never verifiable).
        """INSERT INTO audit_records (lock_id, epoch, seq, time_s, key_id, outcome, reason, uploaded_at_s)
           SELECT lock_id, 0, seq, time_s, key_id, outcome, reason, uploaded_at_s FROM audit_events""",
        "DROP TABLE audit_events",
        "ALTER TABLE audit_records RENAME TO audit_events",
        "CREATE INDEX audit_by_key ON audit_events (key_id)",
        """CREATE TABLE audit_rejections (
            id INTEGER PRIMARY KEY,
            uploaded_at_s INTEGER NOT NULL,
            carrier_key_id INTEGER NOT NULL,
            lock_id INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            reason TEXT NOT NULL CHECK (reason IN ('bad_mac', 'unknown_lock', 'unknown_epoch', 'conflict', 'bad_batch')),
            record BLOB NOT NULL)""",
    ],
    # A manual emulated clock (issue 12, `keylock emulate --clock manual`) stands still between
    # the emulator's records: speed 0. SQLite cannot change a CHECK in place: rebuild the table.
    [
        """CREATE TABLE emulated_clock_new (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            virtual_s REAL NOT NULL,
            wall_s REAL NOT NULL,
            speed REAL NOT NULL CHECK (speed >= 0))""",
        "INSERT INTO emulated_clock_new SELECT id, virtual_s, wall_s, speed FROM emulated_clock",
        "DROP TABLE emulated_clock",
        "ALTER TABLE emulated_clock_new RENAME TO emulated_clock",
    ],
    # A warning that knows the weather (issue 14): the site's climate (climate.Climate as JSON;
    # NULL: none given), each key's cell model, the temperature a key reported with its battery
    # reading (NULL: not reported), and the threshold last signed into its credential.
    [
        "ALTER TABLE site ADD COLUMN climate TEXT",
        "ALTER TABLE keys ADD COLUMN battery TEXT NOT NULL DEFAULT 'CR2032'",
        "ALTER TABLE keys ADD COLUMN warn_permille INTEGER",
        "ALTER TABLE battery_readings ADD COLUMN temperature_C REAL",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(KeylockError):
    """The database could not do what a call asked (the disk is full, an I/O error, the file
    is locked, read-only or damaged). The call's transaction was rolled back: nothing of it
    was written, and the server is usable again once the cause is fixed. Not a
    records.ServerError, which is the server refusing a key (its `.code` one of
    VALIDATION_REFUSALS, which callers such as the emulator report as the key's outcome);
    this is the server failing. A KeylockError, so the CLI prints it and exits 1.
    `.sqlite_error` is SQLite's name for the error, e.g. "SQLITE_FULL"."""

    def __init__(self, message, sqlite_error=None):
        super().__init__(message)
        self.sqlite_error = sqlite_error


# SQLite's errors that say the storage failed, not that keylock's SQL is wrong, by primary
# result code (extended codes such as SQLITE_IOERR_WRITE share their primary's text). They
# become StorageError; any other sqlite3 error (SQLITE_ERROR, SQLITE_CONSTRAINT, misuse) is a
# bug in keylock and is left as it is, after the same rollback.
STORAGE_ERRORS = {
    "SQLITE_FULL": ("the database or the disk holding it is full", "free space (or raise the size limit) and try again"),
    "SQLITE_IOERR": ("the disk reported an I/O error", "check the disk"),
    "SQLITE_BUSY": ("another process held the write lock past the busy timeout", "try again"),
    "SQLITE_LOCKED": ("the database is locked by another statement on this connection", "try again"),
    "SQLITE_READONLY": ("the database is read-only", "check the file's permissions and file system"),
    "SQLITE_CANTOPEN": ("the database file cannot be opened", "check the path and permissions"),
    "SQLITE_PERM": ("access to the database file was denied", "check the file's permissions"),
    "SQLITE_CORRUPT": ("the database file is damaged", "restore it from a backup"),
    "SQLITE_NOTADB": ("the file is not an SQLite database", "check the path"),
    "SQLITE_NOMEM": ("SQLite ran out of memory", "try again"),
    "SQLITE_NOLFS": ("the system does not support a database this large", "move it"),
    "SQLITE_PROTOCOL": ("the database's locking protocol failed", "try again"),
}


def _primary_name(exc):
    name = getattr(exc, "sqlite_errorname", None) or ""
    return "_".join(name.split("_")[:2])


def storage_error(exc, context=""):
    """A StorageError for `exc` if it is a storage failure (STORAGE_ERRORS), else None."""
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
        return None
    primary = _primary_name(exc)
    if primary not in STORAGE_ERRORS:
        return None
    name = getattr(exc, "sqlite_errorname", primary)
    problem, remedy = STORAGE_ERRORS[primary]
    return StorageError(f"access-server database: {problem} ({name}: {exc}){context}; {remedy}", name)


@contextmanager
def storage_errors(context=""):
    """Raise a storage failure inside as StorageError (from the sqlite3 error)."""
    try:
        yield
    except sqlite3.Error as exc:
        error = storage_error(exc, context)
        if error is None:
            raise
        raise error from exc


def connect(path):
    """A connection with the settings every use needs. Transactions are explicit
    (isolation_level=None): the sqlite3 module's implicit ones would not be IMMEDIATE.
    A file that cannot be opened as a database is a StorageError."""
    with storage_errors():
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")  # persistent in the file; ':memory:' stays 'memory'
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA busy_timeout = 5000")  # wait for another writer instead of failing
        except BaseException:
            conn.close()
            raise
    return conn


_ROLLED_BACK = "; the operation was rolled back, nothing of it was written"


@contextmanager
def transaction(conn):
    """BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any exception, the COMMIT's own included.
    IMMEDIATE takes the write lock up front, so two writers cannot both read and then
    collide at their first write. A storage failure (a full disk: SQLITE_FULL, an I/O error,
    the lock not to be had) at any statement or at the commit is raised as StorageError,
    after the rollback, so the caller sees one clear error and the database all of the call
    or none of it."""
    with storage_errors("; nothing was written"):
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as failed:
                # Not even the rollback got through (the disk went away). Nothing was
                # committed; SQLite discards the uncommitted changes when the file is next opened.
                raise StorageError(
                    f"access-server database: rolling back after {exc!r} failed too ({failed}); close the server and open it again",
                    getattr(failed, "sqlite_errorname", None),
                ) from exc
        if isinstance(exc, sqlite3.Error):
            error = storage_error(exc, _ROLLED_BACK)
            if error is not None:
                raise error from exc
        raise


def schema_version(conn):
    has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not has_table:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return row[0] if row else 0


def migrate(conn):
    """Bring the schema to SCHEMA_VERSION, one transaction per step, and return the version.
    A database written by a newer keylock is refused rather than guessed at."""
    while True:
        with transaction(conn):
            version = schema_version(conn)
            if version > SCHEMA_VERSION:
                raise ValueError(f"database schema version {version} is newer than this keylock ({SCHEMA_VERSION})")
            if version == SCHEMA_VERSION:
                return version
            if version == 0:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO schema_version VALUES (0)")
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = ?", (version + 1,))
