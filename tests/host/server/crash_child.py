# Run by test_crash.py in a child process: performs multi-statement writes on the access
# server's file database and dies by SIGKILL, either at a chosen write statement in the
# middle of an operation (`at N`) or whenever the parent kills it (`forever`).
#
#   python crash_child.py DB_PATH at N | forever | once
import json
import os
import signal
import sys

from server_testkit import audit_record, carried_batch

from keylock.host.server import AccessServer, ServerError

KEYS = 12
LOCKS = 30
EVENTS = 40  # key i carries EVENTS records of lock L{i} (one batch): its upload is identifiable


def provision(server, path):
    """Provision every key and lock once, at site creation, and keep what each was given
    beside the database: each run must upload the same genuine records (provisioning a lock
    again would start a new epoch, and new events)."""
    devices = {}
    for name, p in [(f"K{i}", server.provision_key(f"K{i}")) for i in range(KEYS)] + [
        (f"L{j}", server.provision_lock(f"L{j}")) for j in range(LOCKS)
    ]:
        devices[name] = {"device_id": p["device_id"], "epoch": p["epoch"], "secret": p["secret"].hex()}
    with open(path + ".devices.json", "w") as f:
        json.dump(devices, f)


def upload(devices, i):
    key, lock = ({**devices[name], "secret": bytes.fromhex(devices[name]["secret"])} for name in (f"K{i}", f"L{i}"))
    records = [audit_record(lock, s, key_id=key["device_id"], t=1000 + s) for s in range(EVENTS)]
    return [carried_batch(key, records)]


def validate(server, key, carried):
    try:
        server.validate(key, audit=carried, soc=0.5)
    except ServerError as exc:  # blocked on a later pass: the upload is still stored
        assert exc.code == "blocked"


def operations(server, devices):
    """Every operation is idempotent, so each run can start again from the top."""
    locks = [f"L{j}" for j in range(LOCKS)]
    for i in range(KEYS):
        key = f"K{i}"
        yield lambda key=key: server.grant(key, locks=locks)
        yield lambda key=key, i=i: validate(server, key, upload(devices, i))
        yield lambda key=key: server.block(key)
        yield lambda key=key: server.audit(key=key, reason="crash test", by="pytest")


def main():
    path, mode = sys.argv[1], sys.argv[2]
    kill_at = int(sys.argv[3]) if mode == "at" else None
    server = AccessServer.open(path, now_s=lambda: 1767600000)
    with open(path + ".devices.json") as f:
        devices = json.load(f)
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
        for op in operations(server, devices):
            writes["in_op"] = 0
            op()
        if mode == "once":
            print("done", flush=True)
            return


if __name__ == "__main__":
    main()
