# Times one key-lock handshake and, separately, exactly the crypto calls it makes. Runtime
# neutral: imported by benchmarks/handshake.py on CPython and run as a script on MicroPython.
import json
import sys
import time

try:
    from keylock_fw import codec, crypto, hal, handshake  # pyright: ignore[reportMissingImports]  (MicroPython)
except ImportError:
    from ..firmware import codec, crypto, hal, handshake

SITE = bytes(range(32))  # the lock's compartment secret
COMPARTMENT = (codec.TARGET_GROUP, 7)
KEY_ID = 1001

if hasattr(time, "ticks_us"):

    def now_us():  # pyright: ignore[reportRedeclaration]  (one of two definitions, by runtime)
        return time.ticks_us()  # pyright: ignore[reportAttributeAccessIssue]

    def elapsed_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)  # pyright: ignore[reportAttributeAccessIssue]

else:

    def now_us():
        return time.perf_counter_ns() / 1000

    def elapsed_us(t0):
        return time.perf_counter_ns() / 1000 - t0


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def one_handshake(key, lock):
    key.on_accept(lock.on_proof(key.on_challenge(lock.on_hello(key.hello()))))


def handshake_frames(key, lock):
    """The four frames of one handshake (HELLO, CHALLENGE, PROOF, ACCEPT)."""
    hello = key.hello()
    challenge = lock.on_hello(hello)
    proof = key.on_challenge(challenge)
    accept = lock.on_proof(proof)
    key.on_accept(accept)
    return [hello, challenge, proof, accept]


def crypto_calls(compartment, key_prf, transcript_bytes, cuts):
    # The same calls one_handshake makes, on inputs of the same sizes, with no framing,
    # codec or state machine around them. `cuts`: the transcript lengths each proof covers.
    l_len, k_len, a_len = cuts
    nk = hal.urandom(16)
    nl = hal.urandom(16)
    ctx = KEY_ID.to_bytes(4, "big") + nk + nl
    # lock: diversify the key's secret for its compartment, derive the session keys, prove itself
    lock_key_prf = crypto.HmacKey(crypto.key_secret(compartment, KEY_ID))
    s = crypto.derive(lock_key_prf, b"keylock session", ctx, 32)
    l_kl, l_lk = crypto.HmacKey(s[:16]), crypto.HmacKey(s[16:])
    proof_l = l_lk.mac(b"L" + transcript_bytes[:l_len])[:8]
    # key: derive, check the lock's proof, prove itself
    s = crypto.derive(key_prf, b"keylock session", ctx, 32)
    k_kl, k_lk = crypto.HmacKey(s[:16]), crypto.HmacKey(s[16:])
    crypto.ct_equal(proof_l, k_lk.mac(b"L" + transcript_bytes[:l_len])[:8])
    proof_k = k_kl.mac(b"K" + transcript_bytes[:k_len])[:8]
    # lock: check the key's proof, accept
    crypto.ct_equal(proof_k, l_kl.mac(b"K" + transcript_bytes[:k_len])[:8])
    proof_a = l_lk.mac(b"A" + transcript_bytes[:a_len])[:8]
    # key: check the acceptance
    crypto.ct_equal(proof_a, k_lk.mac(b"A" + transcript_bytes[:a_len])[:8])


def run(rounds, batch=1):
    """Median per-handshake time over `rounds` samples, each the mean of `batch` handshakes
    (batches make coarse clocks, like the WebAssembly port's, usable)."""
    compartment = crypto.HmacKey(SITE)  # the lock's secure-storage slot, here a plain PRF
    key_prf = crypto.HmacKey(crypto.key_secret(compartment, KEY_ID))  # the key's secret for that compartment

    def secret_for(kind, target):
        return key_prf if (kind, target) == COMPARTMENT else None

    key = handshake.KeyInitiator(KEY_ID, secret_for)  # boot-time set-up, not per handshake
    lock = handshake.LockResponder(compartment, COMPARTMENT)
    frames = handshake_frames(key, lock)
    transcript = b"".join(f[1:-4] for f in frames)
    # each proof covers the transcript before it (the lock's and the acceptance's with their own frame's head)
    hello, challenge, proof = (len(f) - 5 for f in frames[:3])
    cuts = (hello + challenge - 8, hello + challenge + 4, hello + challenge + proof + 4)
    crypto.ct_equal(b"warm", b"warm")
    hs, cr = [], []
    for _ in range(rounds):
        t0 = now_us()
        for _ in range(batch):
            one_handshake(key, lock)
        hs.append(elapsed_us(t0) / batch)
        t0 = now_us()
        for _ in range(batch):
            crypto_calls(compartment, key_prf, transcript, cuts)
        cr.append(elapsed_us(t0) / batch)
    return {
        "frames": [len(f) for f in frames],
        "handshake_us": median(hs),
        "crypto_us": median(cr),
        "ratio": median(hs) / median(cr),
        "rounds": rounds,
        "batch": batch,
        "runtime": sys.implementation.name,
    }


if sys.implementation.name == "micropython":  # run as a script by benchmarks/handshake.py
    print(json.dumps(run(11, 200)))  # batches: the port's ticks_us moves in whole milliseconds
elif __name__ == "__main__":
    print(json.dumps(run(3000)))
