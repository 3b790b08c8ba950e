# Mutual authentication of key and lock, and their session keys: 2 round trips, 102 bytes.
#
#   key  -> lock  HELLO      key id, nonce Nk, protocol version
#   lock -> key   CHALLENGE  nonce Nl, compartment C, proof_L = MAC(S_lk, "L" | transcript)
#   key  -> lock  PROOF      proof_K = MAC(S_kl, "K" | transcript)
#   lock -> key   ACCEPT     proof_A = MAC(S_lk, "A" | transcript)
#
# K_key,C = KDF(compartment C's secret, "keylock key", key id): the key holds K_key,C for each
# compartment it may open (given by the server at validation), the lock derives it from its
# compartment's secret (crypto.key_secret). S_kl | S_lk = KDF(K_key,C, "keylock session",
# key id | Nk | Nl). A key with no secret for the lock's compartment cannot answer.
# The transcript is every byte of every frame so far from the length field on (CRC and the
# proof being computed excepted), so altering any byte of any message breaks a proof.
# Proofs are HMAC-SHA256 truncated to 8 bytes, like DESFire EV2's and OSDP's MACs.
# A handler verifies everything before it changes anything: a rejected message leaves the
# state machine as it was, and the genuine message can still follow.
from binascii import crc32
from struct import pack, unpack_from

from . import codec, crypto, frame, hal
from ._const import const
from .session import Session

NONCE_LEN = const(16)
PROOF_LEN = const(8)
_AT = const(5)  # a frame's payload starts after start, length, type and seq
_LABEL = b"keylock session"

_IDLE = const(0)
_AWAIT_CHALLENGE = const(1)
_AWAIT_ACCEPT = const(2)
_AWAIT_PROOF = const(3)
_DONE = const(4)


class HandshakeError(Exception):
    # reason: "frame_<frame reason>", "unexpected" (wrong message for the state), "bad_proof",
    # "protocol_version" (a HELLO of another protocol version) or "no_compartment" (the key
    # has no secret for the lock's compartment)
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _refused(raw, t, size):
    """The HandshakeError for a frame that failed a handler's check (its length, first four
    bytes and check value): frame.split()'s reason, "unexpected" for another message or a
    secured one, "frame_bad_payload" for a payload of another size."""
    try:
        got, secured, _seq, _payload = _split(raw)
    except frame.FrameError as e:
        return HandshakeError("frame_" + e.reason)
    if got != t or secured:
        return HandshakeError("unexpected")
    return HandshakeError("frame_bad_payload")  # a whole frame of type t: only its size differs


_CRC_LEN = codec.CRC_LEN
_START = codec.START
# Hot-path names as module globals (one lookup instead of module-attribute lookups).
_T_HELLO = codec.T_HS_HELLO
_T_CHALLENGE = codec.T_HS_CHALLENGE
_T_PROOF = codec.T_HS_PROOF
_T_ACCEPT = codec.T_HS_ACCEPT
_split = frame.split
_VERSION = codec.PROTOCOL_VERSION  # in HELLO, and so in the transcript both proofs cover
_HELLO_LEN = const(4 + 16 + 1)  # key id, nonce, protocol version
_COMPARTMENT_LEN = const(5)  # kind u8, target u32
_CHALLENGE_LEN = const(16 + 5 + 8)  # nonce, compartment, proof
_ct_equal = crypto.ct_equal
_HmacKey = crypto.HmacKey
_derive = crypto.derive


def _frame(t, size):
    # (length, first four bytes, check value, format) of a handshake frame of type t with a
    # `size`-byte payload. Handshake payloads have fixed sizes, so a handler checks a frame
    # with one comparison of each (start, length field, type and secured bit in the four
    # bytes; frame.check_value: one crc32 over the frame as it arrived, no copies) and then
    # slices the fields from the frame itself rather than decode it into a dict (the golden
    # vectors and the known-answer test pin this layout to the codec's); a frame that fails
    # goes through _refused() for its reason. A handler frames what it sends with one pack()
    # of start byte, body and CRC (`format`), the body being what its proofs cover anyway.
    n = _AT + size + _CRC_LEN
    return n, pack("<BHB", _START, 2 + size, t), frame.check_value(n), "<B%dsL" % (n - 1 - _CRC_LEN)


_HELLO_N, _HELLO_HEAD, _HELLO_CHECK, _HELLO_FRAME = _frame(_T_HELLO, _HELLO_LEN)
_CHALLENGE_N, _CHALLENGE_HEAD, _CHALLENGE_CHECK, _CHALLENGE_FRAME = _frame(_T_CHALLENGE, _CHALLENGE_LEN)
_PROOF_N, _PROOF_HEAD, _PROOF_CHECK, _PROOF_FRAME = _frame(_T_PROOF, PROOF_LEN)
_ACCEPT_HEAD = _frame(_T_ACCEPT, PROOF_LEN)[1]  # its length, check value and format are PROOF's
_key_secret = crypto.key_secret
# Length fields, and where fields lie in a checked frame (its length is known then).
_HELLO_LENGTH = const(2 + _HELLO_LEN)
_CHALLENGE_LENGTH = const(2 + _CHALLENGE_LEN)
_PROOF_LENGTH = const(2 + PROOF_LEN)
_HE_NONCE = const(_AT + 4)  # HELLO: key id, nonce, version
_HE_VERSION = const(_HE_NONCE + NONCE_LEN)
_HE_END = const(_HE_VERSION + 1)  # the CRC's start
_CH_COMPARTMENT = const(_AT + NONCE_LEN)  # CHALLENGE: nonce, compartment, proof
_CH_PROOF = const(_CH_COMPARTMENT + _COMPARTMENT_LEN)
_CH_END = const(_CH_PROOF + PROOF_LEN)
_PR_END = const(_AT + PROOF_LEN)  # PROOF and ACCEPT: the proof


# Session keys: S_kl | S_lk = _derive(prf, _LABEL, key id (u32 big-endian) | Nk | Nl, 32),
# written out in each handler (a helper's call and tuple cost a tenth of the handshake's
# framing time); the key computes its id's bytes once.


class KeyInitiator:
    """The key's side. hello() -> on_challenge(raw) -> on_accept(raw) -> a Session.

    `secret_for(kind, target)`: the key's secret for that compartment as a PRF (mac(msg)), or
    None when it has none. After on_challenge, `compartment` is the lock's (kind, target)."""

    def __init__(self, key_id, secret_for):
        self.key_id = key_id
        self._id_bytes = key_id.to_bytes(4, "big")
        self._secret_for = secret_for
        self.state = _IDLE
        self.session = None
        self.compartment = None

    def hello(self, seq=0):
        nk = hal.urandom(NONCE_LEN)
        body = pack("<HBBL16sB", _HELLO_LENGTH, _T_HELLO, seq & 0xFF, self.key_id, nk, _VERSION)
        self._context = self._id_bytes + nk  # the session KDF's context but the lock's nonce
        self._transcript = body
        self.state = _AWAIT_CHALLENGE
        self.session = None
        return pack(_HELLO_FRAME, _START, body, crc32(body))

    def on_challenge(self, raw):
        if self.state != _AWAIT_CHALLENGE:
            raise HandshakeError("unexpected")
        if len(raw) != _CHALLENGE_N or raw[:4] != _CHALLENGE_HEAD or crc32(raw) != _CHALLENGE_CHECK:
            raise _refused(raw, _T_CHALLENGE, _CHALLENGE_LEN)
        compartment = unpack_from("<BL", raw, _CH_COMPARTMENT)
        prf = self._secret_for(compartment[0], compartment[1])
        if prf is None:
            raise HandshakeError("no_compartment")
        s = _derive(prf, _LABEL, self._context + raw[_AT:_CH_COMPARTMENT], 32)
        kl, lk = _HmacKey(s[:16]), _HmacKey(s[16:])
        transcript = self._transcript
        if not _ct_equal(raw[_CH_PROOF:_CH_END], lk.mac(b"L" + transcript + raw[1:_CH_PROOF])[:PROOF_LEN]):
            raise HandshakeError("bad_proof")
        self.compartment = compartment
        transcript += raw[1:_CH_END]
        body = pack("<HBB", _PROOF_LENGTH, _T_PROOF, (raw[4] + 1) & 0xFF)
        body += kl.mac(b"K" + transcript + body)[:PROOF_LEN]
        self._kl = kl
        self._lk = lk
        self._transcript = transcript + body
        self.state = _AWAIT_ACCEPT
        return pack(_PROOF_FRAME, _START, body, crc32(body))

    def on_accept(self, raw):
        if self.state != _AWAIT_ACCEPT:
            raise HandshakeError("unexpected")
        if len(raw) != _PROOF_N or raw[:4] != _ACCEPT_HEAD or crc32(raw) != _PROOF_CHECK:
            raise _refused(raw, _T_ACCEPT, PROOF_LEN)
        kl = self._kl
        lk = self._lk
        if not _ct_equal(raw[_AT:_PR_END], lk.mac(b"A" + self._transcript + raw[1:_AT])[:PROOF_LEN]):
            raise HandshakeError("bad_proof")
        self.state = _DONE
        self.session = Session(kl, lk)
        return self.session


class LockResponder:
    """The lock's side. on_hello(raw) -> on_proof(raw) -> (ACCEPT frame, Session).

    `compartment`: a PRF (mac(msg)) under the lock's compartment secret, which stays in its
    secure storage; `compartment_id`: (kind, target), told to every key in CHALLENGE."""

    def __init__(self, compartment, compartment_id):
        self._compartment = compartment
        self._compartment_bytes = pack("<BL", compartment_id[0], compartment_id[1])
        self.state = _IDLE
        self.key_id = None
        self.session = None

    def on_hello(self, raw):
        # Any HELLO starts over: it is unauthenticated, and a key may retry at any time.
        if len(raw) != _HELLO_N or raw[:4] != _HELLO_HEAD or crc32(raw) != _HELLO_CHECK:
            e = _refused(raw, _T_HELLO, _HELLO_LEN)
            if e.reason == "frame_bad_payload":  # another version's HELLO has another size
                raise HandshakeError("protocol_version")
            raise e
        if raw[_HE_VERSION] != _VERSION:
            raise HandshakeError("protocol_version")
        key_id = unpack_from("<L", raw, _AT)[0]
        prf = _HmacKey(_key_secret(self._compartment, key_id))
        nl = hal.urandom(NONCE_LEN)
        s = _derive(prf, _LABEL, key_id.to_bytes(4, "big") + raw[_HE_NONCE:_HE_VERSION] + nl, 32)
        kl, lk = _HmacKey(s[:16]), _HmacKey(s[16:])
        body = pack("<HBB16s5s", _CHALLENGE_LENGTH, _T_CHALLENGE, raw[4], nl, self._compartment_bytes)
        transcript = raw[1:_HE_END] + body
        proof = lk.mac(b"L" + transcript)[:PROOF_LEN]
        body += proof
        self.key_id = key_id
        self._kl = kl
        self._lk = lk
        self._transcript = transcript + proof
        self.state = _AWAIT_PROOF
        self.session = None
        return pack(_CHALLENGE_FRAME, _START, body, crc32(body))

    def on_proof(self, raw):
        if self.state != _AWAIT_PROOF:
            raise HandshakeError("unexpected")
        if len(raw) != _PROOF_N or raw[:4] != _PROOF_HEAD or crc32(raw) != _PROOF_CHECK:
            raise _refused(raw, _T_PROOF, PROOF_LEN)
        kl = self._kl
        lk = self._lk
        transcript = self._transcript
        if not _ct_equal(raw[_AT:_PR_END], kl.mac(b"K" + transcript + raw[1:_AT])[:PROOF_LEN]):
            raise HandshakeError("bad_proof")
        body = pack("<HBB", _PROOF_LENGTH, _T_ACCEPT, raw[4])
        body += lk.mac(b"A" + transcript + raw[1:_PR_END] + body)[:PROOF_LEN]
        self.state = _DONE
        self.session = Session(lk, kl)
        return pack(_PROOF_FRAME, _START, body, crc32(body))
