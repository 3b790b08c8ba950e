# The key: the only battery, the master of the contact link, the carrier of credentials,
# blocklists and audit events. Its transaction with a lock is a frame-in/frame-out state
# machine (begin() then on_lock_frame() until an outcome), so the same code runs against a
# lock in the same interpreter, in another process or across a real contact.
from struct import pack, pack_into, unpack_from

from . import audit, codec, crypto, frame, hal, handshake, signed, storage, version
from ._const import const
from .session import SessionError
from .version import FW_VERSION  # noqa: F401  (re-exported: flash and its tests read it here)

AUDIT_RECORD_LEN = audit.RECORD_LEN
AUDIT_BATCH_MAX = const(64)

STORE_SECTORS = (0, 12)
CARRIED_SECTORS = (12, storage.log_sectors(1000, AUDIT_RECORD_LEN))  # lock events on their way to the server
TRAIL_SECTORS = (CARRIED_SECTORS[0] + CARRIED_SECTORS[1], storage.log_sectors(100, AUDIT_RECORD_LEN))  # its own openings
FLASH_SECTORS = TRAIL_SECTORS[0] + TRAIL_SECTORS[1]

# transaction states
_IDLE = const(0)
_HANDSHAKE = const(1)
_PROOF = const(2)
_DECISION = const(3)
_BLOCKLIST = const(4)
_AUDIT = const(5)
_ACK = const(6)
_BLOCKLIST_FIRST = const(7)  # handing the blocklist over before the lock decides

# codec.SIGNED_COMMANDS change the key's security state: once provisioned, only signed by the
# server for this key (SIGNED_COMMAND). Unprovisioned, a key takes PROVISION and TIME_SET plain.
#
# Secrets (its own, shared with the server; one per compartment it may open) are in its secure
# storage (device.secure), never in flash.
_OWN = b"own"
_BL_NAME = "blocklist"  # the newest signed update the key carries, encoded, all its MACs
_BL_HEAD = signed.BLOCKLIST_HEAD
_MAC_ENTRY = const(21)  # kind u8, target u32, MAC 16: one CompartmentMac
_PAYLOAD = const(5)  # where a frame's payload starts: start, length u16, type, seq
_NO_SECRET = bytes(crypto.SECRET_LEN)


def _slot(kind, target):
    """The secure-storage slot of the key's secret for one compartment."""
    return b"c" + pack("<BL", kind, target)


def _says_other_version(raw):
    """True for the lock's plain RESULT protocol_version in answer to our HELLO."""
    try:
        t, secured, _seq, payload = frame.split(raw)
    except frame.FrameError:
        return False
    return t == codec.T_RESULT and not secured and payload == bytes((codec.ERR_PROTOCOL_VERSION,))


def _decode(t, payload):
    """codec.decode, but an AUDIT_BATCH stays as it came, checked as codec.decode checks it:
    its records are stored as they are, with no dict per record."""
    if t != codec.T_AUDIT_BATCH:
        return codec.decode(t, payload)
    n = payload[0] if len(payload) else 0
    if n > AUDIT_BATCH_MAX or len(payload) != 1 + n * AUDIT_RECORD_LEN + 4 + audit.MAC_LEN:
        codec.decode(t, payload)  # raises the codec's own error
    tail = bytes(4 + audit.MAC_LEN)
    for i in range(n):  # each record as the codec checks it (its outcome and reason codes)
        at = 1 + i * AUDIT_RECORD_LEN
        codec.decode(t, b"\x01" + bytes(payload[at : at + AUDIT_RECORD_LEN]) + tail)
    return payload


class KeyApp:
    def __init__(self, device):
        self.dev = device
        self.paired_phone = 0  # kept in RAM by the backup capacitor, not in flash
        self._load()

    def _load(self):
        flash = self.dev.flash
        self.store = storage.Store(flash, STORE_SECTORS[0], STORE_SECTORS[1])
        self.carried = storage.Log(flash, CARRIED_SECTORS[0], CARRIED_SECTORS[1], AUDIT_RECORD_LEN)
        self.trail = storage.Log(flash, TRAIL_SECTORS[0], TRAIL_SECTORS[1], AUDIT_RECORD_LEN)
        raw = self.store.get("cfg")
        self.cfg = codec.decode(codec.T_PROVISION, raw) if raw else None
        own = self.dev.secure.key(_OWN)
        if own is None:
            self.cfg = None  # its secret missing: not a usable provisioning
        self._own = own
        raw = self.store.get("credential")
        self.credential = codec.decode(codec.T_GRANT, raw)["credential"] if raw else None
        # The blocklist (up to 4,000 ids: 16 KB) stays in flash; a lock gets it built in its
        # frame from there (_blocklist_frame). Only its version is in RAM (None: none carried).
        head = bytearray(_BL_HEAD)
        self._blocklist_version = unpack_from("<L", head)[0] if self.store.readinto(_BL_NAME, 0, head) else None
        raw = self.store.get("uploaded")
        self.uploaded = unpack_from("<L", raw)[0] if raw else 0  # the server holds the carried events before this position
        self.state = _IDLE
        self.outcome = None
        self._hs = None
        self._session = None
        self._lock_id = 0
        self._nonce = None  # the challenge a signed command must answer; single use
        self._asked = 0  # how many events the last AUDIT_READ asked a lock for
        self._command_key = crypto.command_key(own) if self.cfg else None

    @property
    def blocklist(self):
        """The signed blocklist the key carries, decoded from flash (for the host side: a
        transaction never decodes it), or None. Setting it stores it, as _blocklist does."""
        raw = self.store.get(_BL_NAME)
        return codec.decode(codec.T_BLOCKLIST_UPDATE, raw) if raw else None

    @blocklist.setter
    def blocklist(self, update):
        self.store.put(_BL_NAME, codec.encode(codec.T_BLOCKLIST_UPDATE, update))
        self._blocklist_version = update["version"]

    @property
    def key_id(self):
        return self.cfg["device_id"] if self.cfg else 0

    # --- status -------------------------------------------------------------------------

    def warn_permille(self):
        """At or below this the key warns: 15 %, or its credential's higher threshold, which the
        server computed from the physics for the coldest day before the credential expires (the
        firmware cannot run the physics). Kept after expiry: the weather it knew beats none."""
        cred = self.credential
        return max(codec.LOW_BATTERY_PERMILLE, cred["warn_permille"]) if cred is not None else codec.LOW_BATTERY_PERMILLE

    def battery_low(self):
        return self.dev.battery_permille <= self.warn_permille()

    def validated(self):
        now = self.dev.now_s()
        return self.credential is not None and now is not None and now <= self.credential["valid_until"]

    def status(self):
        flags = 0
        if self.battery_low():
            flags |= codec.FLAG_BATTERY_LOW
        if self.validated():
            flags |= codec.FLAG_VALIDATED
        if self.dev.now_s() is not None:
            flags |= codec.FLAG_CLOCK_SET
        if self.paired_phone:
            flags |= codec.FLAG_PAIRED
        return {
            "key_id": self.key_id,
            "battery_mV": self.dev.supply_mV,
            "soc_permille": self.dev.battery_permille,
            "flags": flags,
            "time": self.dev.now_s() or 0,
            "valid_until": self.credential["valid_until"] if self.credential else 0,
            "paired_phone": self.paired_phone,
            "temperature_dC": self.dev.temperature_dC,
        }

    # --- a transaction with a lock ------------------------------------------------------

    def begin(self):
        """The first frame to send on insertion, or None with self.outcome set (refused)."""
        self.outcome = None
        if self.battery_low():
            self.dev.output("led", "battery_low")  # warn at every use
        refusal = self._refusal()
        cfg = self.cfg
        if refusal or cfg is None:
            self._finish(codec.OUTCOME_DENIED, refusal or codec.DENIAL_NOT_VALIDATED, 0)
            return None
        self._hs = handshake.KeyInitiator(self.key_id, self._secret_for)
        self.state = _HANDSHAKE
        return self._hs.hello()

    def _secret_for(self, kind, target):
        # Only a compartment the current credential is signed for: a key whose rights there
        # were revoked keeps an old secret but has nothing to present.
        cred = self.credential
        if cred is None or signed.for_compartment(cred, (kind, target)) is None:
            return None
        return self.dev.secure.key(_slot(kind, target))

    def carried_room(self):
        """How many more lock events the key can take without overwriting any the server does
        not have yet: it never acknowledges an event it cannot keep."""
        held = self.carried.next_seq - max(self.uploaded, self.carried.first_seq)
        return max(self.carried.capacity - held, 0)

    def _refusal(self):
        # The key will not operate unless validated and unexpired by its own clock.
        cred, now = self.credential, self.dev.now_s()
        if not self.cfg or cred is None or now is None:
            return codec.DENIAL_NOT_VALIDATED
        if now > cred["valid_until"]:
            return codec.DENIAL_VALIDITY_EXPIRED
        return 0

    def on_lock_frame(self, raw):
        """The next frame to send, or None when the transaction is over (see self.outcome).
        Never raises: a frame that does not belong to the transaction ends it. `raw`: bytes,
        or a memoryview into a receive buffer."""
        if self.state == _IDLE or self._hs is None:
            return None  # no transaction: whatever the lock says is not an answer to us
        try:
            if self.state == _HANDSHAKE:
                if _says_other_version(raw):
                    self._finish(codec.OUTCOME_DENIED, codec.DENIAL_PROTOCOL_MISMATCH, 0)
                    self.state = _IDLE
                    return None
                try:
                    proof = self._hs.on_challenge(bytes(raw))
                except handshake.HandshakeError as e:
                    if e.reason != "no_compartment":
                        raise
                    # No right in this lock's compartment: nothing to prove, nothing to send.
                    self._finish(codec.OUTCOME_DENIED, codec.DENIAL_NOT_AUTHORIZED, 0)
                    self.state = _IDLE
                    return None
                self.state = _PROOF
                return proof
            if self.state == _PROOF:
                self._session = self._hs.on_accept(bytes(raw))
                self.state = _DECISION
                return self._credential()
            if self._session is None:
                self.state = _IDLE
                return None
            t, _seq, m = self._session.open(raw, _decode)
        except (handshake.HandshakeError, SessionError):
            if self.state in (_HANDSHAKE, _PROOF, _DECISION):
                self._finish(codec.OUTCOME_DENIED, codec.DENIAL_AUTH_FAILED, 0)
            self.state = _IDLE
            return None
        if self.state == _DECISION and t == codec.T_RESULT and m["code"] == codec.ERR_BLOCKLIST_NEEDED:
            update = self._blocklist_frame(2)
            if update is None:
                return self._credential()  # nothing to hand over: the lock decides on what it has
            self.state = _BLOCKLIST_FIRST
            return update
        if self.state == _BLOCKLIST_FIRST and t == codec.T_RESULT:
            self.state = _DECISION
            return self._credential()
        if self.state == _DECISION and t == codec.T_DECISION:
            self._lock_id = m["lock_id"]
            self._finish(m["outcome"], m["reason"], m["lock_id"])
            version = self._blocklist_version
            update = self._blocklist_frame(2) if version is not None and version > m["blocklist_version"] else None
            if update is not None:
                self.state = _BLOCKLIST
                return update
            return self._read_audit()
        if self.state == _BLOCKLIST and t == codec.T_RESULT:
            return self._read_audit()
        if self.state == _AUDIT and t == codec.T_AUDIT_BATCH:
            n = m[0]  # the batch as it came (_decode): its records are the carried log's records
            if not n:
                self.state = _IDLE
                return None
            # Never more than asked for (the room checked before asking): a lock that sends more
            # must not make the key overwrite what the server lacks; the rest stay at the lock.
            n = min(n, self._asked)
            for i in range(n):
                at = 1 + i * AUDIT_RECORD_LEN
                self.carried.append(m[at : at + AUDIT_RECORD_LEN])  # durable before the lock may forget them
            up_to_seq = unpack_from("<L", m, 1 + (n - 1) * AUDIT_RECORD_LEN)[0]
            self.state = _ACK
            return self._session.seal(codec.T_AUDIT_ACK, 4, {"lock_id": self._lock_id, "up_to_seq": up_to_seq})
        self.state = _IDLE  # an ACK's RESULT, or anything unexpected: the transaction is over
        return None

    def _compartment(self):
        hs = self._hs
        assert hs is not None and hs.compartment is not None  # only after a CHALLENGE was answered
        return hs.compartment

    def _credential(self):
        session = self._session
        assert session is not None  # only called once the handshake made one
        cred = signed.for_compartment(self.credential, self._compartment())  # the lock's MAC only: a smaller frame
        return session.seal(codec.T_CREDENTIAL, 1, {"key_time": self.dev.now_s() or 0, "credential": cred})

    def _blocklist_frame(self, seq):
        """The carried blocklist with only the lock's compartment's MAC (signed.for_compartment),
        sealed, built in its frame: its ids go from flash straight into it, never decoded or
        copied. None when the key carries none, or none for that compartment."""
        store = self.store
        size = store.length(_BL_NAME)
        if size is None:
            return None
        head = bytearray(_BL_HEAD)
        store.readinto(_BL_NAME, 0, head)
        ids_end = _BL_HEAD + 4 * unpack_from("<LH", head)[1]
        tail = bytearray(size - ids_end)  # the MACs
        store.readinto(_BL_NAME, ids_end, tail)
        kind, target = self._compartment()
        mac = signed.compartment_mac(codec.decode(codec.T_BLOCKLIST_UPDATE, bytes(_BL_HEAD) + tail)["macs"], (kind, target))
        if mac is None:
            return None
        buf = bytearray(_PAYLOAD + ids_end + 1 + _MAC_ENTRY + codec.MAC_LEN + codec.CRC_LEN)
        store.readinto(_BL_NAME, 0, memoryview(buf)[_PAYLOAD : _PAYLOAD + ids_end])
        buf[_PAYLOAD + ids_end] = 1
        pack_into("<BL16s", buf, _PAYLOAD + ids_end + 1, kind, target, mac)
        session = self._session
        assert session is not None
        return session.seal_into(codec.T_BLOCKLIST_UPDATE, seq, buf)

    def _read_audit(self):
        session = self._session
        assert session is not None
        room = min(self.carried_room(), AUDIT_BATCH_MAX)
        if not room:
            self.state = _IDLE  # full of events the server lacks: the lock keeps its own for the next key
            return None
        self.state = _AUDIT
        self._asked = room
        return session.seal(codec.T_AUDIT_READ, 3, {"from_seq": 0, "max_count": room})

    def _finish(self, outcome, reason, lock_id):
        self.outcome = (outcome, reason)
        body = audit.pack_body(self.trail.next_seq, 0, self.dev.now_s() or 0, self.key_id, lock_id, outcome, reason, 1)
        self.trail.append(body + (signed.audit_mac(self._own, body) if self._own else bytes(audit.MAC_LEN)))
        self.dev.output("led", "green" if outcome == codec.OUTCOME_GRANTED else "red")

    def link_lost(self):
        """The lock stopped answering mid-transaction (power, or pulled out)."""
        self.state = _IDLE

    # --- the host link: phone app or wall programmer --------------------------------------

    def on_host_frame(self, raw):
        try:
            t, seq, m, _mac = frame.decode(raw)
        except frame.FrameError as e:
            return frame.error_reply(raw, e)
        if t == codec.T_INFO_REQUEST:
            return frame.encode_message(codec.T_INFO, seq, version.info(codec.ROLE_KEY, self.key_id, b"keylock-key"))
        if t == codec.T_STATUS_REQUEST:
            return frame.encode_message(codec.T_KEY_STATUS, seq, self.status())
        if t == codec.T_TIME_REQUEST:
            now = self.dev.now_s()
            return frame.encode_message(codec.T_TIME, seq, {"unix_s": now or 0, "clock_set": 0 if now is None else 1})
        if t == codec.T_AUDIT_READ:
            return frame.encode_message(codec.T_AUDIT_BATCH, seq, self._carried_batch(m["from_seq"], m["max_count"]))
        if t == codec.T_KEY_CHALLENGE_REQUEST:
            if not self.cfg:
                return frame.encode_message(codec.T_RESULT, seq, {"code": codec.ERR_NOT_PROVISIONED})
            self._nonce = hal.urandom(handshake.NONCE_LEN)
            return frame.encode_message(codec.T_KEY_CHALLENGE, seq, {"key_id": self.key_id, "nonce": self._nonce})
        if t == codec.T_SIGNED_COMMAND:
            return frame.encode_message(codec.T_RESULT, seq, {"code": self._signed(m)})
        if self.cfg and t in codec.SIGNED_COMMANDS:
            return frame.encode_message(codec.T_RESULT, seq, {"code": codec.ERR_NOT_SIGNED})
        return frame.encode_message(codec.T_RESULT, seq, {"code": self._command(t, m)})

    def _carried_batch(self, from_seq, max_count):
        # MACed under the key's own secret: the server learns from the key itself, not from the
        # relay, that these are all the events it carries from from_seq to next_seq.
        read = self.carried.read(from_seq, min(max_count, AUDIT_BATCH_MAX)) if max_count else []
        next_seq = read[-1][0] + 1 if read else from_seq
        raws = [r for _s, r in read]
        mac = signed.carried_mac(self._own, self.key_id, from_seq, next_seq, raws) if self._own else bytes(audit.MAC_LEN)
        return {"records": [audit.to_fields(r) for r in raws], "next_seq": next_seq, "mac": mac}

    def _signed(self, m):
        """A command the server signed for this key, bound to the nonce it last issued."""
        nonce, self._nonce = self._nonce, None  # one try per challenge, whatever happens
        if not self.cfg or self._command_key is None:
            return codec.ERR_NOT_PROVISIONED
        if nonce is None:
            return codec.ERR_STALE  # no challenge outstanding: a replay, or the key rebooted
        if m["command"] not in codec.SIGNED_COMMANDS or not signed.command_ok(self._command_key, self.key_id, nonce, m):
            return codec.ERR_BAD_SIGNATURE
        try:
            inner = codec.decode(m["command"], m["body"])
        except codec.CodecError:
            return codec.ERR_BAD_REQUEST
        return self._command(m["command"], inner, nonce)

    def _command(self, t, m, nonce=None):
        handler = {
            codec.T_TIME_SET: self._time_set,
            codec.T_PROVISION: self._provision,
            codec.T_GRANT: self._grant,
            codec.T_VALIDATE: self._validate,
            codec.T_BLOCKLIST_UPDATE: self._blocklist,
            codec.T_PAIR: self._pair,
            codec.T_UNPAIR: self._unpair,
        }.get(t)
        if handler is None:
            return codec.ERR_UNKNOWN_COMMAND
        return handler(m, nonce) if t in (codec.T_GRANT, codec.T_VALIDATE) else handler(m)

    def _time_set(self, m):
        self.dev.set_clock(m["unix_s"])
        return codec.ERR_OK

    def _provision(self, m):
        # Plain only while unprovisioned; afterwards only signed (re-provisioning by the server).
        if m["role"] != codec.ROLE_KEY:
            return codec.ERR_WRONG_ROLE
        # The secret into secure storage first; the flash's cfg (secrets zeroed) commits.
        self.dev.secure.put(_OWN, m["secret"])
        cfg = dict(m)
        cfg["secret"] = cfg["compartment_secret"] = _NO_SECRET
        self.store.put("cfg", codec.encode(codec.T_PROVISION, cfg))
        self._load()
        return codec.ERR_OK

    def _grant(self, m, nonce):
        if not self.cfg or self._own is None or nonce is None:
            return codec.ERR_NOT_PROVISIONED
        cred = m["credential"]
        if cred["key_id"] != self.key_id:
            return codec.ERR_BAD_REQUEST
        own = self._own

        def stream_for(n, context):
            return crypto.wrap_stream(own, n, context)

        # The compartment secrets first (a key's secret for a compartment never changes, so a
        # cut here leaves the old credential with secrets it may already have had); the
        # credential, in flash, commits.
        for w in m["secrets"]:
            secret = signed.unwrap_secret(stream_for, nonce, w["kind"], w["target"], w["wrapped"])
            self.dev.secure.put(_slot(w["kind"], w["target"]), secret)
        self.store.put("credential", codec.encode(codec.T_GRANT, {"credential": cred, "secrets": []}))
        self.credential = cred
        return codec.ERR_OK

    def _validate(self, m, nonce):
        code = self._grant(m, nonce)
        if code == codec.ERR_OK:
            self.dev.set_clock(m["server_time"])  # the server's time sets the key's clock
            # The server (which signed this) holds the carried events before uploaded_to: their
            # space may be reused. Never past what the key has, never backwards.
            up_to = min(m["uploaded_to"], self.carried.next_seq)
            if up_to > self.uploaded:
                self.store.put("uploaded", pack("<L", up_to))
                self.uploaded = up_to
        return code

    def _blocklist(self, m):
        # The same version again replaces it when it differs (MACs for compartments the key
        # gained since); an older one, or the very same, is stale.
        old = self._blocklist_version
        encoded = codec.encode(codec.T_BLOCKLIST_UPDATE, m)
        if old is not None and (m["version"] < old or (m["version"] == old and encoded == self.store.get(_BL_NAME))):
            return codec.ERR_STALE
        self.store.put(_BL_NAME, encoded)
        self._blocklist_version = m["version"]
        return codec.ERR_OK

    def _pair(self, m):
        if self.paired_phone and self.paired_phone != m["phone_id"]:
            return codec.ERR_ALREADY_PAIRED
        self.paired_phone = m["phone_id"]
        return codec.ERR_OK

    def _unpair(self, m):
        if self.paired_phone != m["phone_id"]:
            return codec.ERR_NOT_PAIRED
        self.paired_phone = 0
        return codec.ERR_OK
