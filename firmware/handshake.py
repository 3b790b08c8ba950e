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
from struct import pack, unpack_from

from . import codec, crypto, frame, hal
from ._const import const
from .session import Session

NONCE_LEN = const(16)
PROOF_LEN = const(8)
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


def _expect(raw, t, size, state_ok):
    """(seq, payload) of a handshake frame of type t. Handshake payloads have fixed sizes, so
    they are sliced directly rather than decoded into dicts (the golden vectors and the
    known-answer test pin this layout to the codec's)."""
    if not state_ok:
        raise HandshakeError("unexpected")
    try:
        got, secured, seq, payload = _split(raw)
    except frame.FrameError as e:
        raise HandshakeError("frame_" + e.reason) from None
    if got != t or secured:
        raise HandshakeError("unexpected")
    if len(payload) != size:
        raise HandshakeError("frame_bad_payload")
    return seq, payload


_CRC_LEN = codec.CRC_LEN
# Hot-path names as module globals (one lookup instead of module-attribute lookups).
_T_HELLO = codec.T_HS_HELLO
_T_CHALLENGE = codec.T_HS_CHALLENGE
_T_PROOF = codec.T_HS_PROOF
_T_ACCEPT = codec.T_HS_ACCEPT
_split = frame.split
_VERSION = bytes((codec.PROTOCOL_VERSION,))  # in HELLO, and so in the transcript both proofs cover
_HELLO_LEN = const(4 + 16 + 1)  # key id, nonce, protocol version
_COMPARTMENT_LEN = const(5)  # kind u8, target u32
_CHALLENGE_LEN = const(16 + 5 + 8)  # nonce, compartment, proof
_encode_body = frame.encode_body
_ct_equal = crypto.ct_equal
_HmacKey = crypto.HmacKey
_derive = crypto.derive


def _session_keys(prf, key_id, nk, nl):
    s = _derive(prf, _LABEL, key_id.to_bytes(4, "big") + nk + nl, 32)
    return _HmacKey(s[:16]), _HmacKey(s[16:])  # key -> lock, lock -> key


class KeyInitiator:
    """The key's side. hello() -> on_challenge(raw) -> on_accept(raw) -> a Session.

    `secret_for(kind, target)`: the key's secret for that compartment as a PRF (mac(msg)), or
    None when it has none. After on_challenge, `compartment` is the lock's (kind, target)."""

    def __init__(self, key_id, secret_for):
        self.key_id = key_id
        self._secret_for = secret_for
        self.state = _IDLE
        self.session = None
        self.compartment = None

    def hello(self, seq=0):
        nk = hal.urandom(NONCE_LEN)
        raw = _encode_body(pack("<HBBL", 2 + _HELLO_LEN, _T_HELLO, seq & 0xFF, self.key_id) + nk + _VERSION)
        self._nk = nk
        self._transcript = raw[1:-_CRC_LEN]
        self.state = _AWAIT_CHALLENGE
        self.session = None
        return raw

    def on_challenge(self, raw):
        seq, payload = _expect(raw, _T_CHALLENGE, _CHALLENGE_LEN, self.state == _AWAIT_CHALLENGE)
        compartment = unpack_from("<BL", payload, NONCE_LEN)
        prf = self._secret_for(compartment[0], compartment[1])
        if prf is None:
            raise HandshakeError("no_compartment")
        kl, lk = _session_keys(prf, self.key_id, self._nk, payload[:NONCE_LEN])
        transcript = self._transcript + raw[1:-_CRC_LEN]
        if not _ct_equal(payload[NONCE_LEN + _COMPARTMENT_LEN :], lk.mac(b"L" + transcript[:-PROOF_LEN])[:PROOF_LEN]):
            raise HandshakeError("bad_proof")
        self.compartment = compartment
        head = pack("<HBB", 2 + PROOF_LEN, _T_PROOF, (seq + 1) & 0xFF)
        proof = kl.mac(b"K" + transcript + head)[:PROOF_LEN]
        self._keys = (kl, lk)
        self._transcript = transcript + head + proof
        self.state = _AWAIT_ACCEPT
        return _encode_body(head + proof)

    def on_accept(self, raw):
        seq, proof = _expect(raw, _T_ACCEPT, PROOF_LEN, self.state == _AWAIT_ACCEPT)
        kl, lk = self._keys
        if not _ct_equal(proof, lk.mac(b"A" + self._transcript + raw[1 : -_CRC_LEN - PROOF_LEN])[:PROOF_LEN]):
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
        try:
            seq, payload = _expect(raw, _T_HELLO, _HELLO_LEN, True)
        except HandshakeError as e:
            if e.reason == "frame_bad_payload":  # another version's HELLO has another size
                raise HandshakeError("protocol_version") from None
            raise
        if payload[-1:] != _VERSION:
            raise HandshakeError("protocol_version")
        key_id = unpack_from("<L", payload)[0]
        prf = crypto.HmacKey(crypto.key_secret(self._compartment, key_id))
        nl = hal.urandom(NONCE_LEN)
        kl, lk = _session_keys(prf, key_id, payload[4 : 4 + NONCE_LEN], nl)
        head = pack("<HBB", 2 + _CHALLENGE_LEN, _T_CHALLENGE, seq & 0xFF) + nl + self._compartment_bytes
        transcript = raw[1:-_CRC_LEN] + head
        proof = lk.mac(b"L" + transcript)[:PROOF_LEN]
        self.key_id = key_id
        self._keys = (kl, lk)
        self._transcript = transcript + proof
        self.state = _AWAIT_PROOF
        self.session = None
        return _encode_body(head + proof)

    def on_proof(self, raw):
        seq, proof = _expect(raw, _T_PROOF, PROOF_LEN, self.state == _AWAIT_PROOF)
        kl, lk = self._keys
        transcript = self._transcript + raw[1:-_CRC_LEN]
        if not _ct_equal(proof, kl.mac(b"K" + transcript[:-PROOF_LEN])[:PROOF_LEN]):
            raise HandshakeError("bad_proof")
        head = pack("<HBB", 2 + PROOF_LEN, _T_ACCEPT, seq & 0xFF)
        proof = lk.mac(b"A" + transcript + head)[:PROOF_LEN]
        self.state = _DONE
        self.session = Session(lk, kl)
        return _encode_body(head + proof)
