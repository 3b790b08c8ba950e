# Shared by the access-server tests (conftest.py puts this folder on sys.path): the start of
# virtual time and a clock the server reads.
import sqlite3
from datetime import UTC, datetime

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
