# Times an Ed25519 verify of a credential against the HMAC-SHA256 check the firmware does
# today, on the runtime it runs on. Runtime neutral: imported by benchmarks/credential_signature.py
# on CPython, and run on MicroPython's unix port, compiled to .mpy beside the firmware's, as
#
#     micropython -X heapsize=64wK -m credential_signature_core time ROUNDS PK MSG SIG
#     micropython -X heapsize=NwK -m credential_signature_core once-ed25519 PK MSG SIG
#     micropython -X heapsize=NwK -m credential_signature_core once-hmac PK MSG SIG
#
# (bytes as hex). `time` prints one JSON object; `once-*` does one check and prints True or
# False, importing nothing else, so a heap bisection measures that check alone.
import gc
import json
import sys
import time

SERVER_SECRET = bytes(range(100, 132))  # a stand-in for crypto.server_key(site)'s key
HMAC_BATCH = 100  # HMACs per sample: one is too short for a clock

if hasattr(time, "ticks_us"):

    def now_us():  # pyright: ignore[reportRedeclaration]  (one of two definitions, by runtime)
        return time.ticks_us()  # pyright: ignore[reportAttributeAccessIssue]

    def elapsed_us(t0):  # pyright: ignore[reportRedeclaration]
        return time.ticks_diff(time.ticks_us(), t0)  # pyright: ignore[reportAttributeAccessIssue]

else:

    def now_us():
        return time.perf_counter_ns() / 1000

    def elapsed_us(t0):
        return time.perf_counter_ns() / 1000 - t0


def _ed25519():
    try:
        import ed25519_verify  # pyright: ignore[reportMissingImports]  (MicroPython: a top-level module)
    except ImportError:
        from . import ed25519_verify
    return ed25519_verify


def _crypto():
    try:
        from keylock_fw import crypto  # pyright: ignore[reportMissingImports]  (MicroPython)
    except ImportError:
        from ..firmware import crypto
    return crypto


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def heap_used():
    """Bytes in use on MicroPython's heap after a collection; None on CPython."""
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else None  # pyright: ignore[reportAttributeAccessIssue]


def run(public_key, message, signature, rounds):
    """Medians over `rounds` samples of: one Ed25519 verify; one HmacKey.mac of the message;
    one HMAC credential check as signed.credential_ok does it (MAC, truncate, ct_equal); and,
    apart, the SHA-512 inside the verify and the base-point table made at import. An HMAC
    sample is the mean of HMAC_BATCH."""
    before = heap_used()
    ed = _ed25519()
    resident = None if before is None else heap_used() - before
    crypto = _crypto()
    server = crypto.HmacKey(SERVER_SECRET)  # made once at boot, as the firmware does
    tag = server.mac(message)[:16]
    if not (ed.verify(public_key, message, signature) and crypto.ct_equal(tag, server.mac(message)[:16])):
        raise ValueError("the signature or the MAC does not verify")
    hashed = bytes(signature[:32]) + bytes(public_key) + bytes(message)
    base = (ed._BX, ed._BY, 1, ed._BX * ed._BY % ed.P)
    verify_us, mac_us, check_us, sha512_us, table_us = [], [], [], [], []
    for _ in range(rounds):
        t0 = now_us()
        ed.verify(public_key, message, signature)
        verify_us.append(elapsed_us(t0))
        t0 = now_us()
        for _ in range(HMAC_BATCH):
            server.mac(message)
        mac_us.append(elapsed_us(t0) / HMAC_BATCH)
        t0 = now_us()
        for _ in range(HMAC_BATCH):
            crypto.ct_equal(tag, server.mac(message)[:16])
        check_us.append(elapsed_us(t0) / HMAC_BATCH)
        t0 = now_us()
        ed.sha512(hashed)
        sha512_us.append(elapsed_us(t0))
        t0 = now_us()
        ed._odd_multiples(base)
        table_us.append(elapsed_us(t0))
    return {
        "runtime": sys.implementation.name,
        "version": ".".join(str(v) for v in sys.implementation.version[:3]),
        "rounds": rounds,
        "message_bytes": len(message),
        "sha512": ed.SHA512,
        "word_bytes": 8 if sys.maxsize > 2**32 else 4,
        "ed25519_resident_bytes": resident,  # the verifier's module and tables, in the heap
        "ed25519_verify_us": median(verify_us),
        "hmac_mac_us": median(mac_us),
        "hmac_check_us": median(check_us),
        "sha512_us": median(sha512_us),
        "base_table_us": median(table_us),
    }


def once(mode, public_key, message, signature):
    if mode == "once-ed25519":
        return _ed25519().verify(public_key, message, signature)
    crypto = _crypto()
    server = crypto.HmacKey(SERVER_SECRET)
    return crypto.ct_equal(server.mac(message)[:16], server.mac(message)[:16])


def main(argv):
    public_key, message, signature = [bytes.fromhex(h) for h in argv[-3:]]
    if argv[0] == "time":
        print(json.dumps(run(public_key, message, signature, int(argv[1]))))
    else:
        print(once(argv[0], public_key, message, signature))


if sys.implementation.name == "micropython" and __name__ == "__main__":  # the unix port, -m
    main(sys.argv[1:])
