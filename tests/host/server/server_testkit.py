# Shared by the access-server tests (conftest.py puts this folder on sys.path): the start of
# virtual time, a clock the server reads, and genuine audit evidence as a lock and a key make it.
import sqlite3
from datetime import UTC, datetime

from keylock.firmware import audit, signed
from keylock.host.server import signing
from keylock.protocol.codes import Denial, Outcome
from keylock.protocol.messages import MAX_AUDIT_BATCH

START_S = int(datetime(2026, 1, 5, 8, 0, tzinfo=UTC).timestamp())  # a Monday, as in SCENARIOS.md
DAY_S = 86400
YEAR_S = 365 * DAY_S


class Clock:
    """The emulator's virtual clock, as the server sees it: a callable of UNIX seconds."""

    def __init__(self, now_s=START_S):
        self.now_s = now_s

    def __call__(self):
        return self.now_s

    def advance(self, seconds):
        self.now_s += seconds


def lock_admits(credential, lock_id, group_ids, t_s):
    """How a lock reads a credential's rights at UTC time t_s: a right names this lock or one
    of its groups, its day bit is set for t_s's UTC weekday, and from_min <= minute < to_min."""
    weekday = datetime.fromtimestamp(t_s, UTC).weekday()
    minute = (t_s % 86400) // 60
    for r in credential["rights"]:
        names_me = r["target"] == lock_id if r["kind"] == 0 else r["target"] in group_ids
        if names_me and r["days"] >> weekday & 1 and r["from_min"] <= minute < r["to_min"]:
            return True
    return False


def dump(db_path):
    """Every row of the database as SQL, read on a second connection as another process would:
    equal dumps mean nothing changed."""
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# --- audit evidence ---------------------------------------------------------------------
# What a lock and a key do to the records they make and carry, without devices: a lock MACs
# each record under its own secret for its epoch (provision_lock's "secret"), a key MACs each
# batch it carries under its own (provision_key's "secret"). `secret=` signs with another
# secret instead: a forgery.


def audit_record(lock, seq, *, key_id=1001, t=START_S, outcome=Outcome.GRANTED, reason=Denial.NONE, count=1, epoch=None, secret=None):
    """A record's fields (protocol AuditRecord) as the lock provisioned with `lock` (the
    PROVISION fields: device_id, epoch, secret) makes it at time `t`."""
    epoch = lock["epoch"] if epoch is None else epoch
    body = audit.pack_body(seq, epoch, t, key_id, lock["device_id"], outcome, reason, count)
    return audit.to_fields(body + signed.audit_mac(signing.MacKey(lock["secret"] if secret is None else secret), body))


def carried_batch(key, records, *, from_seq=0, next_seq=None, secret=None):
    """One batch ({from_seq, records, next_seq, mac}) of the records (fields) the key
    provisioned with `key` carries from position `from_seq`, MACed as that key does."""
    next_seq = from_seq + len(records) if next_seq is None else next_seq
    raws = [audit.from_fields(r) for r in records]
    own = signing.MacKey(key["secret"] if secret is None else secret)
    return {
        "from_seq": from_seq,
        "records": list(records),
        "next_seq": next_seq,
        "mac": signed.carried_mac(own, key["device_id"], from_seq, next_seq, raws),
    }


class Evidence:
    """Genuine evidence on one site: each lock is provisioned once (a provisioning is an
    epoch) and remembered, so its records verify. The `evidence` fixture."""

    def __init__(self, server):
        self.server = server
        self.locks = {}  # name -> PROVISION fields
        self.keys = {}

    def lock(self, name):
        """The lock's PROVISION fields, provisioning it the first time."""
        if name not in self.locks:
            self.locks[name] = self.server.provision_lock(name)
        return self.locks[name]

    def reprovision(self, name):
        """The lock reset or replaced: provisioned again, a new epoch."""
        self.locks[name] = self.server.provision_lock(name)
        return self.locks[name]

    def key(self, name):
        """The key's PROVISION fields (its own secret), asked for once."""
        if name not in self.keys:
            self.keys[name] = self.server.provision_key(name)
        return self.keys[name]

    def record(self, lock, seq, **kw):
        """A record lock `lock` (a name) made: audit_record()'s keywords."""
        return audit_record(self.lock(lock), seq, **kw)

    def batch(self, key, records, **kw):
        """One batch key `key` (a name) carries: carried_batch()'s keywords."""
        return carried_batch(self.key(key), records, **kw)

    def upload(self, key, records, from_seq=0):
        """validate()'s `audit`: the records as key `key` reads them out of what it carries
        from position `from_seq`, in batches of MAX_AUDIT_BATCH."""
        chunks = [records[i : i + MAX_AUDIT_BATCH] for i in range(0, len(records), MAX_AUDIT_BATCH)]
        out, pos = [], from_seq
        for chunk in chunks:
            out.append(self.batch(key, chunk, from_seq=pos))
            pos += len(chunk)
        return out
