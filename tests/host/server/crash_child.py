# Run by test_crash.py in a child process: performs multi-statement writes on the access
# server's file database and dies by SIGKILL, either at a chosen write statement in the
# middle of an operation (`at N`) or whenever the parent kills it (`forever`).
#
#   python crash_child.py DB_PATH at N | forever | once
import os
import signal
import sys

from keylock.host.server import AccessServer, ServerError

KEYS = 12
LOCKS = 30
EVENTS = 40
UPLOAD_LOCK_BASE = 10000  # each key uploads its own lock's events: the batch is identifiable


def upload(i):
    return [
        {"seq": s, "time": 1000 + s, "key_id": 1001 + i, "lock_id": UPLOAD_LOCK_BASE + i, "outcome": 0, "reason": 0}
        for s in range(1, EVENTS + 1)
    ]


def validate(server, key, records):
    try:
        server.validate(key, audit=records, soc=0.5)
    except ServerError as exc:  # blocked on a later pass: the upload is still stored
        assert exc.code == "blocked"


def operations(server):
    """Every operation is idempotent, so each run can start again from the top."""
    locks = [f"L{j}" for j in range(LOCKS)]
    for i in range(KEYS):
        key = f"K{i}"
        yield lambda key=key: server.grant(key, locks=locks)
        yield lambda key=key, i=i: validate(server, key, upload(i))
        yield lambda key=key: server.block(key)
        yield lambda key=key: server.audit(key=key, reason="crash test", by="pytest")


def main():
    path, mode = sys.argv[1], sys.argv[2]
    kill_at = int(sys.argv[3]) if mode == "at" else None
    server = AccessServer.open(path, now_s=lambda: 1767600000)
    writes = {"total": 0, "in_op": 0}

    def hook():
        writes["total"] += 1
        writes["in_op"] += 1
        # Only once this operation has written something uncommitted: a true mid-write crash.
        if kill_at is not None and writes["total"] >= kill_at and writes["in_op"] >= 2:
            os.kill(os.getpid(), signal.SIGKILL)

    server._write_hook = hook
    print("ready", flush=True)
    while True:  # `at` and `forever` go round until killed
        for op in operations(server):
            writes["in_op"] = 0
            op()
        if mode == "once":
            print("done", flush=True)
            return


if __name__ == "__main__":
    main()
