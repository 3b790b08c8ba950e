# The lock: passive, powered by the key. It boots from flash each time a key is inserted,
# authenticates the key (handshake responder), verifies the server-issued credential and
# decides; it drives the motor only for a fully verified, authorised, valid key within its
# temperature range, writes every decision to its audit ring (MACed, before the motor moves),
# adopts a newer signed blocklist a key carries (before deciding, when the key's credential
# says the key has one), and copies its new events to keys.
#
# Secrets: the lock's compartment secret and its own (audit) secret are in its secure storage
# (device.secure), never in flash; the flash holds only what anyone may read.
#
# Time: the lock has no clock and believes only what the server signed. A key's claimed time
# counts only within its credential's [issued_at, valid_until]; the rollback guard moves only
# on a grant, and only to the credential's signed issued_at, so no key can push a lock ahead.
from struct import pack, pack_into, unpack_from

from . import audit, codec, crypto, frame, handshake, signed, storage, version
from ._const import const
from .session import SessionError
from .version import FW_VERSION  # noqa: F401  (re-exported: flash and its tests read it here)

TEMP_MAX_dC = const(850)  # rated to 85 C
TEMP_MIN_dC = const(-250)  # and down to -25 C
# The CHALLENGE -> PROOF round trip, by the lock's own tick counter: the wire time of both
# frames (50 bytes: 9 ms at 57,600 baud, 52 ms at 9,600) plus the key's compute (a board's
# HMACs: a few ms on an RP2040) fits well within this; a relay that carries the frames
# farther does not. Measured by ticks, never by any time a key claims.
MAX_ROUND_TRIP_MS = const(150)
CLOCK_SLACK_S = const(60)  # a key's clock may run this far behind signed time before it counts as rollback
AUDIT_RECORD_LEN = audit.RECORD_LEN
AUDIT_BATCH_MAX = const(64)

# Flash layout in 4 KiB sectors: settings (an A/B store that holds a 4,000-id blocklist) and
# the audit ring (>= 1,000 events). Failed authentications are counted in the store, not
# each written to the ring (see on_key_frame).
STORE_SECTORS = (0, 12)
LOG_SECTORS = (12, storage.log_sectors(1000, AUDIT_RECORD_LEN))
FLASH_SECTORS = LOG_SECTORS[0] + LOG_SECTORS[1]
MAX_COUNT = const(0xFFFF)  # an audit record's count field

_BL_NAME = "blocklist"  # the adopted update in the store, as the key sent it (encoded)
_BL_IDS = signed.BLOCKLIST_HEAD  # where its ids start: after version u32 and count u16
_NO_SECRET = bytes(crypto.SECRET_LEN)


_TICKS_HALF = const(1 << 29)  # ticks wrap at 2**30, as MicroPython's time.ticks_ms()
_TICKS_MASK = const((1 << 30) - 1)


def _ticks_diff(a, b):
    return ((a - b + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF


def _minute_of_week(unix_s):
    # 1970-01-01 was a Thursday; Monday = day 0 as in the DAY_* bits.
    days = unix_s // 86400
    return (days + 3) % 7, (unix_s % 86400) // 60


def right_allows(right, unix_s):
    day, minute = _minute_of_week(unix_s)
    return right["days"] & (1 << day) and right["from_min"] <= minute < right["to_min"]


_PAYLOAD = const(6)  # a frame's start, length, type, seq, then AUDIT_BATCH's count: its records from here


def _batch_frame_len(n):
    # start, length u16, type, seq | count, n records, next_seq u32, mac 8 | session MAC, CRC
    return 5 + 1 + n * AUDIT_RECORD_LEN + 4 + audit.MAC_LEN + codec.MAC_LEN + codec.CRC_LEN


def _decode(t, payload):
    """codec.decode, but a BLOCKLIST_UPDATE stays as it came (checked as codec.decode checks
    it): its 4,000 ids are searched in flash, never held as ints."""
    if t == codec.T_BLOCKLIST_UPDATE:
        signed.blocklist_layout(payload)
        return payload
    return codec.decode(t, payload)


def _ascending(payload, count):
    last = 0
    for i in range(count):
        key_id = unpack_from("<L", payload, _BL_IDS + 4 * i)[0]
        if key_id < last:
            return False
        last = key_id
    return True


class LockApp:
    def __init__(self, device):
        self.dev = device
        self._load()

    def _load(self):
        device = self.dev
        self.store = storage.Store(device.flash, STORE_SECTORS[0], STORE_SECTORS[1])
        self.log = storage.Log(device.flash, LOG_SECTORS[0], LOG_SECTORS[1], AUDIT_RECORD_LEN)
        raw = self.store.get("cfg")
        self.cfg = codec.decode(codec.T_PROVISION, raw) if raw else None
        compartment, own = device.secure.key(b"compartment"), device.secure.key(b"own")
        if compartment is None or own is None:
            self.cfg = None  # secrets missing: not a usable provisioning
        raw = self.store.get("time")
        self.highest_time = unpack_from("<L", raw)[0] if raw else 0
        # The blocklist stays in flash (up to 4,000 ids: 16 KB, a quarter of a board's heap,
        # four times that as a set); only its version and size are in RAM, and _is_blocked
        # binary-searches its ids where they lie.
        head = bytearray(_BL_IDS)
        self._probe = bytearray(4)
        self.blocklist_version, self.blocklist_size = unpack_from("<LH", head) if self.store.readinto(_BL_NAME, 0, head) else (0, 0)
        raw = self.store.get("copy_from")
        self.copy_from = unpack_from("<L", raw)[0] if raw else 0  # the first event no key has taken yet
        raw = self.store.get("failed")
        # failed PROOFs not yet in a record: the count at the last checkpoint, the last claimed key
        self.failed, self.failed_key = unpack_from("<LL", raw) if raw else (0, 0)
        self._session = None
        self._key_id = 0
        self.auth_failures = 0  # failed PROOFs since power-up (RAM: the lock is powered by each key)
        self._asked_blocklist = False  # this session already asked the key for its blocklist
        self._challenge_ticks = 0  # when the last CHALLENGE went out
        self._slow = False  # this session's PROOF came later than the link allows
        self._decided = False  # one decision per session
        if self.cfg:
            c = self.cfg["compartment"]
            self.compartment = (c["kind"], c["target"])
            self._own = own  # MACs this lock's audit records
            self._server = crypto.server_key(compartment)
            self._responder = handshake.LockResponder(compartment, self.compartment)

    @property
    def lock_id(self):
        return self.cfg["device_id"] if self.cfg else 0

    # --- the key link -----------------------------------------------------------------

    def on_key_frame(self, raw):
        """The reply to one frame from the key, or None (nothing is sent: the key times out).
        `raw`: bytes, or a memoryview into a receive buffer (a 16 KB BLOCKLIST_UPDATE is
        copied whole once, by the session's split, and its CRC checked once)."""
        if not self.cfg:
            return None
        if len(raw) > 3 and raw[3] & codec.SECURED and self._session is not None:
            return self._on_secured(raw)  # the session checks the whole frame itself
        try:
            t, secured, seq, _payload = frame.split(raw)
        except frame.FrameError:
            return None
        if t == codec.T_HS_HELLO and not secured:
            self._session = None
            try:
                challenge = self._responder.on_hello(bytes(raw))
                self._challenge_ticks = self.dev.ticks_ms()
                return challenge
            except handshake.HandshakeError as e:
                if e.reason == "protocol_version":  # say so, rather than have the key guess at silence
                    return frame.encode_message(codec.T_RESULT, seq, {"code": codec.ERR_PROTOCOL_VERSION})
                return None
        if t == codec.T_HS_PROOF and not secured:
            try:
                reply = self._responder.on_proof(bytes(raw))
            except handshake.HandshakeError as e:
                # Only a PROOF that answers our CHALLENGE and fails counts. A burst must not
                # wear the flash or push records out of the ring: the count is kept in RAM and
                # checkpointed in the store at the 1st, 2nd, 4th, 8th ... failure of a power-up
                # (log2 small writes, never a record); the next authenticated session turns it
                # into one record with the count (_report_failures).
                if e.reason == "bad_proof":
                    self.auth_failures += 1
                    n = self.auth_failures
                    if n & (n - 1) == 0:
                        self.failed_key = self._responder.key_id or 0
                        self.store.put("failed", pack("<LL", self.failed + n, self.failed_key))
                return None
            self._session = self._responder.session
            self._key_id = self._responder.key_id
            self._asked_blocklist = self._decided = False
            self._slow = _ticks_diff(self.dev.ticks_ms(), self._challenge_ticks) > MAX_ROUND_TRIP_MS
            return reply
        return None  # a secured frame outside a session, or a plain one that is no handshake

    def _on_secured(self, raw):
        session = self._session
        assert session is not None
        try:
            t, seq, m = session.open(raw, _decode)
        except SessionError:
            return None
        if t == codec.T_CREDENTIAL:
            if self._decided:
                return self._seal(codec.T_RESULT, seq, {"code": codec.ERR_BAD_REQUEST})
            if self._wants_blocklist(m["credential"]):
                # The key carries a newer signed blocklist: adopt it before deciding, so an
                # unblocked key opens at once and a newly blocked one is refused at once.
                self._asked_blocklist = True
                return self._seal(codec.T_RESULT, seq, {"code": codec.ERR_BLOCKLIST_NEEDED})
            self._decided = True
            return self._seal(codec.T_DECISION, seq, self._decide(m["key_time"], m["credential"]))
        if t == codec.T_BLOCKLIST_UPDATE:
            return self._seal(codec.T_RESULT, seq, {"code": self._adopt_blocklist(m)})
        if t == codec.T_AUDIT_READ:
            return self._seal_batch(seq, max(self.copy_from, self.log.first_seq), m["max_count"])
        if t == codec.T_AUDIT_ACK and m["lock_id"] == self.lock_id:
            self._mark_copied(m["up_to_seq"])
            return self._seal(codec.T_RESULT, seq, {"code": codec.ERR_OK})
        return self._seal(codec.T_RESULT, seq, {"code": codec.ERR_UNKNOWN_COMMAND})

    def _seal(self, t, seq, m):
        session = self._session
        assert session is not None  # only called after a frame was opened in the session
        return session.seal(t, seq, m)

    def _wants_blocklist(self, cred):
        return (
            not self._asked_blocklist
            and cred["key_id"] == self._key_id
            and cred["blocklist_version"] > self.blocklist_version
            and signed.credential_ok(self._server, self.compartment, cred)
        )

    def _decide(self, key_time, cred):
        self._report_failures()
        reason = self._check(key_time, cred)
        if reason == codec.DENIAL_NONE and cred["issued_at"] > self.highest_time:
            # Only a grant moves the rollback guard, and only to the server's signed time.
            self.highest_time = cred["issued_at"]
            self.store.put("time", pack("<L", self.highest_time))
        # The decision is durable before the motor moves: power (the key's) can fail at the
        # pulse, and an opening with no record must never happen; a record of a grant whose
        # pulse then failed is the lesser evil.
        self._record(self._key_id, key_time, reason)
        if reason == codec.DENIAL_NONE:
            self.dev.motor_pulse()  # the emulator may cut power here
        outcome = codec.OUTCOME_GRANTED if reason == codec.DENIAL_NONE else codec.OUTCOME_DENIED
        return {"lock_id": self.lock_id, "outcome": outcome, "reason": reason, "blocklist_version": self.blocklist_version}

    def _check(self, key_time, cred):
        # Deny unless everything holds; the first failed check is the reason recorded.
        if cred["key_id"] != self._key_id or not signed.credential_ok(self._server, self.compartment, cred):
            return codec.DENIAL_AUTH_FAILED
        if self._slow:
            return codec.DENIAL_TIMEOUT
        if key_time + CLOCK_SLACK_S < cred["issued_at"] or key_time + CLOCK_SLACK_S < self.highest_time:
            return codec.DENIAL_CLOCK_ROLLBACK  # earlier than signed time: the key's clock was set back
        if self.dev.temperature_dC > TEMP_MAX_dC:
            return codec.DENIAL_OVER_TEMPERATURE
        if self.dev.temperature_dC < TEMP_MIN_dC:
            return codec.DENIAL_UNDER_TEMPERATURE
        if self._is_blocked(self._key_id):
            return codec.DENIAL_BLOCKED
        if key_time > cred["valid_until"] or key_time > cred["not_after"] or key_time < cred["not_before"]:
            return codec.DENIAL_VALIDITY_EXPIRED
        cfg = self.cfg
        assert cfg is not None  # a key frame is only handled once provisioned
        groups = cfg["groups"]
        mine = [
            r
            for r in cred["rights"]
            if (r["kind"] == codec.TARGET_LOCK and r["target"] == self.lock_id)
            or (r["kind"] == codec.TARGET_GROUP and r["target"] in groups)
        ]
        if not mine:
            return codec.DENIAL_NOT_AUTHORIZED
        schedule_time = key_time
        if cred["offset_change_at"] and key_time >= cred["offset_change_at"]:
            schedule_time += cred["offset_change_min"] * 60  # past a daylight-saving change: local time moved
        for right in mine:
            if right_allows(right, schedule_time):
                return codec.DENIAL_NONE
        return codec.DENIAL_OUTSIDE_SCHEDULE

    def _record(self, key_id, when, reason, count=1):
        # Under the lock's own secret, bound to its epoch and seq: no carrier can alter,
        # invent or replay a record, and (lock, epoch, seq) is never reused.
        cfg = self.cfg
        assert cfg is not None
        outcome = codec.OUTCOME_GRANTED if reason == codec.DENIAL_NONE else codec.OUTCOME_DENIED
        body = audit.pack_body(self.log.next_seq, cfg["epoch"], when, key_id, self.lock_id, outcome, reason, count)
        self.log.append(body + signed.audit_mac(self._own, body))

    def _report_failures(self):
        # One record stands for every failed PROOF counted since the last one. A power cut
        # between the record and the reset of the count repeats the count in a later record
        # (over-reporting, never losing); failures after a power-up's last checkpoint are lost
        # with its RAM (the count is a lower bound, within a factor of 2 per power-up).
        total = self.failed + self.auth_failures
        if total:
            self._record(self.failed_key, self.highest_time, codec.DENIAL_AUTH_FAILED, min(total, MAX_COUNT))
            self.store.put("failed", pack("<LL", 0, 0))
            self.failed = self.auth_failures = 0

    def _adopt_blocklist(self, payload):
        # `payload`: the BLOCKLIST_UPDATE as encoded (checked by _decode), stored as it is.
        version, count, macs = signed.blocklist_layout(payload)
        if version <= self.blocklist_version:
            return codec.ERR_STALE
        if not signed.encoded_blocklist_ok(self._server, self.compartment, payload, count, macs):
            return codec.ERR_BAD_SIGNATURE
        if not _ascending(payload, count):
            # The server signs its ids sorted (signed.sign_blocklist); the search needs them so.
            return codec.ERR_BAD_REQUEST
        self.store.put(_BL_NAME, payload)
        self.blocklist_version, self.blocklist_size = version, count
        return codec.ERR_OK

    def _is_blocked(self, key_id):
        probe = self._probe
        lo, hi = 0, self.blocklist_size
        while lo < hi:
            mid = (lo + hi) // 2
            self.store.readinto(_BL_NAME, _BL_IDS + 4 * mid, probe)
            found = unpack_from("<L", probe)[0]
            if found == key_id:
                return True
            if found < key_id:
                lo = mid + 1
            else:
                hi = mid
        return False

    def _batch(self, from_seq, max_count):
        """AUDIT_BATCH fields: up to `max_count` records from `from_seq`, and where to go on.
        The records carry their own MACs; the batch needs none."""
        records = self.log.read(from_seq, min(max_count, AUDIT_BATCH_MAX)) if max_count else []
        next_seq = records[-1][0] + 1 if records else from_seq
        return {"records": [audit.to_fields(rec) for _seq, rec in records], "next_seq": next_seq, "mac": bytes(audit.MAC_LEN)}

    def _seal_batch(self, seq, from_seq, max_count):
        """_batch's AUDIT_BATCH, sealed, built in its frame: the records go from flash straight
        into it (they are stored in the protocol's AuditRecord layout), no dict per record."""
        count = min(max_count, AUDIT_BATCH_MAX)
        buf = bytearray(_batch_frame_len(count))
        n, next_seq = self.log.readinto(from_seq, count, buf, _PAYLOAD) if count else (0, from_seq)
        if n < count:  # records lost to a cut append: a shorter frame
            short = bytearray(_batch_frame_len(n))
            short[: _PAYLOAD + 1 + n * AUDIT_RECORD_LEN] = memoryview(buf)[: _PAYLOAD + 1 + n * AUDIT_RECORD_LEN]
            buf = short
        buf[_PAYLOAD - 1] = n
        pack_into("<L", buf, _PAYLOAD + n * AUDIT_RECORD_LEN, next_seq)  # the MAC after it stays zero: records carry their own
        session = self._session
        assert session is not None
        return session.seal_into(codec.T_AUDIT_BATCH, seq, buf)

    def _mark_copied(self, up_to_seq):
        # A key acknowledged these events only after storing them durably itself.
        if self.copy_from <= up_to_seq < self.log.next_seq:
            self.copy_from = up_to_seq + 1
            self.store.put("copy_from", pack("<L", self.copy_from))

    # --- the host link (tester, programmer) ----------------------------------------------

    def on_host_frame(self, raw):
        try:
            t, seq, m, _mac = frame.decode(raw)
        except frame.FrameError as e:
            return frame.error_reply(raw, e)
        if t == codec.T_INFO_REQUEST:
            return frame.encode_message(codec.T_INFO, seq, self.info())
        if t == codec.T_STATUS_REQUEST:
            return frame.encode_message(codec.T_LOCK_STATUS, seq, self.status())
        if t == codec.T_AUDIT_READ:
            return frame.encode_message(codec.T_AUDIT_BATCH, seq, self._batch(m["from_seq"], m["max_count"]))
        if t == codec.T_PROVISION:
            return frame.encode_message(codec.T_RESULT, seq, {"code": self.provision(m)})
        return frame.encode_message(codec.T_RESULT, seq, {"code": codec.ERR_UNKNOWN_COMMAND})

    def info(self):
        return version.info(codec.ROLE_LOCK, self.lock_id, b"keylock-lock")

    def status(self):
        return {
            "lock_id": self.lock_id,
            "blocklist_version": self.blocklist_version,
            "blocklist_size": self.blocklist_size,
            # readable events: a write cut by a power loss leaves a slot (and a seq) unused
            "events": len(self.log.read(self.log.first_seq, self.log.next_seq - self.log.first_seq)),
            "highest_time": self.highest_time,
            "temperature_dC": self.dev.temperature_dC,
        }

    def provision(self, m):
        if m["role"] != codec.ROLE_LOCK:
            return codec.ERR_WRONG_ROLE
        if self.cfg:
            return codec.ERR_BAD_REQUEST  # once only: re-provisioning needs a factory reset
        # The secrets into secure storage first; the flash's cfg (secrets zeroed) commits.
        self.dev.secure.put(b"own", m["secret"])
        self.dev.secure.put(b"compartment", m["compartment_secret"])
        cfg = dict(m)
        cfg["secret"] = cfg["compartment_secret"] = _NO_SECRET
        self.store.put("cfg", codec.encode(codec.T_PROVISION, cfg))
        self._load()
        return codec.ERR_OK
