# App-level fuzzing of the key and lock firmware, in every transaction state, on both links.
# Runtime neutral: imported by benchmarks/fuzz_apps.py and tests/firmware/test_fw_fuzz_apps.py
# on CPython, and run on MicroPython (as a module next to a small script, or the tests).
#
#   run(frames=N, seed=S) -> a summary dict (JSON-able)
#
# What it drives, through the apps' own entry points only (begin, on_lock_frame, link_lost,
# on_key_frame, on_host_frame, and construction, which is a boot):
# - the contact link: keys and locks provisioned as the access server does (a master secret
#   no device holds; a lock holds its compartment's secret and its own audit secret, a key its
#   own secret and, wrapped into signed VALIDATEs, one secret per compartment it may open;
#   credentials and blocklists carry one server MAC per compartment) run real transactions
#   (the lock boots at every insertion; the server refreshes the key's blocklist and
#   credential now and then, after reading what it carries). The locks: two compartments of
#   this site (a group; a lock in no group) and a lock of another site whose compartment has
#   the same name. The keys: one with rights in both compartments, one of the other compartment
#   only (its rights name the group's lock: it must get nowhere there), one of another site.
#   Frames are replaced, injected before the genuine one, duplicated or sent into silence, in
#   every state of both (key: KEY_STATES; lock: LOCK_STATES, as the wire shows them, and
#   unprovisioned). Mutants: random bytes, bit flips (CRC kept wrong or recomputed as an
#   attacker would), truncation and extension (framing kept consistent or not), header
#   edits, frames of every message type with random payloads built by the firmware codec
#   (plain or with a random MAC), frames sealed with the real session keys by an insider who
#   holds the lock's compartment secret (every type, and crafted credentials and blocklists:
#   signed for the lock's compartment, for another compartment only, for another site's
#   compartment of the same name, a MAC moved to another compartment's label, altered after
#   signing), a valid PROOF from such an insider, a rogue lock's CHALLENGE and ACCEPT, replays
#   of earlier frames (either direction, any transaction). Also a rogue key that runs its own
#   handshake (with the compartment's secret, another compartment's, another site's or a
#   guess) and presents credentials, and bursts of bad PROOFs, each to a fresh CHALLENGE.
# - the host link: on_host_frame of a provisioned and an unprovisioned key and lock, with
#   structured frames of every host request (AUDIT_READ often with max_count 0), every other
#   message type, mutants, random bytes and replays, and a key's signed commands: challenge,
#   then a command signed for that nonce by the server (GRANT and VALIDATE with compartment
#   secrets wrapped for that nonce, or garbage), or not, or replayed; then contact
#   transactions between the apps the host link changed.
# - the oracle: every call is wrapped (except Exception: counted, with type, state, input
#   hex and the raising line); every reply must be one well-formed frame; every motor pulse
#   is judged by a witness that knows only what the server gave the lock (its compartment,
#   that compartment's secret, its own secret and epoch) and the frames on the wire: it must
#   happen while the lock handles a frame that opens under a session whose key PROOF the
#   witness verified itself (the key's secret derived from the lock's compartment secret),
#   that frame a CREDENTIAL with a server MAC labelled with the lock's compartment that holds
#   under that compartment's server key (a MAC for any other compartment never counts) for
#   the authenticated key id, and the reply a sealed GRANTED DECISION. Also counted: a lock
#   that ACCEPTs a PROOF the witness cannot verify; a lock that adopts a blocklist not signed
#   for its compartment or not newer than the last it adopted; bad evidence: an AUDIT_BATCH
#   from a lock (either link) with more records than asked, a record without its lock's MAC
#   under the lock's own secret, of another lock or epoch, or out of order; one from a key
#   without its own MAC over what it carries; a burst of bad PROOFs that writes audit records,
#   or whose count the next decision's first record does not carry.
#
# The fuzzer's PRNG is a xorshift32 of its own, and the firmware's nonces (hal.urandom) come
# from a second stream of it during a run, so a seed gives the same run, frame for frame, on
# CPython and on MicroPython: an example's `frame` and `seed` reproduce it with
# run(frames=frame + 1, seed=seed). Flash is the firmware's FileFlash in a temporary folder
# (the firmware has no RAM flash).
import json
import os
import sys
import time
from binascii import crc32
from struct import pack, unpack_from

try:
    from keylock_fw import (  # pyright: ignore[reportMissingImports]  (MicroPython)
        codec,
        crypto,
        device,
        flash,
        frame,
        hal,
        handshake,
        key_app,
        lock_app,
        secure,
        session,
        signed,
    )
except ImportError:
    from ..firmware import codec, crypto, device, flash, frame, hal, handshake, key_app, lock_app, secure, session, signed

_MAX_COMMAND_BODY = 16360  # protocol/messages.py MAX_COMMAND_BODY: what a SIGNED_COMMAND carries
MASTER = bytes(range(100, 132))  # the access server's master secret: no device holds it
OTHER_MASTER = bytes(range(200, 232))  # another site's server
KEY_ID = 1001  # rights in both compartments of the site
OTHER_KEY_ID = 1002  # same site, never issued a credential by the harness's server
COMPARTMENT_KEY_ID = 1003  # rights (naming the group's lock too) signed for the solo lock's compartment only
FOREIGN_KEY_ID = 2001  # a key of the other site
LOCK_ID = 7  # in GROUP
FOREIGN_LOCK_ID = 8  # the other site's, in a group of the same id
SOLO_LOCK_ID = 9  # in no group: a compartment of its own
GROUP = 50
T0 = 1700000000
DAY = 86400
NO_SECRET = bytes(32)

MAIN = (codec.TARGET_GROUP, GROUP)  # the compartment of LOCK_ID (its lowest group)
SOLO = (codec.TARGET_LOCK, SOLO_LOCK_ID)
NO_COMPARTMENT = (0, 0)  # a key's PROVISION names none

ALL_TYPES = sorted(codec.NAMES)
# Types the firmware may not have yet (or any more): used when its codec has them.
T_KEY_CHALLENGE_REQUEST = getattr(codec, "T_KEY_CHALLENGE_REQUEST", None)
T_KEY_CHALLENGE = getattr(codec, "T_KEY_CHALLENGE", None)
T_SIGNED_COMMAND = getattr(codec, "T_SIGNED_COMMAND", None)
ERR_NOT_SIGNED = getattr(codec, "ERR_NOT_SIGNED", None)
SIGNED_COMMANDS = codec.SIGNED_COMMANDS  # what a provisioned key takes only signed by the server
HOST_TYPES = tuple(
    t
    for t in (
        codec.T_INFO_REQUEST,
        codec.T_STATUS_REQUEST,
        codec.T_TIME_REQUEST,
        codec.T_TIME_SET,
        codec.T_PROVISION,
        codec.T_GRANT,
        codec.T_VALIDATE,
        codec.T_AUDIT_READ,
        codec.T_BLOCKLIST_UPDATE,
        codec.T_PAIR,
        codec.T_UNPAIR,
        T_KEY_CHALLENGE_REQUEST,
        T_SIGNED_COMMAND,
    )
    if t is not None
)
KEY_STATES = ("idle", "handshake", "proof", "decision", "blocklist", "audit", "ack", "blocklist_first")  # key_app's _IDLE.._BLOCKLIST_FIRST
LOCK_STATES = ("booted", "after_hello", "after_proof", "in_session")  # as the witness sees the wire
_ERROR_CODES = tuple(sorted(getattr(codec, n) for n in dir(codec) if n.startswith("ERR_")))
_HISTORY = 64

if hasattr(time, "ticks_ms"):

    def _now_ms():  # pyright: ignore[reportRedeclaration]  (one of two definitions, by runtime)
        return time.ticks_ms()  # pyright: ignore[reportAttributeAccessIssue]

    def _since_ms(t0):  # pyright: ignore[reportRedeclaration]
        return time.ticks_diff(time.ticks_ms(), t0)  # pyright: ignore[reportAttributeAccessIssue]

else:

    def _now_ms():
        return time.perf_counter() * 1000

    def _since_ms(t0):
        return time.perf_counter() * 1000 - t0


class Rng:
    """xorshift32: the same sequence on every runtime (MicroPython's `random` differs)."""

    def __init__(self, seed):
        s = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF
        self.s = s or 0x6D2B79F5

    def u32(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.u32() % n if n > 0 else 0

    def pct(self, p):
        return self.u32() % 100 < p

    def pick(self, seq):
        return seq[self.u32() % len(seq)]

    def data(self, n):
        return b"".join([pack("<L", self.u32()) for _ in range((n + 3) // 4)])[:n]

    def int_in(self, lo, hi, hints=()):
        """Mostly uniform, often an edge (lo, hi, next to them) or a hint in range."""
        r = self.u32() % 8
        if r == 0:
            v = self.pick((lo, hi, lo + 1, hi - 1))
        elif r < 3 and hints:
            v = self.pick(hints)
        elif r == 3:
            v = lo + self.u32() % min(hi - lo + 1, 256)
        else:
            v = lo + self.u32() % (hi - lo + 1)
        return v if lo <= v <= hi else lo


def chunk_seed(seed, index):
    """The seed of chunk `index` of a campaign run in chunks (the same on every runtime)."""
    return (seed * 1000003 + index * 7919 + 1) & 0xFFFFFFFF


def _crc(body):
    return pack("<L", crc32(body) & 0xFFFFFFFF)


def _frame(type_byte, seq, payload):
    """A frame with consistent length and CRC around any type byte (unknown, secured) and payload."""
    body = pack("<HBB", 2 + len(payload), type_byte & 0xFF, seq & 0xFF) + payload
    return b"\xa5" + body + _crc(body)


def _fix_crc(b):
    if len(b) >= 9:
        b[-4:] = _crc(bytes(b[1:-4]))


# --- the server's secrets, derived as host/server/signing.py does -----------------------


def compartment_secret(master, compartment):
    return crypto.derive(crypto.HmacKey(master), b"keylock compartment", pack(">BL", compartment[0], compartment[1]), 32)


def device_secret(master, role, device_id, epoch=0):
    return crypto.derive(crypto.HmacKey(master), b"keylock device", pack(">BLH", role, device_id, epoch), 32)


def compartment_field(compartment):
    return {"kind": compartment[0], "target": compartment[1]}


def wrapped_secrets(own, key_id, nonce, compartments):
    """The `secrets` of a GRANT or VALIDATE the server signs for the key (own secret `own`,
    id `key_id`) under `nonce`: its secret for each (kind, target, compartment secret)."""
    prf = crypto.HmacKey(own)

    def stream(n, context):
        return crypto.wrap_stream(prf, n, context)

    out = []
    for kind, target, secret in compartments:
        mine = crypto.key_secret(crypto.HmacKey(secret), key_id)
        out.append({"kind": kind, "target": target, "wrapped": signed.wrap_secret(stream, nonce, kind, target, mine)})
    return out


# --- checks computed here from the spec (firmware/signed.py's comments, protocol/messages.py),
# not with the firmware's own functions --------------------------------------------------


def _labelled(macs, compartment):
    return [bytes(m["mac"]) for m in macs if m["kind"] == compartment[0] and m["target"] == compartment[1]]


def credential_verifies(server, compartment, cred):
    """A MAC labelled with `compartment` holds on the credential: HMAC-SHA256 under that
    compartment's server key, 16 bytes, over b"credential" and the GRANT encoding of the
    credential without MACs and without secrets (its two empty counts cut off)."""
    try:
        c = dict(cred)
        c["macs"] = []
        body = codec.encode(codec.T_GRANT, {"credential": c, "secrets": []})[:-2]
        return server.mac(b"credential" + body)[:16] in _labelled(cred["macs"], compartment)
    except Exception:
        return False


def blocklist_verifies(server, compartment, update):
    """As credential_verifies, over b"blocklist" and the BLOCKLIST_UPDATE encoding without MACs."""
    try:
        m = {"version": update["version"], "key_ids": update["key_ids"], "macs": []}
        body = codec.encode(codec.T_BLOCKLIST_UPDATE, m)[:-1]
        return server.mac(b"blocklist" + body)[:16] in _labelled(update["macs"], compartment)
    except Exception:
        return False


_RECORD = "<LHLLLBBH"  # protocol AuditRecord without its MAC


def record_body(r):
    return pack(_RECORD, r["seq"], r["epoch"], r["time"], r["key_id"], r["lock_id"], r["outcome"], r["reason"], r["count"])


def record_verifies(own, r):
    """The lock's MAC on a record: HMAC-SHA256 under its own secret over b"audit" and the
    record before its MAC, 8 bytes."""
    return own.mac(b"audit" + record_body(r))[:8] == bytes(r["mac"])


def carried_verifies(own, key_id, from_seq, batch):
    """A key's MAC on the batch it carries from `from_seq` to its next_seq: HMAC-SHA256 under
    its own secret over b"carried", key id, from_seq, next_seq (u32 little-endian) and the
    records, 8 bytes."""
    raws = b"".join([record_body(r) + bytes(r["mac"]) for r in batch["records"]])
    return own.mac(b"carried" + pack("<LLL", key_id, from_seq, batch["next_seq"]) + raws)[:8] == bytes(batch["mac"])


def _decode(raw):
    """(type, fields) of a plain frame, else None."""
    try:
        t, _seq, m, _mac = frame.decode(raw)
        return t, m
    except Exception:
        return None


def _result(reply):
    """The code of a RESULT frame, else None."""
    try:
        t, _seq, m, _mac = frame.decode(reply)
        return m["code"] if t == codec.T_RESULT else None
    except Exception:
        return None


def _challenge_nonce(reply):
    try:
        t, _seq, m, _mac = frame.decode(reply)
        return m["nonce"] if t == T_KEY_CHALLENGE else None
    except Exception:
        return None


def _split(raw):
    try:
        return frame.split(raw)
    except Exception:
        return None


def _where(e):
    """The innermost `file:line in function` of an exception's traceback."""
    try:
        import traceback  # CPython

        tb = traceback.extract_tb(e.__traceback__)
        if tb:
            f = tb[-1]
            return f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}"
        return ""
    except ImportError:
        pass
    try:
        import io

        s = io.StringIO()
        sys.print_exception(e, s)  # pyright: ignore[reportAttributeAccessIssue]  (MicroPython)
        lines = [x.strip() for x in s.getvalue().split("\n") if x.strip().startswith("File ")]
        if not lines:
            return ""
        parts = lines[-1].split('"')
        name = parts[1].rsplit("/", 1)[-1] if len(parts) > 2 else "?"
        rest = parts[2] if len(parts) > 2 else lines[-1]
        return name + ":" + rest.replace(", line ", "").replace(", in ", " in ", 1).strip()
    except Exception:
        return ""


class FuzzDevice(device.Device):  # pyright: ignore[reportGeneralTypeIssues]  (device: keylock_fw or ..firmware)
    """The app's hardware: outputs counted, not kept (a long run would fill RAM); the motor
    pulse goes to the fuzzer, which judges it."""

    def __init__(self, chip, unit):
        super().__init__(chip, secure.FileSecureStorage(unit.secure_path))
        self.unit = unit
        self.output_count = 0

    def output(self, what, detail):
        self.output_count += 1

    def motor_pulse(self):
        self.unit.fuzzer.on_pulse(self.unit)


HELLO_BYTES = 9 + 4 + 16 + 1  # framing, key id, nonce, protocol version
CHALLENGE_BYTES = 9 + 16 + 5 + 8  # framing, nonce, compartment, proof
PROOF_BYTES = 9 + 8


class Witness:
    """What the harness knows of a lock's key link without its code: what the server gave the
    lock (its id, compartment, compartment secret, own secret and epoch) and the frames. It
    verifies the key's PROOF of the last handshake the lock answered with keys it derives
    itself, then follows that session both ways, judges motor pulses, blocklist adoptions and
    the audit records the lock hands out. Findings go to `found` as (counter, why)."""

    def __init__(self, fuzzer):
        self.fuzzer = fuzzer
        self.found = []
        self.set_lock(None, None)

    def set_lock(self, lock, own):
        """The lock was provisioned (`lock`: lock_id, compartment, compartment_secret, epoch;
        `own`: its own secret), or is blank (None)."""
        self.lock = lock
        self.compartment_prf = self.server = self.own = None
        if lock is not None:
            self.compartment_prf = crypto.HmacKey(lock["compartment_secret"])
            self.server = crypto.server_key(self.compartment_prf)
            self.own = crypto.HmacKey(own)
        self.blocklist_version = 0  # the last it adopted (a provisioned lock starts with none)
        self.reset()

    def reset(self):
        """The lock booted: no handshake, no session."""
        self.pending = None  # (HELLO, CHALLENGE) the lock answered last
        self.keys = None  # (key id, K->L HmacKey, L->K HmacKey) of a session whose PROOF held
        self.to_lock = None  # the session as the lock receives it
        self.to_key = None  # ... and as the key receives it
        self.phase = "booted"

    def verified_proof(self, raw):
        """(key id, kl, lk) when `raw` is a PROOF that holds for the pending handshake."""
        if self.pending is None or self.compartment_prf is None:
            return None
        hello, challenge = self.pending
        if len(hello) != HELLO_BYTES or len(challenge) != CHALLENGE_BYTES or len(raw) != PROOF_BYTES:
            return None
        key_id = unpack_from("<L", hello, 5)[0]
        nk, nl = hello[9:25], challenge[5:21]
        prf = crypto.HmacKey(crypto.key_secret(self.compartment_prf, key_id))  # its secret for the lock's compartment
        s = crypto.derive(prf, b"keylock session", key_id.to_bytes(4, "big") + nk + nl, 32)
        kl, lk = crypto.HmacKey(s[:16]), crypto.HmacKey(s[16:])
        transcript = hello[1:-4] + challenge[1:-4] + raw[1:-4]
        if kl.mac(b"K" + transcript[:-8])[:8] != transcript[-8:]:
            return None
        return key_id, kl, lk

    def before(self, raw):
        """What the frame is, before the lock sees it: ("hello"|"proof", None) or ("opened",
        (type, seq, fields)) when it opens under the witnessed session; else None."""
        parts = _split(raw)
        if parts is None:
            return None
        t, secured, _seq, _payload = parts
        if not secured:
            if t == codec.T_HS_HELLO:
                return ("hello", None)
            if t == codec.T_HS_PROOF:
                return ("proof", None)
            return None
        if self.to_lock is None:
            return None
        try:
            return ("opened", self.to_lock.open(raw))
        except Exception:
            return None

    def after(self, raw, pre, reply):
        """Follow the lock's answer. Returns the sealed DECISION's fields, or None."""
        if pre is None:
            return None
        kind = pre[0]
        answer = _split(reply) if reply is not None else None
        if kind == "hello":
            if reply is not None and answer is not None and answer[0] == codec.T_HS_CHALLENGE and not answer[1]:
                self.pending = (bytes(raw), bytes(reply))  # any answered HELLO starts over
                self.keys = self.to_lock = self.to_key = None
                self.phase = "after_hello"
            return None
        if kind == "proof":
            if answer is None or answer[0] != codec.T_HS_ACCEPT or answer[1]:
                return None
            keys = self.verified_proof(raw)
            if keys is None:
                self.keys = self.to_lock = self.to_key = None
                self.found.append(("bad_accepts", "the lock ACCEPTed a PROOF that does not hold"))
                return None
            self.keys = keys
            self.to_lock = session.Session(keys[2], keys[1])
            self.to_key = session.Session(keys[1], keys[2])
            self.phase = "after_proof"
            return None
        t, _seq, m = pre[1]
        if t == codec.T_CREDENTIAL:
            self.phase = "in_session"
            self.fuzzer.cover("lock.credential:" + self.classify(m["credential"], credential_verifies))
        elif t == codec.T_BLOCKLIST_UPDATE:
            self.fuzzer.cover("lock.blocklist:" + self.classify(m, blocklist_verifies))
        elif t == codec.T_AUDIT_READ and m["max_count"] == 0:
            self.fuzzer.cover("lock.on_key_frame:audit_read_max_count_0")
        if reply is None or self.to_key is None:
            return None
        try:
            rt, _seq, answer = self.to_key.open(reply)
        except Exception:
            return None
        if t == codec.T_BLOCKLIST_UPDATE and rt == codec.T_RESULT and answer["code"] == codec.ERR_OK:
            self.adopted(m)
        if t == codec.T_AUDIT_READ and rt == codec.T_AUDIT_BATCH:
            self.check_batch(answer, m["max_count"], None)
        return answer if rt == codec.T_DECISION else None

    def classify(self, obj, verifies):
        """What a credential or blocklist is to this lock (coverage): "this_compartment" when
        signed for it; "other_compartment" when some MAC holds under a compartment's server
        key the harness knows (another compartment of this site or of another site, or this
        one's under another label); else "unsigned"."""
        if self.server is None:
            return "unprovisioned"
        if verifies(self.server, self.lock["compartment"], obj):
            return "this_compartment"
        labels = [(m["kind"], m["target"]) for m in obj["macs"]]
        for server in self.fuzzer.server_keys + [self.server]:
            for label in labels:
                if verifies(server, label, obj):
                    return "other_compartment"
        return "unsigned"

    def adopted(self, update):
        """The lock said OK to a BLOCKLIST_UPDATE in the witnessed session."""
        if self.server is None or not blocklist_verifies(self.server, self.lock["compartment"], update):
            self.found.append(("bad_blocklists", "the lock adopted a blocklist not signed for its compartment"))
        elif update["version"] <= self.blocklist_version:
            self.found.append(("bad_blocklists", "the lock adopted a blocklist not newer than its own"))
        self.blocklist_version = max(self.blocklist_version, update["version"])

    def check_batch(self, batch, max_count, from_seq):
        """An AUDIT_BATCH from the lock, in answer to AUDIT_READ(from_seq or its own, max_count)."""
        if self.own is None:
            return
        lock = self.lock
        records = batch["records"]
        why = None
        if len(records) > min(max_count, 64):
            why = f"{len(records)} records for AUDIT_READ max_count {max_count}"
        elif bytes(batch["mac"]) != bytes(8):
            why = "a lock's batch with a MAC"
        last = None
        for r in records:
            if why is not None:
                break
            if not record_verifies(self.own, r):
                why = "a record without its lock's MAC"
            elif r["lock_id"] != lock["lock_id"] or r["epoch"] != lock["epoch"]:
                why = f"a record of lock {r['lock_id']} epoch {r['epoch']} from lock {lock['lock_id']} epoch {lock['epoch']}"
            elif (last is not None and r["seq"] <= last) or (from_seq is not None and r["seq"] < from_seq):
                why = "records out of order"
            last = r["seq"]
        if why is None:
            if records and batch["next_seq"] != records[-1]["seq"] + 1:
                why = f"next_seq {batch['next_seq']} after record {records[-1]['seq']}"
            elif not records and from_seq is not None and batch["next_seq"] != from_seq:
                why = f"next_seq {batch['next_seq']} for an empty batch from {from_seq}"
        if why is not None:
            self.found.append(("bad_evidence", why))

    def judge(self, pre, decision, pulses):
        """None when the pulses are authorised, else why not."""
        if pulses != 1:
            return f"{pulses} pulses for one frame"
        if pre is None or pre[0] != "opened" or self.keys is None or self.server is None:
            return "no authenticated session carried the frame"
        t, _seq, m = pre[1]
        if t != codec.T_CREDENTIAL:
            return "pulse on a " + codec.NAMES.get(t, str(t)) + " frame"
        cred = m["credential"]
        if not credential_verifies(self.server, self.lock["compartment"], cred):
            return "no server MAC for the lock's compartment holds on the credential"
        if cred["key_id"] != self.keys[0]:
            return f"credential of key {cred['key_id']} presented by key {self.keys[0]}"
        if decision is None or decision.get("outcome") != codec.OUTCOME_GRANTED:
            return "no sealed GRANTED decision answered it"
        return None


class Unit:
    """One device: its flash file and secure-storage file, its FuzzDevice, its app (rebuilt
    at every boot), and what the server knows of it."""

    def __init__(self, fuzzer, name, role, folder):
        self.fuzzer = fuzzer
        self.name = name
        self.role = role
        self.cls = fuzzer.key_cls if role == "key" else fuzzer.lock_cls
        self.sectors = key_app.FLASH_SECTORS if role == "key" else lock_app.FLASH_SECTORS
        self.path = folder + "/" + name + ".flash"
        self.secure_path = self.path + ".secure"  # FuzzDevice's FileSecureStorage
        _remove(self.path)
        _remove(self.secure_path)
        self.chip = flash.FileFlash(self.path, self.sectors)
        self.dev = FuzzDevice(self.chip, self)
        self.witness = Witness(fuzzer) if role == "lock" else None
        self.app = None
        self.image = []  # (sector, bytes) of the pristine flash
        self.secure_image = None  # the pristine secure storage file's bytes
        self.secret = None  # its own secret as provisioned (a key's: the server signs its commands with it)
        self.key_id = None  # a key's id as provisioned
        self.lock = None  # a lock as provisioned: lock_id, compartment, compartment_secret, epoch
        self.uploaded = 0  # a key: where the server's copy of the events it carries ends
        self.pristine = (None, None, None, 0)
        self.host_frames = 0

    def snapshot(self):
        self.pristine = (self.secret, self.key_id, self.lock, self.uploaded)
        size = self.chip.sector_size
        blank = b"\xff" * size
        self.image = []
        for s in range(self.sectors):
            data = self.chip.read(s * size, size)
            if data != blank:
                self.image.append((s, data))
        try:
            with open(self.secure_path, "rb") as f:
                self.secure_image = f.read()
        except OSError:
            self.secure_image = None

    def restore(self):
        """Back to the pristine flash and secure storage (a factory reset, then the set-up)."""
        size = self.chip.sector_size
        for s in range(self.sectors):
            self.chip.erase(s)
        for s, data in self.image:
            self.chip.program(s * size, data)
        _remove(self.secure_path)
        if self.secure_image is not None:
            with open(self.secure_path, "wb") as f:
                f.write(self.secure_image)
        self.dev.secure = secure.FileSecureStorage(self.secure_path)
        self.secret, self.key_id, self.lock, self.uploaded = self.pristine
        if self.witness is not None:
            self.witness.set_lock(self.lock, self.secret)
        self.host_frames = 0


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class Fuzzer:
    def __init__(self, seed=1, key_cls=None, lock_cls=None, folder=None, max_examples=5):
        self.seed = seed
        self.rng = Rng(seed)
        self.nonces = Rng(seed ^ 0x5EED5EED)
        self.key_cls = key_cls or key_app.KeyApp
        self.lock_cls = lock_cls or lock_app.LockApp
        self.max_examples = max_examples
        # The compartments' secrets, as the server derives them from its master secret.
        self.main_secret = compartment_secret(MASTER, MAIN)
        self.solo_secret = compartment_secret(MASTER, SOLO)
        self.foreign_secret = compartment_secret(OTHER_MASTER, MAIN)  # another site's compartment of the same name
        main_server = crypto.server_key(crypto.HmacKey(self.main_secret))
        solo_server = crypto.server_key(crypto.HmacKey(self.solo_secret))
        foreign_server = crypto.server_key(crypto.HmacKey(self.foreign_secret))
        self.server_keys = [main_server, solo_server, foreign_server]  # the witnesses' classification
        # (kind, target, server key) lists the server, a confused server or a forger signs with.
        self.main = (MAIN[0], MAIN[1], main_server)
        self.solo = (SOLO[0], SOLO[1], solo_server)
        self.key_servers = [self.main, self.solo]  # the key's rights: both compartments
        self.signers = (
            [self.main],
            [self.main],
            [self.solo, self.main],
            [self.solo],  # another compartment only
            [(MAIN[0], MAIN[1], foreign_server)],  # another site's compartment of the same name
            [(MAIN[0], MAIN[1], solo_server)],  # another compartment's MAC under this one's label
            [(SOLO[0], SOLO[1], main_server)],  # this one's MAC under another label
            [self.solo, (MAIN[0], MAIN[1], solo_server)],
        )
        self.compartment_secrets = [MAIN + (self.main_secret,), SOLO + (self.solo_secret,)]  # what a key of both holds
        self._folder_given = folder is not None
        self.folder = folder
        self.units = []
        self.hist = [b""] * _HISTORY
        self.hpos = 0
        self._in_key_call = None  # the lock unit whose on_key_frame is running
        self._call_pulses = 0
        self._saved_urandom = None
        self.blocklist_version = 2
        self.last_key_hello = None
        self.last_key_proof = None
        self.rogues = []
        self.last_signed = None
        # the summary
        self.frames = 0
        self.contact_frames = 0
        self.host_frames = 0
        self.begins = 0
        self.transactions = 0
        self.escaped = 0
        self.escaped_by = {}
        self.examples = []
        self.pulses = 0
        self.authorised_pulses = 0
        self.unauthorised_pulses = 0
        self.unauthorised_examples = []
        self.bad_accepts = 0
        self.bad_blocklists = 0
        self.bad_evidence = 0
        self.malformed_replies = 0
        self.malformed_examples = []
        self.coverage = {}
        self.elapsed_ms = 0

    # --- set-up ---------------------------------------------------------------------------

    def setup(self):
        if self.folder is None:
            if sys.implementation.name == "micropython":
                self.folder = "/tmp/kl_fuzz"
                try:
                    os.mkdir(self.folder)
                except OSError:
                    pass
            else:
                import tempfile

                self.folder = tempfile.mkdtemp(prefix="kl_fuzz_")
        self._saved_urandom = hal.urandom
        hal.urandom = self.nonces.data  # deterministic nonces: a seed is a whole run
        folder = self.folder
        self.K = Unit(self, "key", "key", folder)
        self.L = Unit(self, "lock", "lock", folder)
        self.SL = Unit(self, "solo_lock", "lock", folder)
        self.CK = Unit(self, "compartment_key", "key", folder)
        self.FK = Unit(self, "foreign_key", "key", folder)
        self.FL = Unit(self, "foreign_lock", "lock", folder)
        self.HK = Unit(self, "host_key", "key", folder)
        self.HL = Unit(self, "host_lock", "lock", folder)
        self.UK = Unit(self, "blank_key", "key", folder)
        self.UL = Unit(self, "blank_lock", "lock", folder)
        self.units = [self.K, self.L, self.SL, self.CK, self.FK, self.FL, self.HK, self.HL, self.UK, self.UL]
        for u in self.units:
            self.boot(u)
        self.pristine_cred = self.cred = self.credential_for(KEY_ID, T0)
        self.ck_cred = self.credential_for(COMPARTMENT_KEY_ID, T0, lock_id=SOLO_LOCK_ID, servers=[self.solo])
        self.foreign_cred = self.credential_for(
            FOREIGN_KEY_ID, T0, lock_id=FOREIGN_LOCK_ID, servers=[(MAIN[0], MAIN[1], self.server_keys[2])]
        )
        blocklist = signed.sign_blocklist(self.key_servers, self.blocklist_version, [5000, 5001])
        for u in (self.K, self.HK):
            self.setup_key(u, MASTER, KEY_ID, self.cred, self.compartment_secrets)
            self._setup(u, codec.T_BLOCKLIST_UPDATE, blocklist)
        self.setup_key(self.CK, MASTER, COMPARTMENT_KEY_ID, self.ck_cred, [SOLO + (self.solo_secret,)])
        self.setup_key(self.FK, OTHER_MASTER, FOREIGN_KEY_ID, self.foreign_cred, [MAIN + (self.foreign_secret,)])
        self.setup_lock(self.L, MASTER, LOCK_ID, [GROUP], MAIN, self.main_secret, 1)
        self.setup_lock(self.HL, MASTER, LOCK_ID, [GROUP], MAIN, self.main_secret, 2)  # the same lock, replaced
        self.setup_lock(self.SL, MASTER, SOLO_LOCK_ID, [], SOLO, self.solo_secret, 1)
        self.setup_lock(self.FL, OTHER_MASTER, FOREIGN_LOCK_ID, [GROUP], MAIN, self.foreign_secret, 1)
        for u in self.units:
            u.snapshot()
            u.restore()
            self.boot(u)
        # Rogue locks that hold a compartment's secret: this one's, the other's of this site.
        self.rogues = [
            handshake.LockResponder(crypto.HmacKey(self.main_secret), MAIN),
            handshake.LockResponder(crypto.HmacKey(self.solo_secret), SOLO),
        ]

    def setup_key(self, u, master, key_id, cred, compartments):
        own = device_secret(master, codec.ROLE_KEY, key_id)
        fields = {
            "role": codec.ROLE_KEY,
            "device_id": key_id,
            "groups": [],
            "compartment": compartment_field(NO_COMPARTMENT),
            "epoch": 0,
            "secret": own,
            "compartment_secret": NO_SECRET,
        }
        self._setup(u, codec.T_PROVISION, fields)
        self._setup(u, codec.T_VALIDATE, {"server_time": T0 + 3600, "credential": cred, "uploaded_to": 0}, compartments)

    def setup_lock(self, u, master, lock_id, groups, compartment, secret, epoch):
        fields = {
            "role": codec.ROLE_LOCK,
            "device_id": lock_id,
            "groups": groups,
            "compartment": compartment_field(compartment),
            "epoch": epoch,
            "secret": device_secret(master, codec.ROLE_LOCK, lock_id, epoch),
            "compartment_secret": secret,
        }
        self._setup(u, codec.T_PROVISION, fields)

    def _setup(self, u, t, m, compartments=None):
        code = self.command(u, t, m, False, compartments)
        if code != codec.ERR_OK:
            raise RuntimeError(f"fuzzer set-up: {u.name} refused {codec.NAMES[t]}: code {code}")

    def command(self, u, t, m, count=True, compartments=None):
        """The server's command to a device: plain, or signed for a key that takes it only so
        (KEY_CHALLENGE_REQUEST, then SIGNED_COMMAND bound to the key's nonce). A GRANT or
        VALIDATE gets the key's secrets for `compartments` ((kind, target, compartment
        secret) ...) wrapped under that nonce. Its RESULT code."""
        if t in (codec.T_GRANT, codec.T_VALIDATE):
            m = dict(m)
            m["secrets"] = []
        code = _result(self.host(u, frame.encode_message(t, 1, m), count))
        if code == ERR_NOT_SIGNED and ERR_NOT_SIGNED is not None and u.secret is not None:
            nonce = _challenge_nonce(self.host(u, frame.encode_message(T_KEY_CHALLENGE_REQUEST, 2, {}), count))
            if nonce is not None:
                if t in (codec.T_GRANT, codec.T_VALIDATE):
                    m["secrets"] = wrapped_secrets(u.secret, u.key_id, nonce, compartments or [])
                body = codec.encode(t, m)
                mac = self.command_mac(u, nonce, t, body)
                raw = frame.encode_message(T_SIGNED_COMMAND, 3, {"command": t, "body": body, "mac": mac})
                code = _result(self.host(u, raw, count))
        return code

    def command_mac(self, u, nonce, t, body):
        return signed.command_mac(crypto.command_key(crypto.HmacKey(u.secret)), u.key_id, nonce, t, body)

    def host(self, u, raw, count):
        if count:
            return self.host_call(u, raw)
        reply = u.app.on_host_frame(raw)
        self.learn(u, raw, reply)
        return reply

    def learn(self, u, raw, reply):
        """What the server knows of a device it provisioned: a lock's compartment, its
        secrets and epoch; a key's id and own secret."""
        if _result(reply) != codec.ERR_OK:
            return
        d = _decode(raw)
        if d is None:
            return
        t, m = d
        if t == T_SIGNED_COMMAND and m["command"] == codec.T_PROVISION:
            try:
                t, m = codec.T_PROVISION, codec.decode(codec.T_PROVISION, m["body"])
            except Exception:
                return
        if t != codec.T_PROVISION:
            return
        if u.role == "lock" and m["role"] == codec.ROLE_LOCK:
            c = m["compartment"]
            u.secret = m["secret"]
            u.lock = {
                "lock_id": m["device_id"],
                "compartment": (c["kind"], c["target"]),
                "compartment_secret": m["compartment_secret"],
                "epoch": m["epoch"],
            }
            u.witness.set_lock(u.lock, u.secret)
        elif u.role == "key" and m["role"] == codec.ROLE_KEY:
            u.secret, u.key_id, u.uploaded = m["secret"], m["device_id"], 0

    def close(self):
        if self._saved_urandom is not None:
            hal.urandom = self._saved_urandom
            self._saved_urandom = None
        for u in self.units:
            try:
                u.chip.close()
            except Exception:
                pass
            for path in (u.path, u.secure_path, u.secure_path + ".new"):
                _remove(path)
        self.units = []
        if not self._folder_given and self.folder:
            try:
                os.rmdir(self.folder)
            except OSError:
                pass

    def key_secret(self, key_id, secret=None):
        """A key's secret for a compartment (the main one unless `secret` is given)."""
        return crypto.key_secret(crypto.HmacKey(secret or self.main_secret), key_id)

    def credential_for(self, key_id, start, lock_id=LOCK_ID, servers=None, days=10, blocklist_version=1):
        cred = {
            "key_id": key_id,
            "issued_at": start,
            "not_before": start - DAY,
            "not_after": start + 365 * DAY,
            "valid_until": start + days * DAY,
            "offset_change_at": 0,
            "offset_change_min": 0,
            "blocklist_version": blocklist_version,
            "warn_permille": 0,
            "rights": [
                {"target": lock_id, "kind": codec.TARGET_LOCK, "days": codec.DAY_ALL, "from_min": 0, "to_min": 1440},
                {"target": GROUP, "kind": codec.TARGET_GROUP, "days": 31, "from_min": 480, "to_min": 1080},
                {
                    "target": LOCK_ID if lock_id != LOCK_ID else SOLO_LOCK_ID,
                    "kind": codec.TARGET_LOCK,
                    "days": codec.DAY_ALL,
                    "from_min": 0,
                    "to_min": 1440,
                },
            ],
            "macs": [],
        }
        return signed.sign_credential(servers or self.key_servers, cred)

    # --- calls into the apps, wrapped -------------------------------------------------------

    def boot(self, u):
        """Power up: the app is built from its flash (RAM readings stay: they are the world's)."""
        u.app = None
        if u.witness is not None:
            u.witness.reset()
        for _ in range(2 if u.image else 1):
            try:
                u.app = u.cls(u.dev)
                return True
            except Exception as e:
                self.escape(u.role + ".boot", "boot", None, e, u)
            u.restore()  # what it was made of broke its boot: start it again from its pristine flash
        return False

    def escape(self, where, state, raw, e, u):
        self.escaped += 1
        name = type(e).__name__
        kind = where + " " + state + " " + name
        n = self.escaped_by.get(kind, 0)
        self.escaped_by[kind] = n + 1
        if n == 0 and len(self.examples) < self.max_examples:
            self.examples.append(
                {
                    "where": where,
                    "state": state,
                    "type": name,
                    "message": str(e)[:200],
                    "at": _where(e),
                    "input": None if raw is None else bytes(raw).hex(),
                    "device": u.name,
                    "seed": self.seed,
                    "frame": self.frames,
                }
            )

    def cover(self, label):
        self.coverage[label] = self.coverage.get(label, 0) + 1

    def remember(self, raw):
        if raw:
            self.hist[self.hpos % _HISTORY] = bytes(raw)
            self.hpos += 1

    def check_reply(self, where, raw, reply, u):
        if reply is None:
            return None
        if not isinstance(reply, (bytes, bytearray)) or _split(reply) is None:
            self.malformed_replies += 1
            if len(self.malformed_examples) < self.max_examples:
                self.malformed_examples.append(
                    {
                        "where": where,
                        "device": u.name,
                        "input": bytes(raw).hex(),
                        "reply": bytes(reply).hex() if isinstance(reply, (bytes, bytearray)) else repr(reply)[:100],
                        "seed": self.seed,
                        "frame": self.frames,
                    }
                )
            return None
        self.remember(reply)
        return bytes(reply)

    def key_state(self, u):
        s = getattr(u.app, "state", None)
        if isinstance(s, int) and 0 <= s < len(KEY_STATES):
            return KEY_STATES[s]
        return "state_" + str(s)

    def lock_state(self, u):
        if u.app is None:
            return "down"
        if getattr(u.app, "cfg", None) is None:
            return "unprovisioned"
        return u.witness.phase

    def key_call(self, u, raw):
        """One frame from the lock's side to the key: the key's next frame or None."""
        if u.app is None:
            return None
        state = self.key_state(u)
        self.frames += 1
        self.contact_frames += 1
        self.cover("key.on_lock_frame:" + state)
        self.remember(raw)
        try:
            out = u.app.on_lock_frame(raw)
        except Exception as e:
            self.escape("key.on_lock_frame", state, raw, e, u)
            return None
        out = self.check_reply("key.on_lock_frame", raw, out, u)
        if state == "handshake" and out is None and getattr(u.app, "outcome", None) == (codec.OUTCOME_DENIED, codec.DENIAL_NOT_AUTHORIZED):
            self.cover("key.on_lock_frame:no_compartment")  # no secret for the lock's compartment: no PROOF
        if out is not None:
            parts = _split(out)
            if parts is not None and not parts[1]:
                if parts[0] == codec.T_HS_HELLO:
                    self.last_key_hello = out
                elif parts[0] == codec.T_HS_PROOF:
                    self.last_key_proof = out
        return out

    def begin(self, u):
        if u.app is None:
            return None
        state = self.key_state(u)
        self.begins += 1
        self.cover("key.begin:" + state)
        try:
            out = u.app.begin()
        except Exception as e:
            self.escape("key.begin", state, None, e, u)
            return None
        out = self.check_reply("key.begin", b"", out, u)
        if out is not None:
            self.last_key_hello = out
        return out

    def link_lost(self, u):
        if u.app is None:
            return
        state = self.key_state(u)
        try:
            u.app.link_lost()
        except Exception as e:
            self.escape("key.link_lost", state, None, e, u)

    def lock_call(self, u, raw):
        """One frame from the key's side to the lock: its reply or None. Pulses are judged here."""
        if u.app is None:
            return None
        w = u.witness
        state = self.lock_state(u)
        self.frames += 1
        self.contact_frames += 1
        self.cover("lock.on_key_frame:" + state)
        self.remember(raw)
        pre = w.before(raw)
        self._in_key_call = u
        self._call_pulses = 0
        try:
            reply = u.app.on_key_frame(raw)
        except Exception as e:
            self.escape("lock.on_key_frame", state, raw, e, u)
            reply = None
        self._in_key_call = None
        pulses = self._call_pulses
        reply = self.check_reply("lock.on_key_frame", raw, reply, u)
        decision = w.after(raw, pre, reply)
        self.findings(u, state, raw)
        if pulses:
            why = w.judge(pre, decision, pulses)
            if why is None:
                self.authorised_pulses += pulses
            else:
                self.unauthorised_pulses += pulses
                self.violation(u, state, raw, why)
        return reply

    def host_call(self, u, raw):
        if u.app is None:
            return None
        provisioned = getattr(u.app, "cfg", None) is not None
        state = "provisioned" if provisioned else "unprovisioned"
        self.frames += 1
        self.host_frames += 1
        u.host_frames += 1
        self.cover(u.role + ".on_host_frame:" + state)
        self.remember(raw)
        try:
            reply = u.app.on_host_frame(raw)
        except Exception as e:
            self.escape(u.role + ".on_host_frame", state, raw, e, u)
            return None
        reply = self.check_reply(u.role + ".on_host_frame", raw, reply, u)
        self.learn(u, raw, reply)
        self.check_host_batch(u, state, raw, reply)
        return reply

    def check_host_batch(self, u, state, raw, reply):
        """An AUDIT_READ on the host link: a lock's records carry its MACs; a provisioned key's
        batch carries the key's own MAC over what it carries from from_seq to next_seq."""
        request = _decode(raw)
        if request is None or request[0] != codec.T_AUDIT_READ or reply is None:
            return
        m = request[1]
        if m["max_count"] == 0:
            self.cover(u.role + ".on_host_frame:audit_read_max_count_0")
        answer = _decode(reply)
        if answer is None or answer[0] != codec.T_AUDIT_BATCH:
            return
        batch = answer[1]
        if u.role == "lock":
            u.witness.check_batch(batch, m["max_count"], m["from_seq"])
            self.findings(u, state, raw)
            return
        if u.secret is None or getattr(u.app, "cfg", None) is None:
            return
        why = None
        n = len(batch["records"])
        if n > min(m["max_count"], 64):
            why = f"{n} carried records for AUDIT_READ max_count {m['max_count']}"
        elif batch["next_seq"] < m["from_seq"] + n or (n == 0 and batch["next_seq"] != m["from_seq"]):
            why = f"next_seq {batch['next_seq']} for {n} records from {m['from_seq']}"
        elif not carried_verifies(crypto.HmacKey(u.secret), u.key_id, m["from_seq"], batch):
            why = "a key's batch without its MAC"
        if why is not None:
            self.finding("bad_evidence", u, state, raw, why)

    def findings(self, u, state, raw):
        w = u.witness
        while w.found:
            counter, why = w.found.pop(0)
            self.finding(counter, u, state, raw, why)

    def finding(self, counter, u, state, raw, why):
        setattr(self, counter, getattr(self, counter) + 1)
        self.violation(u, state, raw, why)

    def on_pulse(self, u):
        """A lock's motor moved (FuzzDevice.motor_pulse)."""
        self.pulses += 1
        if self._in_key_call is u:
            self._call_pulses += 1
            return
        self.unauthorised_pulses += 1
        self.violation(u, "outside on_key_frame", b"", "motor pulse outside the key link")

    def violation(self, u, state, raw, why):
        if len(self.unauthorised_examples) < self.max_examples:
            self.unauthorised_examples.append(
                {"device": u.name, "state": state, "why": why, "input": bytes(raw).hex(), "seed": self.seed, "frame": self.frames}
            )

    # --- what to send ------------------------------------------------------------------------

    def now(self):
        t = self.K.dev.rtc_s
        return t if t is not None else T0

    def u32(self):
        n = self.now()
        return self.rng.int_in(
            0,
            0xFFFFFFFF,
            (KEY_ID, OTHER_KEY_ID, COMPARTMENT_KEY_ID, FOREIGN_KEY_ID, LOCK_ID, FOREIGN_LOCK_ID, SOLO_LOCK_ID, GROUP, n, n + DAY, T0, 0),
        )

    def time_value(self):
        n = self.now()
        return self.rng.int_in(0, 0xFFFFFFFF, (n, n - 1, n + 1, n - 61, n + 59, T0 - DAY, T0 + 10 * DAY, T0 + 10 * DAY + 1, n + 400 * DAY))

    def key_time(self):
        """A key's claimed time: mostly its clock's (so a credential's other checks decide), or any."""
        return self.now() + self.rng.below(120) if self.rng.pct(70) else self.time_value()

    def target(self):
        return self.rng.int_in(0, 0xFFFFFFFF, (LOCK_ID, FOREIGN_LOCK_ID, SOLO_LOCK_ID, GROUP, 0))

    def compartment(self):
        rng = self.rng
        r = rng.below(4)
        if r == 0:
            return MAIN
        if r == 1:
            return SOLO
        return (rng.pick((codec.TARGET_LOCK, codec.TARGET_GROUP)), self.target())

    def right(self):
        rng = self.rng
        return {
            "target": self.target(),
            "kind": rng.pick((codec.TARGET_LOCK, codec.TARGET_GROUP)),
            "days": rng.int_in(0, 255, (127, 1, 64)),
            "from_min": rng.int_in(0, 65535, (0, 480, 1439, 1440)),
            "to_min": rng.int_in(0, 65535, (1440, 1080, 0, 1)),
        }

    def random_macs(self):
        rng = self.rng
        out = []
        for _ in range(rng.pick((0, 1, 1, 2, 3, 32))):
            kind, target = self.compartment()
            out.append({"kind": kind, "target": target, "mac": rng.data(16)})
        return out

    def tamper_macs(self, macs):
        """A signed object's MACs after an attacker's edit."""
        rng = self.rng
        macs = [dict(m) for m in macs]
        r = rng.below(6)
        if r == 0 and macs:  # a bit flipped
            m = rng.pick(macs)
            mac = bytearray(m["mac"])
            mac[rng.below(16)] ^= 1 << rng.below(8)
            m["mac"] = bytes(mac)
        elif r == 1 and macs:  # moved to another compartment's label
            m = rng.pick(macs)
            m["kind"], m["target"] = rng.pick((MAIN, SOLO, self.compartment()))
        elif r == 2 and macs:  # one dropped
            macs.pop(rng.below(len(macs)))
        elif r == 3:  # a forged one added before or after
            kind, target = rng.pick((MAIN, SOLO))
            forged = {"kind": kind, "target": target, "mac": rng.data(16)}
            macs = [forged] + macs if rng.pct(50) else macs + [forged]
        elif r == 4:  # reordered
            macs = macs[::-1]
        else:  # none
            macs = []
        return macs

    def credential(self, key_id=None):
        """A credential as an attacker or a confused server might present it."""
        rng = self.rng
        r = rng.below(100)
        kid = key_id if key_id is not None else rng.pick((KEY_ID, OTHER_KEY_ID, COMPARTMENT_KEY_ID, FOREIGN_KEY_ID))
        if r < 15:  # a genuine one: the key's (both compartments), the other compartment's key's, the other site's
            return dict(rng.pick((self.cred, self.cred, self.ck_cred, self.foreign_cred)))
        if r < 35:
            return self.resigned(kid)
        if r < 47:  # a genuine one with a field or its MACs changed after signing
            c = dict(rng.pick((self.cred, self.ck_cred)))
            f = rng.pick(("key_id", "valid_until", "not_after", "not_before", "rights", "macs", "macs", "blocklist_version"))
            if f == "rights":
                c["rights"] = [self.right() for _ in range(1 + rng.below(2))]
            elif f == "macs":
                c["macs"] = self.tamper_macs(c["macs"])
            else:
                c[f] = (c[f] + 1 + rng.below(3 * DAY)) & 0xFFFFFFFF
            return c
        if r < 80:  # signed by a server: for this compartment (mostly), another, another site's, or relabelled
            start = self.now() - rng.below(20 * DAY)
            c = {
                "key_id": kid if rng.pct(80) else self.u32(),
                "issued_at": start,
                "not_before": start - rng.below(2 * DAY),
                "not_after": start + rng.below(400 * DAY),
                "valid_until": start + rng.below(20 * DAY),
                "offset_change_at": start + rng.below(20 * DAY) if rng.pct(30) else 0,  # a daylight-saving change
                "offset_change_min": rng.pick((-60, 60, 30, -32768, 32767)),
                "blocklist_version": rng.below(8),
                "warn_permille": 0,
                "rights": [self.right() for _ in range(rng.below(4))],
                "macs": [],
            }
            return signed.sign_credential(self.signers[0] if r < 60 else rng.pick(self.signers), c)
        return {
            "key_id": self.u32(),
            "issued_at": self.time_value(),
            "not_before": self.time_value(),
            "not_after": self.time_value(),
            "valid_until": self.time_value(),
            "offset_change_at": self.time_value(),
            "offset_change_min": rng.pick((-60, 60, -32768, 32767, 0)),
            "blocklist_version": self.u32(),
            "warn_permille": 0xFFFF,  # a constant: the campaign's random sequence stays as recorded
            "rights": [self.right() for _ in range(rng.pick((0, 1, 2, 3, 40, 255)))],
            "macs": self.random_macs(),
        }

    def resigned(self, kid, lu=None):
        """The key's rights and times for key `kid`, signed for this compartment, another one,
        another site's, relabelled ... (self.signers); for the lock `lu`, often for the site's
        compartment that is not the lock's only."""
        rng = self.rng
        c = dict(self.cred)
        c["key_id"] = kid
        signers = rng.pick(self.signers)
        if lu is not None and lu.lock is not None and rng.pct(50):
            signers = [rng.pick([s for s in self.key_servers if (s[0], s[1]) != lu.lock["compartment"]])]
        return signed.sign_credential(signers, c)

    def blocklist(self):
        rng = self.rng
        v = rng.int_in(0, 0xFFFFFFFF, (self.blocklist_version, self.blocklist_version + 1, 0, 1))
        n = 4000 if rng.pct(1) else rng.below(6)
        ids = [rng.int_in(0, 0xFFFFFFFF, (KEY_ID, OTHER_KEY_ID, COMPARTMENT_KEY_ID, 5000)) for _ in range(n)]
        r = rng.below(100)
        if r < 50:  # signed: for this compartment, another only, another site's, relabelled
            update = signed.sign_blocklist(rng.pick(self.signers), v, ids)
            if rng.pct(15):
                update["macs"] = self.tamper_macs(update["macs"])
            return update
        return {"version": v, "key_ids": ids, "macs": self.random_macs()}

    def record(self):
        rng = self.rng
        return {
            "seq": rng.int_in(0, 0xFFFFFFFF, (0, 1, 2, 999, 1000)),
            "epoch": rng.int_in(0, 0xFFFF, (0, 1, 2)),
            "time": self.time_value(),
            "key_id": self.u32(),
            "lock_id": self.u32(),
            "outcome": rng.pick((0, 1)),
            "reason": rng.below(13),
            "count": rng.int_in(0, 0xFFFF, (1, 2, 0)),
            "mac": rng.data(8),
        }

    def secrets(self):
        """A GRANT's or VALIDATE's wrapped secrets, as garbage (the key stores what it unwraps)."""
        rng = self.rng
        out = []
        for _ in range(33 if rng.pct(3) else rng.pick((0, 0, 1, 2, 3))):  # 33: more than the codec takes
            kind, target = self.compartment()
            out.append({"kind": kind, "target": target, "wrapped": rng.data(32)})
        return out

    def message(self, t):
        """Random fields for message type t that the codec can encode (None: unknown type)."""
        rng = self.rng
        C = codec
        if t == C.T_HS_HELLO:
            return {
                "key_id": self.u32(),
                "nonce": rng.data(16),
                "protocol_version": rng.pick((codec.PROTOCOL_VERSION, codec.PROTOCOL_VERSION ^ 1, 0, 255)),
            }
        if t == C.T_HS_CHALLENGE:
            return {"nonce": rng.data(16), "compartment": compartment_field(self.compartment()), "proof": rng.data(8)}
        if t == C.T_HS_PROOF or t == C.T_HS_ACCEPT:
            return {"proof": rng.data(8)}
        if t == C.T_CREDENTIAL:
            return {"key_time": self.time_value(), "credential": self.credential()}
        if t == C.T_BLOCKLIST_UPDATE:
            return self.blocklist()
        if t == C.T_DECISION:
            return {"lock_id": self.u32(), "outcome": rng.pick((0, 1)), "reason": rng.below(13), "blocklist_version": self.u32()}
        if t == C.T_AUDIT_BATCH:
            return {
                "records": [self.record() for _ in range(64 if rng.pct(3) else rng.below(4))],
                "next_seq": rng.int_in(0, 0xFFFFFFFF, (0, 1, 2, 3, 1000)),
                "mac": rng.data(8) if rng.pct(70) else bytes(8),
            }
        if t == C.T_AUDIT_ACK:
            return {"lock_id": self.u32(), "up_to_seq": rng.int_in(0, 0xFFFFFFFF, (0, 1, 2, 3, 10, 999))}
        if t in (C.T_INFO_REQUEST, C.T_STATUS_REQUEST, C.T_TIME_REQUEST):
            return {}
        if t == C.T_INFO:
            return {
                "role": rng.pick((1, 2)),
                "device_id": self.u32(),
                "fw_major": rng.below(256),
                "fw_minor": rng.below(256),
                "fw_patch": rng.below(256),
                "protocol_version": rng.below(256),
                "board": rng.data(rng.below(33)),
            }
        if t == C.T_KEY_STATUS:
            return {
                "key_id": self.u32(),
                "battery_mV": rng.below(65536),
                "soc_permille": rng.below(65536),
                "flags": rng.below(256),
                "time": self.time_value(),
                "valid_until": self.time_value(),
                "offset_change_at": 0,
                "offset_change_min": 0,
                "paired_phone": self.u32(),
                "temperature_dC": rng.int_in(-32768, 32767),
            }
        if t == C.T_LOCK_STATUS:
            return {
                "lock_id": self.u32(),
                "blocklist_version": self.u32(),
                "blocklist_size": rng.below(65536),
                "events": rng.below(65536),
                "highest_time": self.time_value(),
                "temperature_dC": rng.int_in(-32768, 32767),
            }
        if t == C.T_TIME:
            return {"unix_s": self.time_value(), "clock_set": rng.below(256)}
        if t == C.T_TIME_SET:
            return {"unix_s": self.time_value()}
        if t == C.T_PROVISION:
            role = rng.pick((C.ROLE_KEY, C.ROLE_LOCK))
            device_id = rng.int_in(0, 0xFFFFFFFF, (KEY_ID, LOCK_ID, OTHER_KEY_ID, SOLO_LOCK_ID))
            epoch = rng.int_in(0, 0xFFFF, (0, 1, 2, 3))
            compartment = self.compartment() if role == C.ROLE_LOCK or rng.pct(20) else NO_COMPARTMENT
            if rng.pct(35):  # as the server would make it
                secret = device_secret(MASTER, role, device_id, epoch)
                if role == C.ROLE_KEY:
                    shared = NO_SECRET
                elif compartment == SOLO:
                    shared = self.solo_secret
                else:
                    shared = self.main_secret if rng.pct(80) else compartment_secret(MASTER, compartment)
            else:
                secret = rng.data(32)
                shared = rng.pick((NO_SECRET, self.main_secret, rng.data(32)))
            return {
                "role": role,
                "device_id": device_id,
                "groups": [rng.int_in(0, 0xFFFFFFFF, (GROUP,)) for _ in range(rng.below(17))],
                "compartment": compartment_field(compartment),
                "epoch": epoch,
                "secret": secret,
                "compartment_secret": shared,
            }
        if t == C.T_GRANT:
            return {"credential": self.credential(KEY_ID if rng.pct(50) else None), "secrets": self.secrets()}
        if t == C.T_VALIDATE:
            return {
                "server_time": self.time_value(),
                "credential": self.credential(KEY_ID if rng.pct(50) else None),
                "secrets": self.secrets(),
                "uploaded_to": rng.int_in(0, 0xFFFFFFFF, (0, 1, 10, 1000, 0xFFFFFFFF)),
            }
        if t == C.T_AUDIT_READ:
            max_count = 0 if rng.pct(30) else rng.int_in(0, 255, (0, 1, 64, 65))
            return {"from_seq": rng.int_in(0, 0xFFFFFFFF, (0, 1, 10, 999, 1000, 0xFFFFFFFF)), "max_count": max_count}
        if t == C.T_PAIR or t == C.T_UNPAIR:
            return {"phone_id": rng.int_in(0, 0xFFFFFFFF, (1, 2, 0))}
        if t == C.T_RESULT:
            return {"code": rng.pick(_ERROR_CODES)}
        if t == T_KEY_CHALLENGE_REQUEST:
            return {}
        if t == T_KEY_CHALLENGE:
            return {
                "key_id": self.u32(),
                "nonce": rng.data(16),
                "protocol_version": rng.pick((codec.PROTOCOL_VERSION, codec.PROTOCOL_VERSION ^ 1, 0, 255)),
            }
        if t == T_SIGNED_COMMAND:
            inner = rng.pick(SIGNED_COMMANDS) if rng.pct(80) else rng.pick(ALL_TYPES)
            return {"command": inner, "body": self.body(inner), "mac": rng.data(16)}
        return None

    def body(self, t, u=None, nonce=None):
        """A command's encoded fields, now and then broken. A GRANT or VALIDATE for the key `u`
        under `nonce` is often what the server would sign (server_grant)."""
        rng = self.rng
        m = self.message(t) if t != T_SIGNED_COMMAND else None
        if m is not None and t in (codec.T_GRANT, codec.T_VALIDATE) and nonce is not None and u is not None and rng.pct(60):
            m = self.server_grant(u, nonce, m)
        try:
            body = codec.encode(t, m) if m is not None else rng.data(rng.below(40))
        except Exception:
            body = rng.data(rng.below(40))
        if rng.pct(10):
            body = body[: rng.below(len(body) + 1)] if rng.pct(50) else body + rng.data(1 + rng.below(4))
        return body[:_MAX_COMMAND_BODY]  # what a SIGNED_COMMAND can carry at all

    def server_grant(self, u, nonce, m):
        """A GRANT's or VALIDATE's fields as the server signs them for the key `u`: a
        credential for some of the site's compartments and the key's secrets for them, wrapped
        for `nonce` (now and then for another nonce: the key stores garbage it cannot use)."""
        rng = self.rng
        r = rng.below(3)
        compartments = self.compartment_secrets if r == 0 else [self.compartment_secrets[r - 1]]
        servers = [self.main if c[:2] == MAIN else self.solo for c in compartments]
        start = self.now() - rng.below(DAY)
        m = dict(m)
        m["credential"] = self.credential_for(u.key_id, start, servers=servers, days=1 + rng.below(20), blocklist_version=rng.below(4))
        m["secrets"] = wrapped_secrets(u.secret, u.key_id, nonce if rng.pct(90) else rng.data(16), compartments)
        if "server_time" in m:
            m["server_time"] = start + rng.below(120)
        return m

    def signed_episode(self, u):
        """A key's signed host command: challenge, then a SIGNED_COMMAND signed by the server
        for that nonce (or not, or for an old nonce), then perhaps the same frame again."""
        rng = self.rng
        nonce = None
        if rng.pct(90):
            nonce = _challenge_nonce(self.host_call(u, frame.encode_message(T_KEY_CHALLENGE_REQUEST, rng.below(256), {})))
        if nonce is not None and u.secret is not None and rng.pct(80):
            t = rng.pick(SIGNED_COMMANDS) if rng.pct(85) else rng.pick(ALL_TYPES)
            body = self.body(t, u, nonce)
            raw = frame.encode_message(
                T_SIGNED_COMMAND, rng.below(256), {"command": t, "body": body, "mac": self.command_mac(u, nonce, t, body)}
            )
        elif self.last_signed is not None and rng.pct(50):
            raw = self.last_signed
        else:
            raw = self.typed(T_SIGNED_COMMAND, mac_pct=0)
        self.last_signed = raw
        self.host_call(u, raw)
        if rng.pct(20):
            self.host_call(u, raw)

    def typed(self, t, mac_pct=25):
        """A frame of type t with random fields, plain or with a random MAC; a random payload
        when the codec cannot encode the fields."""
        rng = self.rng
        seq = rng.below(256)
        m = self.message(t)
        if m is not None:
            try:
                payload = codec.encode(t, m)
            except Exception:
                payload = None
        else:
            payload = None
        if payload is None:
            payload = rng.data(rng.below(40))
        if rng.pct(mac_pct):
            return _frame(t | codec.SECURED, seq, payload + rng.data(8))
        return _frame(t, seq, payload)

    def random_bytes(self):
        rng = self.rng
        r = rng.below(4)
        n = rng.below(48)
        if r == 0:
            return rng.data(n)
        if r == 1:
            return b"\xa5" + rng.data(n)
        if r == 2:
            return b"\xa5" + pack("<H", rng.int_in(0, 0xFFFF, (0, 1, 2, 16384, 16385))) + rng.data(n)
        return _frame(rng.below(256), rng.below(256), rng.data(n))

    def flip(self, g):
        rng = self.rng
        b = bytearray(g or rng.data(1 + rng.below(16)))
        for _ in range(1 + rng.below(3)):
            b[rng.below(len(b))] ^= 1 << rng.below(8)
        if rng.pct(60):
            _fix_crc(b)
        return bytes(b)

    def resize(self, g):
        rng = self.rng
        if len(g) < 9:
            return g + rng.data(1 + rng.below(8))
        r = rng.below(5)
        if r == 0:
            return g[: rng.below(len(g))]
        if r == 1:
            return g + rng.data(1 + rng.below(8))
        payload = g[5:-4]
        if r == 2:
            payload = payload[: rng.below(len(payload) + 1)]
        elif r == 3:
            payload = payload + rng.data(1 + rng.below(8))
        elif payload:
            i = rng.below(len(payload))
            payload = payload[:i] + payload[i + 1 :]
        return _frame(g[3], g[4], payload)

    def header_edit(self, g):
        rng = self.rng
        if len(g) < 9:
            return self.random_bytes()
        b = bytearray(g)
        r = rng.below(4)
        if r == 0:
            b[3] = (b[3] & codec.SECURED) | rng.pick(ALL_TYPES)
        elif r == 1:
            b[3] ^= codec.SECURED
        elif r == 2:
            b[3] = rng.pick((0, 5, 15, 21, 63, 78, 80, 127, 255))
        else:
            b[4] = (b[4] + 1 + rng.below(255)) & 0xFF
        _fix_crc(b)
        return bytes(b)

    def replay(self):
        n = min(self.hpos, _HISTORY)
        if n == 0:
            return self.random_bytes()
        return self.hist[self.rng.below(n)]

    def insider_to_lock(self, lu):
        """A frame sealed as the key in the lock's session, by someone with the key's secret
        for the lock's compartment."""
        w = lu.witness
        if w.keys is None or w.to_lock is None:
            return None
        rng = self.rng
        s = session.Session(w.keys[1], w.keys[2])
        s.sent = w.to_lock.received
        r = rng.below(100)
        if r < (85 if w.phase == "after_proof" else 35):  # most often where the lock decides
            cred = self.resigned(w.keys[0], lu) if rng.pct(20) else self.credential(w.keys[0])
            t, m = codec.T_CREDENTIAL, {"key_time": self.key_time(), "credential": cred}
        elif r < 92:
            t = rng.pick((codec.T_BLOCKLIST_UPDATE, codec.T_BLOCKLIST_UPDATE, codec.T_AUDIT_READ, codec.T_AUDIT_READ, codec.T_AUDIT_ACK))
            m = self.message(t)
        else:
            t = rng.pick(ALL_TYPES)
            m = self.message(t)
        try:
            return s.seal(t, rng.below(256), m)
        except Exception:
            return None

    def insider_to_key(self, ku, lu):
        """A frame sealed as the lock in the key's session (a rogue holder of the lock's
        compartment secret)."""
        w = lu.witness
        if w.keys is None or w.to_key is None:
            return None
        rng = self.rng
        counter = getattr(getattr(ku.app, "_session", None), "received", None)
        s = session.Session(w.keys[2], w.keys[1])
        s.sent = counter if isinstance(counter, int) else w.to_key.received
        t = rng.pick((codec.T_DECISION, codec.T_RESULT, codec.T_AUDIT_BATCH)) if rng.pct(60) else rng.pick(ALL_TYPES)
        try:
            return s.seal(t, rng.below(256), self.message(t))
        except Exception:
            return None

    def insider_proof(self, lu):
        """A PROOF that holds for the handshake the lock answered last (the key's secret for
        the lock's compartment known)."""
        w = lu.witness
        if w.pending is None or w.compartment_prf is None:
            return None
        hello, challenge = w.pending
        if len(hello) != HELLO_BYTES or len(challenge) != CHALLENGE_BYTES:
            return None
        key_id = unpack_from("<L", hello, 5)[0]
        prf = crypto.HmacKey(crypto.key_secret(w.compartment_prf, key_id))
        s = crypto.derive(prf, b"keylock session", key_id.to_bytes(4, "big") + hello[9:25] + challenge[5:21], 32)
        head = pack("<HBB", 10, codec.T_HS_PROOF, (challenge[4] + 1) & 0xFF)
        proof = crypto.HmacKey(s[:16]).mac(b"K" + hello[1:-4] + challenge[1:-4] + head)[:8]
        return _frame(codec.T_HS_PROOF, head[3], proof)

    def rogue_lock_frame(self):
        """A CHALLENGE or ACCEPT from a rogue lock that holds a compartment's secret (the
        group's, or the solo lock's: the key has rights in both)."""
        if not self.rogues:
            return None
        rogue = self.rng.pick(self.rogues)
        try:
            if self.last_key_proof is not None and self.rng.pct(40):
                return rogue.on_proof(self.last_key_proof)
            if self.last_key_hello is not None:
                return rogue.on_hello(self.last_key_hello)
        except Exception:
            return None
        return None

    def mutant(self, g, to_lock, ku, lu):
        rng = self.rng
        r = rng.below(100)
        out = None
        if r < 8:
            out = self.random_bytes()
        elif r < 28:
            out = self.flip(g)
        elif r < 38:
            out = self.resize(g)
        elif r < 46:
            out = self.header_edit(g)
        elif r < 62:
            out = self.typed(rng.pick(ALL_TYPES))
        elif r < 80:
            out = self.insider_to_lock(lu) if to_lock else self.insider_to_key(ku, lu)
        elif r < 92:
            out = self.replay()
        else:
            out = self.insider_proof(lu) if to_lock else self.rogue_lock_frame()
        return out if out is not None else self.typed(rng.pick(ALL_TYPES))

    # --- episodes ---------------------------------------------------------------------------

    def deliver(self, to_lock, g, ku, lu, p):
        """Deliver the genuine frame g (key->lock or lock->key), perhaps tampered with (p %)."""
        call = (lambda raw: self.lock_call(lu, raw)) if to_lock else (lambda raw: self.key_call(ku, raw))
        rng = self.rng
        if not rng.pct(p):
            return call(g)
        op = rng.below(4)
        if op == 0:  # replaced
            return call(self.mutant(g, to_lock, ku, lu))
        if op == 1:  # injected before it; the attacker swallows the answers
            for _ in range(1 + rng.below(3)):
                call(self.mutant(g, to_lock, ku, lu))
            return call(g)
        if op == 2:  # delivered twice
            out = call(g)
            call(g)
            return out
        out = call(g)  # then something else
        call(self.mutant(g, to_lock, ku, lu))
        return out

    def inject(self, u, n, ku, lu):
        for _ in range(n):
            if u.role == "key":
                self.key_call(u, self.mutant(self.replay(), False, ku, lu))
            else:
                self.lock_call(u, self.mutant(self.replay(), True, ku, lu))

    def transaction(self, ku, lu, managed=False, p=None):
        """A key inserted into a lock: the lock boots, the key drives, frames are tampered with
        (in p % of the frames; p None: a random share, often none)."""
        rng = self.rng
        self.transactions += 1
        if managed:  # the harness keeps the key's clock moving and within its credential
            ku.dev.rtc_s = self.now() + 1 + rng.below(120)
        saved = (ku.dev.battery_permille, ku.dev.rtc_s, lu.dev.temperature_dC)
        if rng.pct(5):
            ku.dev.battery_permille = rng.pick((0, 100, 150, 151))
        if rng.pct(3):
            ku.dev.rtc_s = None
        if rng.pct(5):
            lu.dev.temperature_dC = rng.pick((-400, -251, -250, 850, 851, 1200))
        if rng.pct(2):
            self.boot(ku)  # the key reset too
        self.boot(lu)  # powered by the key: boots at every insertion
        if p is None:
            p = 0 if rng.pct(25) else rng.pick((10, 25, 50))
        if rng.pct(15):
            self.inject(ku, 1 + rng.below(3), ku, lu)  # the key, idle
        if rng.pct(15):
            self.inject(lu, 1 + rng.below(3), ku, lu)  # the lock, before any HELLO
        out = self.begin(ku)
        steps = 0
        while out is not None and steps < 10:
            steps += 1
            reply = self.deliver(True, out, ku, lu, p)
            if reply is None:
                if not rng.pct(30):
                    self.link_lost(ku)
                    break
                reply = self.mutant(self.replay(), False, ku, lu)  # someone answers for the silent lock
            out = self.deliver(False, reply, ku, lu, p)
        if rng.pct(15):
            self.inject(ku, 1 + rng.below(3), ku, lu)  # after the transaction
        if rng.pct(15):
            self.inject(lu, 1 + rng.below(3), ku, lu)
        ku.dev.battery_permille, rtc, lu.dev.temperature_dC = saved
        if managed or ku.dev.rtc_s is None:
            ku.dev.rtc_s = rtc

    def rogue_secret(self, lu, kid):
        """The secret a rogue key proves with, as a KeyInitiator's secret_for: the key's for the
        lock's compartment (an insider), for another compartment of the site or another site's
        of the same name (it proves nothing here), or a guess."""
        rng = self.rng
        w = lu.witness
        r = rng.below(10)
        if r < 7 and w.compartment_prf is not None:
            secret = crypto.key_secret(w.compartment_prf, kid)
        elif r < 9:
            secret = self.key_secret(kid, rng.pick((self.main_secret, self.solo_secret, self.foreign_secret)))
        else:
            secret = rng.data(32)
        prf = crypto.HmacKey(secret)
        holds_none = rng.pct(5)  # a key with no secret for the lock's compartment at all

        def secret_for(kind, target):
            return None if holds_none else prf

        return secret_for

    def rogue_key(self, lu):
        """Someone holding a key's secret runs a handshake and presents credentials."""
        rng = self.rng
        self.transactions += 1
        self.boot(lu)
        kid = rng.pick((KEY_ID, KEY_ID, OTHER_KEY_ID, COMPARTMENT_KEY_ID, self.u32()))
        k = handshake.KeyInitiator(kid, self.rogue_secret(lu, kid))
        challenge = self.lock_call(lu, k.hello())
        if challenge is None:
            return
        try:
            proof = k.on_challenge(challenge)
        except Exception:
            return
        accept = self.lock_call(lu, proof)
        if accept is None:
            return
        try:
            s = k.on_accept(accept)
        except Exception:
            return
        first = codec.T_BLOCKLIST_UPDATE if rng.pct(25) else codec.T_CREDENTIAL  # a blocklist first, as a key may
        for i in range(1 + rng.below(4)):
            if i == 0 and first == codec.T_BLOCKLIST_UPDATE:
                t, m = first, self.blocklist()
            elif i == 0 or rng.pct(30):
                cred = self.resigned(kid, lu) if rng.pct(60) else self.credential(kid)
                t, m = codec.T_CREDENTIAL, {"key_time": self.key_time(), "credential": cred}
            elif rng.pct(25):
                t, m = codec.T_AUDIT_READ, {"from_seq": self.u32(), "max_count": rng.pick((0, 0, 1, 64, 255))}
            else:
                t = rng.pick((codec.T_BLOCKLIST_UPDATE, codec.T_AUDIT_READ)) if rng.pct(50) else rng.pick(ALL_TYPES)
                m = self.message(t)
            try:
                f = s.seal(t, i + 1, m)
            except Exception:
                continue
            reply = self.lock_call(lu, f)
            if reply is not None:
                try:
                    s.open(reply)
                except Exception:
                    pass

    def proof_burst(self, lu):
        """Bad PROOFs in a row, each answering a fresh CHALLENGE (keys that prove with another
        compartment's or another site's secret, or guess), then a genuine transaction. The
        burst must write no audit record, and the decision's first record must count at
        least the failures the lock checkpointed (the 1st, 2nd, 4th ... of a power-up)."""
        rng = self.rng
        self.transactions += 1
        self.cover("lock.proof_burst")
        self.boot(lu)
        w = lu.witness
        log = getattr(lu.app, "log", None)
        if log is None or w.compartment_prf is None or lu.lock is None:
            return
        before = log.next_seq
        n = rng.pick((1, 2, 3, 5, 8, 17, 40))
        failed = 0
        for _ in range(n):
            kid = rng.pick((KEY_ID, COMPARTMENT_KEY_ID, FOREIGN_KEY_ID, self.u32()))
            secret = rng.pick((self.main_secret, self.solo_secret, self.foreign_secret, rng.data(32)))
            if secret == lu.lock["compartment_secret"]:
                secret = rng.data(32)  # never the lock's own compartment's
            prf = crypto.HmacKey(crypto.key_secret(crypto.HmacKey(secret), kid))
            k = handshake.KeyInitiator(kid, lambda kind, target, prf=prf: prf)
            challenge = self.lock_call(lu, k.hello())
            if challenge is None:
                continue
            proof = None
            try:
                proof = k.on_challenge(challenge)  # it cannot check the lock's proof: it fails here
            except Exception:
                pass
            if proof is None:  # it sends a PROOF all the same, made up
                proof = _frame(codec.T_HS_PROOF, challenge[4] + 1, rng.data(8))
            if self.lock_call(lu, proof) is None:
                failed += 1
            if rng.pct(10):
                self.lock_call(lu, proof)  # again, to the same CHALLENGE (the lock may count it: not counted here)
        if getattr(lu.app, "log", log).next_seq != before:
            self.finding("bad_evidence", lu, "proof_burst", b"", "a burst of bad PROOFs wrote audit records")
            return
        self.transaction(self.K, lu, managed=True, p=0)
        app = lu.app
        if failed == 0 or app is None or app.log.next_seq == before:
            return  # no decision was made: nothing to check
        least = 1
        while least * 2 <= failed:
            least *= 2
        reply = self.host_call(lu, frame.encode_message(codec.T_AUDIT_READ, 1, {"from_seq": before, "max_count": 1}))
        answer = _decode(reply) if reply is not None else None
        records = answer[1]["records"] if answer is not None and answer[0] == codec.T_AUDIT_BATCH else []
        r = records[0] if records else None
        if r is None or r["reason"] != codec.DENIAL_AUTH_FAILED or r["count"] < least:
            got = "missing" if r is None else f"reason {r['reason']} count {r['count']}"
            why = f"{failed} failed PROOFs, then a decision whose first record is {got}"
            self.finding("bad_evidence", lu, "proof_burst", b"", why)

    def host_frame(self):
        rng = self.rng
        r = rng.below(100)
        if r < 6:  # a read as a phone app or tester makes it, often of nothing
            m = {"from_seq": rng.int_in(0, 0xFFFFFFFF, (0, 1, 2, 1000)), "max_count": rng.pick((0, 0, 1, 64))}
            return frame.encode_message(codec.T_AUDIT_READ, rng.below(256), m)
        if r < 55:
            return self.typed(rng.pick(HOST_TYPES), mac_pct=15)
        if r < 65:
            return self.typed(rng.pick(ALL_TYPES), mac_pct=15)
        if r < 80:
            g = self.typed(rng.pick(HOST_TYPES), mac_pct=0)
            return rng.pick((self.flip, self.resize, self.header_edit))(g)
        if r < 90:
            return self.random_bytes()
        return self.replay()

    def host_burst(self, u):
        for _ in range(3 + self.rng.below(12)):
            if u.role == "key" and T_SIGNED_COMMAND is not None and self.rng.pct(30):
                self.signed_episode(u)
            else:
                self.host_call(u, self.host_frame())

    def refresh(self):
        """The server gives the key a newer signed blocklist (for both its compartments) and
        now and then, after reading the events it carries, a credential naming it, so the next
        transaction hands the blocklist over first (and later ones, after the decision)."""
        self.blocklist_version += 1
        v = self.blocklist_version
        update = signed.sign_blocklist(self.key_servers, v, [5000 + i for i in range(v % 5)])
        self.command(self.K, codec.T_BLOCKLIST_UPDATE, update)
        if self.rng.pct(50):
            uploaded = self.upload(self.K)
            now = self.now()
            self.cred = self.credential_for(KEY_ID, now - 60, blocklist_version=v)
            fields = {"server_time": now, "credential": self.cred, "uploaded_to": uploaded}
            self.command(self.K, codec.T_VALIDATE, fields, True, self.compartment_secrets)

    def upload(self, ku):
        """The server reads the events the key carries from where its copy ends (the key's MAC
        on each batch is checked in host_call); where its copy now ends."""
        pos = ku.uploaded
        for _ in range(4):
            reply = self.host_call(ku, frame.encode_message(codec.T_AUDIT_READ, 1, {"from_seq": pos, "max_count": 64}))
            answer = _decode(reply) if reply is not None else None
            if answer is None or answer[0] != codec.T_AUDIT_BATCH or not answer[1]["records"]:
                break
            pos = answer[1]["next_seq"]
        ku.uploaded = pos
        return pos

    def reset(self, units):
        for u in units:
            u.restore()
            self.boot(u)
        if self.K in units:
            self.blocklist_version = 2
            self.cred = self.pristine_cred
            self.K.dev.rtc_s = T0 + 3600

    def fuzz(self, frames, progress=None):
        rng = self.rng
        t0 = _now_ms()
        contact = 0
        next_report = 10000
        while self.frames < frames:
            r = rng.below(100)
            if r < 48:
                contact += 1
                if contact % 4 == 0:
                    self.refresh()
                self.transaction(self.K, self.L, managed=True)
            elif r < 52:
                self.transaction(rng.pick((self.K, self.CK)), self.SL, managed=True)  # the other compartment
            elif r < 55:
                self.transaction(self.CK, self.L, managed=True)  # a key of the other compartment: no PROOF
            elif r < 58:
                self.transaction(self.K, self.FL, managed=True)
            elif r < 61:
                self.transaction(self.FK, self.L)
            elif r < 72:
                self.rogue_key(self.L if rng.pct(80) else self.SL)
            elif r < 75:
                self.proof_burst(self.L if rng.pct(80) else self.SL)
            elif r < 89:
                u = rng.pick((self.HK, self.HL, self.UK, self.UL))
                self.host_burst(u)
                if u in (self.UK, self.UL) and getattr(u.app, "cfg", None) is not None and rng.pct(30):
                    self.reset([u])
                elif u.host_frames > 300:
                    self.reset([u])
            else:
                self.transaction(rng.pick((self.HK, self.HK, self.UK)), rng.pick((self.HL, self.UL)))
            if contact >= 300:
                contact = 0
                self.reset([self.K, self.L, self.SL, self.CK, self.FK, self.FL])
            if progress is not None and self.frames >= next_report:
                next_report += 10000
                progress(self.frames, self.escaped, self.unauthorised_pulses)
        self.elapsed_ms = _since_ms(t0)

    def summary(self):
        seconds = self.elapsed_ms / 1000
        return {
            "runtime": sys.implementation.name,
            "seed": self.seed,
            "frames": self.frames,
            "contact_frames": self.contact_frames,
            "host_frames": self.host_frames,
            "begins": self.begins,
            "transactions": self.transactions,
            "seconds": round(seconds, 3),
            "frames_per_s": round(self.frames / seconds, 1) if seconds > 0 else 0,
            "escaped": self.escaped,
            "escaped_by": self.escaped_by,
            "examples": self.examples,
            "pulses": self.pulses,
            "authorised_pulses": self.authorised_pulses,
            "unauthorised_pulses": self.unauthorised_pulses,
            "accepted_bad_proofs": self.bad_accepts,
            "accepted_bad_blocklists": self.bad_blocklists,
            "bad_evidence": self.bad_evidence,
            "unauthorised_examples": self.unauthorised_examples,
            "malformed_replies": self.malformed_replies,
            "malformed_examples": self.malformed_examples,
            "coverage": self.coverage,
        }


def run(frames=5000, seed=1, max_examples=5, progress=None, key_cls=None, lock_cls=None, folder=None):
    """Fuzz both apps for at least `frames` frames (both links); the summary dict."""
    fz = Fuzzer(seed, key_cls, lock_cls, folder, max_examples)
    try:
        fz.setup()
        fz.fuzz(frames, progress)
    finally:
        fz.close()
    return fz.summary()


if __name__ == "__main__":  # python -m keylock.benchmarks.fuzz_apps_core, or as a MicroPython script
    print(json.dumps(run(2000, 1)))
