# The access server survives a crash mid-write: a child process doing multi-statement
# operations is SIGKILLed, again and again, on one database file; afterwards the file is
# intact and every operation is there completely or not at all.
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from server_testkit import START_S, YEAR_S, Clock

from keylock.host.server import AccessServer

CHILD = str(Path(__file__).resolve().parent / "crash_child.py")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import crash_child as child  # noqa: E402


def make_site(path):
    with AccessServer.create(path, now_s=Clock()) as server:
        server.add_holder("H", "C-1", START_S + YEAR_S)
        for i in range(child.KEYS):
            server.add_key(f"K{i}", "H")
        for j in range(child.LOCKS):
            server.add_lock(f"L{j}", group="yard")  # one compartment: a key opens at most 16
        child.provision(server, path)


def run_child(path, *args):
    return subprocess.Popen([sys.executable, CHILD, path, *args], stdout=subprocess.PIPE, text=True)


def check(path):
    """Integrity, then all-or-nothing for every kind of operation the child performs."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        done = {"grant": 0, "validate": 0, "block": 0, "audit": 0}
        for i in range(child.KEYS):
            key_id = 1001 + i
            (grants,) = conn.execute("SELECT count(*) FROM grants WHERE key_id = ?", (key_id,)).fetchone()
            assert grants in (0, child.LOCKS), f"K{i}: {grants} of {child.LOCKS} grant rows"
            (events,) = conn.execute("SELECT count(*) FROM audit_events WHERE lock_id = ?", (101 + i,)).fetchone()
            (validated, uploaded) = conn.execute(
                "SELECT validated_at_s IS NOT NULL, carried_uploaded FROM keys WHERE id = ?", (key_id,)
            ).fetchone()
            (readings,) = conn.execute("SELECT count(*) FROM battery_readings WHERE key_id = ?", (key_id,)).fetchone()
            # A validation stores its upload, the key's upload position, the battery reading
            # and the validation together.
            assert events in (0, child.EVENTS), f"K{i}: {events} of {child.EVENTS} audit events"
            assert bool(validated) == (events == child.EVENTS) == (uploaded == child.EVENTS) == (readings > 0)
            done["grant"] += grants > 0
            done["validate"] += validated
        assert conn.execute("SELECT count(*) FROM audit_rejections").fetchone() == (0,)  # every record genuine
        (version,) = conn.execute("SELECT blocklist_version FROM site").fetchone()
        (blocked,) = conn.execute("SELECT count(*) FROM blocklist").fetchone()
        assert version == blocked  # each key is blocked once and never unblocked: one bump each
        done["block"] = blocked
        (done["audit"],) = conn.execute("SELECT count(*) FROM audit_retrievals").fetchone()
        return done
    finally:
        conn.close()


def test_killed_at_a_write_inside_an_operation(tmp_path):
    path = str(tmp_path / "crash.db")
    make_site(path)
    rng = random.Random(5)
    for run in range(8):
        proc = run_child(path, "at", str(rng.randrange(1, 1200)))
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, (run, out)
        check(path)
    # Recovery leaves a usable database: a run to the end completes everything.
    proc = run_child(path, "once")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.endswith("done\n")
    done = check(path)
    assert (done["grant"], done["validate"], done["block"]) == (child.KEYS,) * 3
    assert done["audit"] >= child.KEYS


def test_killed_at_a_random_moment(tmp_path):
    path = str(tmp_path / "crash.db")
    make_site(path)
    rng = random.Random(7)
    for _run in range(5):
        proc = run_child(path, "forever")
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.4))  # when to pull the plug; nothing is timed or asserted on it
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        check(path)
    with AccessServer.open(path, now_s=Clock()) as server:
        assert server.blocklist()["version"] == len(server.blocklist()["key_ids"])
