"""The access server's SQLite database: connection settings, schema and its migrations.

Crash safety comes from SQLite itself, used the careful way: the write-ahead log, fsync on
every commit (synchronous=FULL, so a commit the caller saw survives power loss, not only a
process kill), and each public mutating call wrapped in one BEGIN IMMEDIATE ... COMMIT, so a
crash at any point leaves either all of an operation or none of it.
"""

import sqlite3
from contextlib import contextmanager

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
]
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path):
    """A connection with the settings every use needs. Transactions are explicit
    (isolation_level=None): the sqlite3 module's implicit ones would not be IMMEDIATE."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")  # persistent in the file; ':memory:' stays 'memory'
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 5000")  # wait for another writer instead of failing
    return conn


@contextmanager
def transaction(conn):
    """BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any exception. IMMEDIATE takes the write
    lock up front, so two writers cannot both read and then collide at their first write."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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
