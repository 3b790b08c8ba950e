# App-level fuzzing of the key and lock firmware, in every transaction state, on both links.
# Runtime neutral: imported by benchmarks/fuzz_apps.py and tests/firmware/test_fw_fuzz_apps.py
# on CPython, and run on MicroPython (as a module next to a small script, or the tests).
#
#   run(frames=N, seed=S) -> a summary dict (JSON-able)
#
# What it drives, through the apps' own entry points only (begin, on_lock_frame, link_lost,
# on_key_frame, on_host_frame, and construction, which is a boot):
# - the contact link: a key and a lock provisioned with a site secret, a signed credential
#   and a signed blocklist run real transactions (the lock boots at every insertion; the
#   server refreshes the key's blocklist and credential now and then); frames are replaced,
#   injected before the genuine one, duplicated or sent into silence, in every state of both
#   (key: KEY_STATES; lock: LOCK_STATES, as the wire shows them, and unprovisioned). Mutants: random bytes, bit flips (CRC kept wrong
#   or recomputed as an attacker would), truncation and extension (framing kept consistent
#   or not), header edits, frames of every message type with random payloads built by the
#   firmware codec (plain or with a random MAC), frames sealed with the real session keys
#   by an insider who holds a key's secret (every type, and crafted credentials), a valid
#   PROOF from such an insider, a rogue lock's CHALLENGE and ACCEPT, replays of earlier
#   frames (either direction, any transaction). Also a key and a lock of another site, and
#   a rogue key that runs its own handshake with a key secret and presents credentials.
# - the host link: on_host_frame of a provisioned and an unprovisioned key and lock, with
#   structured frames of every host request, every other message type, mutants, random
#   bytes and replays, and (when the codec has them) a key's signed commands: challenge,
#   then a command signed for that nonce by the server, or not, or replayed; then contact
#   transactions between the apps the host link changed.
# - the oracle: every call is wrapped (except Exception: counted, with type, state, input
#   hex and the raising line); every reply must be one well-formed frame; every motor pulse
#   is judged by a witness that knows only the site secret and the frames on the wire: it
#   must happen while the lock handles a frame that opens under a session whose key PROOF
#   the witness verified itself, that frame a CREDENTIAL whose server MAC holds for the
#   authenticated key id, and the reply a sealed GRANTED DECISION. A lock that ACCEPTs a
#   PROOF the witness cannot verify is counted too.
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

SITE = bytes(range(100, 132))
OTHER_SITE = bytes(range(200, 232))
KEY_ID = 1001
OTHER_KEY_ID = 1002  # same site, never issued a credential by the harness's server
FOREIGN_KEY_ID = 2001  # a key of the other site
LOCK_ID = 7
FOREIGN_LOCK_ID = 8
GROUP = 50
T0 = 1700000000
DAY = 86400

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


def credential_verifies(server, cred):
    """The server's MAC over a credential, computed here from the spec (firmware/signed.py's
    comment), not with the firmware's own check: HMAC-SHA256 under server_key(site), 16 bytes,
    over b"credential" and the GRANT encoding without its MAC."""
    try:
        c = dict(cred)
        c["mac"] = bytes(16)
        body = codec.encode(codec.T_GRANT, {"credential": c})[:-16]
        return server.mac(b"credential" + body)[:16] == bytes(cred["mac"])
    except Exception:
        return False


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
        super().__init__(chip, secure.FileSecureStorage(unit.path + ".secure"))
        self.unit = unit
        self.output_count = 0

    def output(self, what, detail):
        self.output_count += 1

    def motor_pulse(self):
        self.unit.fuzzer.on_pulse(self.unit)


HELLO_BYTES = 9 + 4 + 16 + 1  # framing, key id, nonce, protocol version


class Witness:
    """What the harness knows of a lock's key link without its code: the site secret and the
    frames. It verifies the key's PROOF of the last handshake the lock answered with keys it
    derives itself, then follows that session both ways, and judges motor pulses."""

    def __init__(self, site=None):
        self.set_site(site)

    def set_site(self, site):
        self.site = crypto.HmacKey(site) if site is not None else None
        self.server = crypto.server_key(self.site) if site is not None else None
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
        if self.pending is None or self.site is None:
            return None
        hello, challenge = self.pending
        if len(hello) != HELLO_BYTES or len(challenge) != 33 or len(raw) != 17:
            return None
        key_id = unpack_from("<L", hello, 5)[0]
        nk, nl = hello[9:25], challenge[5:21]
        prf = crypto.HmacKey(crypto.key_secret(self.site, key_id))
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
        """Follow the lock's answer. Returns (decision fields or None, "bad_accept" or None)."""
        if pre is None:
            return None, None
        kind = pre[0]
        answer = _split(reply) if reply is not None else None
        if kind == "hello":
            if reply is not None and answer is not None and answer[0] == codec.T_HS_CHALLENGE and not answer[1]:
                self.pending = (bytes(raw), bytes(reply))  # any answered HELLO starts over
                self.keys = self.to_lock = self.to_key = None
                self.phase = "after_hello"
            return None, None
        if kind == "proof":
            if answer is None or answer[0] != codec.T_HS_ACCEPT or answer[1]:
                return None, None
            keys = self.verified_proof(raw)
            if keys is None:
                self.keys = self.to_lock = self.to_key = None
                return None, "bad_accept"
            self.keys = keys
            self.to_lock = session.Session(keys[2], keys[1])
            self.to_key = session.Session(keys[1], keys[2])
            self.phase = "after_proof"
            return None, None
        t = pre[1][0]
        if t == codec.T_CREDENTIAL:
            self.phase = "in_session"
        if reply is None or self.to_key is None:
            return None, None
        try:
            rt, _seq, m = self.to_key.open(reply)
        except Exception:
            return None, None
        return (m if rt == codec.T_DECISION else None), None

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
        if not credential_verifies(self.server, cred):
            return "the credential's server MAC does not hold"
        if cred["key_id"] != self.keys[0]:
            return f"credential of key {cred['key_id']} presented by key {self.keys[0]}"
        if decision is None or decision.get("outcome") != codec.OUTCOME_GRANTED:
            return "no sealed GRANTED decision answered it"
        return None


class Unit:
    """One device: its flash file, its FuzzDevice, its app (rebuilt at every boot)."""

    def __init__(self, fuzzer, name, role, folder):
        self.fuzzer = fuzzer
        self.name = name
        self.role = role
        self.cls = fuzzer.key_cls if role == "key" else fuzzer.lock_cls
        self.sectors = key_app.FLASH_SECTORS if role == "key" else lock_app.FLASH_SECTORS
        self.path = folder + "/" + name + ".flash"
        _remove(self.path)
        self.chip = flash.FileFlash(self.path, self.sectors)
        self.dev = FuzzDevice(self.chip, self)
        self.witness = Witness() if role == "lock" else None
        self.app = None
        self.image = []  # (sector, bytes) of the pristine flash
        self.site = None  # a lock's site secret as provisioned (for its witness)
        self.secret = None  # a key's own secret and id as provisioned (the server signs its commands)
        self.key_id = None
        self.pristine = (None, None, None)
        self.host_frames = 0

    def snapshot(self):
        self.pristine = (self.site, self.secret, self.key_id)
        size = self.chip.sector_size
        blank = b"\xff" * size
        self.image = []
        for s in range(self.sectors):
            data = self.chip.read(s * size, size)
            if data != blank:
                self.image.append((s, data))

    def restore(self):
        size = self.chip.sector_size
        for s in range(self.sectors):
            self.chip.erase(s)
        for s, data in self.image:
            self.chip.program(s * size, data)
        self.site, self.secret, self.key_id = self.pristine
        if self.witness is not None:
            self.witness.set_site(self.site)
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
        self.site = crypto.HmacKey(SITE)
        self.server = crypto.server_key(self.site)
        self.other_server = crypto.server_key(crypto.HmacKey(OTHER_SITE))
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
        self.rogue = None
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
        self.FK = Unit(self, "foreign_key", "key", folder)
        self.FL = Unit(self, "foreign_lock", "lock", folder)
        self.HK = Unit(self, "host_key", "key", folder)
        self.HL = Unit(self, "host_lock", "lock", folder)
        self.UK = Unit(self, "blank_key", "key", folder)
        self.UL = Unit(self, "blank_lock", "lock", folder)
        self.units = [self.K, self.L, self.FK, self.FL, self.HK, self.HL, self.UK, self.UL]
        for u in self.units:
            self.boot(u)
        self.pristine_cred = self.cred = self.credential_for(KEY_ID, T0)
        foreign_cred = self.credential_for(FOREIGN_KEY_ID, T0, lock_id=FOREIGN_LOCK_ID, server=self.other_server)
        blocklist = signed.sign_blocklist(self.server, self.blocklist_version, [5000, 5001])
        for u in (self.K, self.HK):
            self._setup(
                u, codec.T_PROVISION, {"role": codec.ROLE_KEY, "device_id": KEY_ID, "groups": [], "secret": self.key_secret(KEY_ID)}
            )
            self._setup(u, codec.T_VALIDATE, {"server_time": T0 + 3600, "credential": self.cred})
            self._setup(u, codec.T_BLOCKLIST_UPDATE, blocklist)
        secret = crypto.key_secret(crypto.HmacKey(OTHER_SITE), FOREIGN_KEY_ID)
        self._setup(self.FK, codec.T_PROVISION, {"role": codec.ROLE_KEY, "device_id": FOREIGN_KEY_ID, "groups": [], "secret": secret})
        self._setup(self.FK, codec.T_VALIDATE, {"server_time": T0 + 3600, "credential": foreign_cred})
        for u in (self.L, self.HL):
            self._setup(u, codec.T_PROVISION, {"role": codec.ROLE_LOCK, "device_id": LOCK_ID, "groups": [GROUP], "secret": SITE})
        self._setup(self.FL, codec.T_PROVISION, {"role": codec.ROLE_LOCK, "device_id": FOREIGN_LOCK_ID, "groups": [], "secret": OTHER_SITE})
        for u in self.units:
            u.snapshot()
            u.restore()
            self.boot(u)
        self.rogue = handshake.LockResponder(SITE)

    def _setup(self, u, t, m):
        code = self.command(u, t, m, False)
        if code != codec.ERR_OK:
            raise RuntimeError(f"fuzzer set-up: {u.name} refused {codec.NAMES[t]}: code {code}")

    def command(self, u, t, m, count=True):
        """The server's command to a device: plain, or signed for a key that takes it only so
        (KEY_CHALLENGE_REQUEST, then SIGNED_COMMAND bound to the key's nonce). Its RESULT code."""
        code = _result(self.host(u, frame.encode_message(t, 1, m), count))
        if code == ERR_NOT_SIGNED and ERR_NOT_SIGNED is not None and u.secret is not None:
            nonce = _challenge_nonce(self.host(u, frame.encode_message(T_KEY_CHALLENGE_REQUEST, 2, {}), count))
            if nonce is not None:
                body = codec.encode(t, m)
                mac = self.command_mac(u, nonce, t, body)
                raw = frame.encode_message(T_SIGNED_COMMAND, 3, {"command": t, "body": body, "mac": mac})
                code = _result(self.host(u, raw, count))
        return code

    def command_mac(self, u, nonce, t, body):
        return signed.command_mac(crypto.command_key(u.secret), u.key_id, nonce, t, body)  # pyright: ignore[reportAttributeAccessIssue]

    def host(self, u, raw, count):
        if count:
            return self.host_call(u, raw)
        reply = u.app.on_host_frame(raw)
        self.learn(u, raw, reply)
        return reply

    def learn(self, u, raw, reply):
        """What the server knows of a device it provisioned: a lock's site, a key's secret."""
        if _result(reply) != codec.ERR_OK:
            return
        try:
            t, _s, m, _mac = frame.decode(raw)
            if t == T_SIGNED_COMMAND and m["command"] == codec.T_PROVISION:
                t, m = codec.T_PROVISION, codec.decode(codec.T_PROVISION, m["body"])
        except Exception:
            return
        if t != codec.T_PROVISION:
            return
        if u.role == "lock" and m["role"] == codec.ROLE_LOCK:
            u.site = m["secret"]
            u.witness.set_site(m["secret"])
        elif u.role == "key" and m["role"] == codec.ROLE_KEY:
            u.secret, u.key_id = m["secret"], m["device_id"]

    def close(self):
        if self._saved_urandom is not None:
            hal.urandom = self._saved_urandom
            self._saved_urandom = None
        for u in self.units:
            try:
                u.chip.close()
            except Exception:
                pass
            _remove(u.path)
        self.units = []
        if not self._folder_given and self.folder:
            try:
                os.rmdir(self.folder)
            except OSError:
                pass

    def key_secret(self, key_id, site=None):
        return crypto.key_secret(site or self.site, key_id)

    def credential_for(self, key_id, start, lock_id=LOCK_ID, server=None, days=10, blocklist_version=1):
        cred = {
            "key_id": key_id,
            "issued_at": start,
            "not_before": start - DAY,
            "not_after": start + 365 * DAY,
            "valid_until": start + days * DAY,
            "offset_change_at": 0,
            "offset_change_min": 0,
            "blocklist_version": blocklist_version,
            "rights": [
                {"target": lock_id, "kind": codec.TARGET_LOCK, "days": codec.DAY_ALL, "from_min": 0, "to_min": 1440},
                {"target": GROUP, "kind": codec.TARGET_GROUP, "days": 31, "from_min": 480, "to_min": 1080},
            ],
            "mac": bytes(16),
        }
        return signed.sign_credential(server or self.server, cred)

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
        decision, bad = w.after(raw, pre, reply)
        if bad:
            self.bad_accepts += 1
            self.violation(u, state, raw, "the lock ACCEPTed a PROOF that does not hold")
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
        return reply

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
        return self.rng.int_in(0, 0xFFFFFFFF, (KEY_ID, OTHER_KEY_ID, FOREIGN_KEY_ID, LOCK_ID, FOREIGN_LOCK_ID, GROUP, n, n + DAY, T0, 0))

    def time_value(self):
        n = self.now()
        return self.rng.int_in(0, 0xFFFFFFFF, (n, n - 1, n + 1, n - 61, n + 59, T0 - DAY, T0 + 10 * DAY, T0 + 10 * DAY + 1, n + 400 * DAY))

    def right(self):
        rng = self.rng
        return {
            "target": rng.int_in(0, 0xFFFFFFFF, (LOCK_ID, FOREIGN_LOCK_ID, GROUP)),
            "kind": rng.pick((codec.TARGET_LOCK, codec.TARGET_GROUP)),
            "days": rng.int_in(0, 255, (127, 1, 64)),
            "from_min": rng.int_in(0, 65535, (0, 480, 1439, 1440)),
            "to_min": rng.int_in(0, 65535, (1440, 1080, 0, 1)),
        }

    def credential(self, key_id=None):
        """A credential as an attacker or a confused server might present it."""
        rng = self.rng
        r = rng.below(100)
        kid = key_id if key_id is not None else rng.pick((KEY_ID, OTHER_KEY_ID, FOREIGN_KEY_ID))
        if r < 20:
            return dict(self.cred)
        if r < 35:  # the genuine one with a field changed after signing
            c = dict(self.cred)
            f = rng.pick(("key_id", "valid_until", "not_after", "not_before", "rights", "mac", "blocklist_version"))
            if f == "rights":
                c["rights"] = [self.right() for _ in range(1 + rng.below(2))]
            elif f == "mac":
                mac = bytearray(c["mac"])
                mac[rng.below(16)] ^= 1 << rng.below(8)
                c["mac"] = bytes(mac)
            else:
                c[f] = (c[f] + 1 + rng.below(3 * DAY)) & 0xFFFFFFFF
            return c
        if r < 80:  # signed by a server: this site's (mostly) or another's
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
                "rights": [self.right() for _ in range(rng.below(4))],
                "mac": bytes(16),
            }
            return signed.sign_credential(self.server if r < 72 else self.other_server, c)
        return {
            "key_id": self.u32(),
            "issued_at": self.time_value(),
            "not_before": self.time_value(),
            "not_after": self.time_value(),
            "valid_until": self.time_value(),
            "offset_change_at": self.time_value(),
            "offset_change_min": rng.pick((-60, 60, -32768, 32767, 0)),
            "blocklist_version": self.u32(),
            "rights": [self.right() for _ in range(rng.pick((0, 1, 2, 3, 40, 255)))],
            "mac": rng.data(16),
        }

    def blocklist(self):
        rng = self.rng
        v = rng.int_in(0, 0xFFFFFFFF, (self.blocklist_version, self.blocklist_version + 1, 0, 1))
        n = 4000 if rng.pct(1) else rng.below(6)
        ids = [rng.int_in(0, 0xFFFFFFFF, (KEY_ID, OTHER_KEY_ID, 5000)) for _ in range(n)]
        if rng.pct(50):
            return signed.sign_blocklist(self.server, v, ids)
        return {"version": v, "key_ids": ids, "mac": rng.data(16)}

    def record(self):
        rng = self.rng
        return {
            "seq": rng.int_in(0, 0xFFFFFFFF, (0, 1, 2, 999, 1000)),
            "time": self.time_value(),
            "key_id": self.u32(),
            "lock_id": self.u32(),
            "outcome": rng.pick((0, 1)),
            "reason": rng.below(13),
        }

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
            return {"nonce": rng.data(16), "proof": rng.data(8)}
        if t == C.T_HS_PROOF or t == C.T_HS_ACCEPT:
            return {"proof": rng.data(8)}
        if t == C.T_CREDENTIAL:
            return {"key_time": self.time_value(), "credential": self.credential()}
        if t == C.T_BLOCKLIST_UPDATE:
            return self.blocklist()
        if t == C.T_DECISION:
            return {"lock_id": self.u32(), "outcome": rng.pick((0, 1)), "reason": rng.below(13), "blocklist_version": self.u32()}
        if t == C.T_AUDIT_BATCH:
            return {"records": [self.record() for _ in range(64 if rng.pct(3) else rng.below(4))]}
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
            device_id = rng.int_in(0, 0xFFFFFFFF, (KEY_ID, LOCK_ID, OTHER_KEY_ID))
            r = rng.below(3)
            if r == 0:
                secret = SITE if role == C.ROLE_LOCK else self.key_secret(device_id)
            else:
                secret = rng.data(32)
            return {
                "role": role,
                "device_id": device_id,
                "groups": [rng.int_in(0, 0xFFFFFFFF, (GROUP,)) for _ in range(rng.below(17))],
                "secret": secret,
            }
        if t == C.T_GRANT:
            return {"credential": self.credential(KEY_ID if rng.pct(50) else None)}
        if t == C.T_VALIDATE:
            return {"server_time": self.time_value(), "credential": self.credential(KEY_ID if rng.pct(50) else None)}
        if t == C.T_AUDIT_READ:
            return {"from_seq": rng.int_in(0, 0xFFFFFFFF, (0, 1, 10, 999, 1000)), "max_count": rng.int_in(0, 255, (0, 1, 64, 65))}
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

    def body(self, t):
        """A command's encoded fields, now and then broken."""
        rng = self.rng
        m = self.message(t) if t != T_SIGNED_COMMAND else None
        try:
            body = codec.encode(t, m) if m is not None else rng.data(rng.below(40))
        except Exception:
            body = rng.data(rng.below(40))
        if rng.pct(10):
            body = body[: rng.below(len(body) + 1)] if rng.pct(50) else body + rng.data(1 + rng.below(4))
        return body

    def signed_episode(self, u):
        """A key's signed host command: challenge, then a SIGNED_COMMAND signed by the server
        for that nonce (or not, or for an old nonce), then perhaps the same frame again."""
        rng = self.rng
        nonce = None
        if rng.pct(90):
            nonce = _challenge_nonce(self.host_call(u, frame.encode_message(T_KEY_CHALLENGE_REQUEST, rng.below(256), {})))
        if nonce is not None and u.secret is not None and rng.pct(80):
            t = rng.pick(SIGNED_COMMANDS) if rng.pct(85) else rng.pick(ALL_TYPES)
            body = self.body(t)
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
        """A frame sealed as the key in the lock's session, by someone with the key's secret."""
        w = lu.witness
        if w.keys is None or w.to_lock is None:
            return None
        rng = self.rng
        s = session.Session(w.keys[1], w.keys[2])
        s.sent = w.to_lock.received
        if rng.pct(85 if w.phase == "after_proof" else 35):  # most often where the lock decides
            t, m = codec.T_CREDENTIAL, {"key_time": self.time_value(), "credential": self.credential(w.keys[0])}
        else:
            t = rng.pick(ALL_TYPES)
            m = self.message(t)
        try:
            return s.seal(t, rng.below(256), m)
        except Exception:
            return None

    def insider_to_key(self, ku, lu):
        """A frame sealed as the lock in the key's session (a rogue holder of the site secret)."""
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
        """A PROOF that holds for the handshake the lock answered last (the key's secret known)."""
        w = lu.witness
        if w.pending is None or w.site is None:
            return None
        hello, challenge = w.pending
        if len(hello) != 29 or len(challenge) != 33:
            return None
        key_id = unpack_from("<L", hello, 5)[0]
        prf = crypto.HmacKey(crypto.key_secret(w.site, key_id))
        s = crypto.derive(prf, b"keylock session", key_id.to_bytes(4, "big") + hello[9:25] + challenge[5:21], 32)
        head = pack("<HBB", 10, codec.T_HS_PROOF, (challenge[4] + 1) & 0xFF)
        proof = crypto.HmacKey(s[:16]).mac(b"K" + hello[1:-4] + challenge[1:-4] + head)[:8]
        return _frame(codec.T_HS_PROOF, head[3], proof)

    def rogue_lock_frame(self):
        """A CHALLENGE or ACCEPT from a rogue lock that holds the site secret."""
        if self.rogue is None:
            return None
        try:
            if self.last_key_proof is not None and self.rng.pct(40):
                return self.rogue.on_proof(self.last_key_proof)
            if self.last_key_hello is not None:
                return self.rogue.on_hello(self.last_key_hello)
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

    def transaction(self, ku, lu, managed=False):
        """A key inserted into a lock: the lock boots, the key drives, frames are tampered with."""
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

    def rogue_key(self, lu):
        """Someone holding a key's secret runs a handshake and presents credentials."""
        rng = self.rng
        self.transactions += 1
        self.boot(lu)
        kid = rng.pick((KEY_ID, KEY_ID, OTHER_KEY_ID, self.u32()))
        k = handshake.KeyInitiator(kid, self.key_secret(kid))
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
        for i in range(1 + rng.below(4)):
            if i == 0 or rng.pct(30):
                t, m = codec.T_CREDENTIAL, {"key_time": self.time_value(), "credential": self.credential(kid)}
            else:
                t = rng.pick(ALL_TYPES)
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

    def host_frame(self):
        rng = self.rng
        r = rng.below(100)
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
        """The server gives the key a newer signed blocklist and a credential naming it, so the
        next transaction hands the blocklist over first (and later ones, after the decision)."""
        self.blocklist_version += 1
        v = self.blocklist_version
        self.command(self.K, codec.T_BLOCKLIST_UPDATE, signed.sign_blocklist(self.server, v, [5000 + i for i in range(v % 5)]))
        if self.rng.pct(50):
            now = self.now()
            self.cred = self.credential_for(KEY_ID, now - 60, blocklist_version=v)
            self.command(self.K, codec.T_VALIDATE, {"server_time": now, "credential": self.cred})

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
            if r < 55:
                contact += 1
                if contact % 4 == 0:
                    self.refresh()
                self.transaction(self.K, self.L, managed=True)
            elif r < 60:
                self.transaction(self.K, self.FL, managed=True)
            elif r < 64:
                self.transaction(self.FK, self.L)
            elif r < 70:
                self.rogue_key(self.L)
            elif r < 89:
                u = rng.pick((self.HK, self.HL, self.UK, self.UL))
                self.host_burst(u)
                if u in (self.UK, self.UL) and getattr(u.app, "cfg", None) is not None and rng.pct(30):
                    self.reset([u])
                elif u.host_frames > 300:
                    self.reset([u])
            else:
                self.transaction(rng.pick((self.HK, self.HK, self.UK)), rng.pick((self.HL, self.HL, self.UL)))
            if contact >= 300:
                contact = 0
                self.reset([self.K, self.L, self.FK, self.FL])
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
