# The handshake and session under attack, on both runtimes. A rejected message must leave
# its victim's state exactly as it was (so the genuine message can still follow) and give a
# reason it can log.
from binascii import crc32
from struct import pack

from fwenv import codec, crypto
from fwenv import handshake as hs
from fwenv import session as sess

COMPARTMENT_SECRET = b"\x5a" * 32
COMPARTMENT = (1, 7)  # a group
KEY_ID = 1001


def key_secret(compartment_secret=COMPARTMENT_SECRET, key_id=KEY_ID):
    return crypto.key_secret(crypto.HmacKey(compartment_secret), key_id)


def secrets_for(secrets):
    """The key's secret_for: {(kind, target): secret bytes}."""

    def secret_for(kind, target):
        s = secrets.get((kind, target))
        return crypto.HmacKey(s) if s is not None else None

    return secret_for


def fresh(lock_secret=COMPARTMENT_SECRET, secret=None, lock_compartment=COMPARTMENT):
    key = hs.KeyInitiator(KEY_ID, secrets_for({COMPARTMENT: secret or key_secret()}))
    return key, hs.LockResponder(crypto.HmacKey(lock_secret), lock_compartment)


def handshake(k, lock):
    hello = k.hello()
    challenge = lock.on_hello(hello)
    proof = k.on_challenge(challenge)
    accept = lock.on_proof(proof)
    k.on_accept(accept)
    return [hello, challenge, proof, accept]


def awaiting(index):
    """A fresh handshake advanced until message `index` (0 HELLO .. 3 ACCEPT) is due:
    (the side that receives it, its handler)."""
    k, lock = fresh()
    challenge = lock.on_hello(k.hello())
    if index == 0:
        return lock, lock.on_hello
    if index == 1:
        return k, k.on_challenge
    proof = k.on_challenge(challenge)
    if index == 2:
        return lock, lock.on_proof
    lock.on_proof(proof)
    return k, k.on_accept


def state(obj):
    return dict(obj.__dict__)


def refused(fn, raw, victim):
    before = state(victim)
    try:
        fn(raw)
    except hs.HandshakeError as e:
        assert state(victim) == before, "state changed on " + e.reason
        return e.reason
    return None


def with_crc(raw):
    return raw[:-4] + pack("<L", crc32(raw[1:-4]) & 0xFFFFFFFF)


def alterations(raw):
    # every single-byte change as the line would make it, and as an attacker would (CRC fixed)
    for i in range(len(raw)):
        for v in range(256):
            if v != raw[i]:
                changed = raw[:i] + bytes([v]) + raw[i + 1 :]
                yield changed
                if i < len(raw) - 4:
                    yield with_crc(changed)


def test_handshake_completes_and_keys_agree():
    k, lock = fresh()
    frames = handshake(k, lock)
    assert sum(len(f) for f in frames) == 102  # DESIGN.md: at most 128
    assert k.compartment == COMPARTMENT
    assert lock.key_id == KEY_ID
    t, seq, m = lock.session.open(k.session.seal(codec.T_AUDIT_ACK, 7, {"lock_id": 5, "up_to_seq": 9}))
    assert (t, seq, m) == (codec.T_AUDIT_ACK, 7, {"lock_id": 5, "up_to_seq": 9})
    t, seq, m = k.session.open(lock.session.seal(codec.T_AUDIT_ACK, 8, {"lock_id": 5, "up_to_seq": 10}))
    assert m["up_to_seq"] == 10


def test_a_lock_of_a_compartment_the_key_has_no_secret_for_gets_no_proof():
    k, lock = fresh(lock_compartment=(1, 8))
    assert refused(k.on_challenge, lock.on_hello(k.hello()), k) == "no_compartment"
    k, lock = fresh(lock_compartment=(0, 7))  # a lock with the group's id: another compartment
    assert refused(k.on_challenge, lock.on_hello(k.hello()), k) == "no_compartment"


def test_wrong_compartment_secret_is_refused_by_both_sides():
    k, lock = fresh(lock_secret=b"\x00" * 32)
    challenge = lock.on_hello(k.hello())
    assert refused(k.on_challenge, challenge, k) == "bad_proof"
    # and a PROOF made with the key's own secret does not pass the lock either
    assert refused(lock.on_proof, proof_with(k, challenge, key_secret()), lock) == "bad_proof"
    # (the same PROOF, built the same way, passes a lock that holds the right secret: the
    # refusal above is the secret's doing, not a malformed forgery's; the nonce is at 5:21)
    k, lock = fresh()
    challenge = lock.on_hello(k.hello())
    assert lock.on_proof(proof_with(k, challenge, key_secret())) is not None


def proof_with(k, challenge, secret):
    """The PROOF a key that skipped checking the lock's proof would send, under `secret`."""
    nk = k._transcript[8:24]  # HELLO from its length field: length, type, seq, key id, Nk
    s = crypto.derive(crypto.HmacKey(secret), b"keylock session", KEY_ID.to_bytes(4, "big") + nk + challenge[5:21], 32)
    kl = crypto.HmacKey(s[:16])  # S_kl, the first half (the module's header)
    head = pack("<HBB", 2 + hs.PROOF_LEN, codec.T_HS_PROOF, 1)
    return hs.frame.encode_body(head + kl.mac(b"K" + k._transcript + challenge[1:-4] + head)[: hs.PROOF_LEN])


def test_wrong_key_secret_is_refused():
    k, lock = fresh(secret=key_secret(key_id=KEY_ID + 1))  # another key's secret under this id
    assert refused(k.on_challenge, lock.on_hello(k.hello()), k) == "bad_proof"


def test_every_altered_hello_breaks_the_handshake():
    for altered in alterations(fresh()[0].hello()):
        k, lock = fresh()
        k.hello()
        try:
            challenge = lock.on_hello(altered)
        except hs.HandshakeError:
            continue  # refused by the lock's frame or message checks
        reason = refused(k.on_challenge, challenge, k)
        assert reason is not None, altered.hex()


def test_every_altered_challenge_proof_and_accept_is_refused():
    for index in (1, 2, 3):
        k, lock = fresh()
        genuine = handshake(k, lock)[index]
        for altered in alterations(genuine):
            victim, handler = awaiting(index)
            assert refused(handler, altered, victim) is not None, (index, altered.hex())


def test_victim_still_accepts_the_genuine_message_after_a_forgery():
    k, lock = fresh()
    challenge = lock.on_hello(k.hello())
    assert refused(k.on_challenge, with_crc(challenge[:20] + bytes([challenge[20] ^ 0x01]) + challenge[21:]), k) == "bad_proof"
    proof = k.on_challenge(challenge)
    assert refused(lock.on_proof, with_crc(proof[:-5] + bytes([proof[-5] ^ 1]) + proof[-4:]), lock) == "bad_proof"
    accept = lock.on_proof(proof)
    assert refused(k.on_accept, with_crc(accept[:6] + bytes([accept[6] ^ 0xFF]) + accept[7:]), k) is not None
    assert k.on_accept(accept) is k.session


def test_truncation_at_every_length_is_refused():
    k, lock = fresh()
    frames = handshake(k, lock)
    for index, raw in enumerate(frames):
        for n in range(len(raw)):
            victim, handler = awaiting(index)
            reason = refused(handler, raw[:n], victim)
            assert reason is not None and reason.startswith("frame_"), (index, n, reason)


def test_replays_from_an_earlier_session_are_refused():
    old_k, old_l = fresh()
    old = handshake(old_k, old_l)
    old_frame = old_k.session.seal(codec.T_AUDIT_ACK, 2, {"lock_id": 1, "up_to_seq": 1})

    k, lock = fresh()
    lock.on_hello(old[0])  # a replayed HELLO gets a fresh challenge ...
    assert refused(lock.on_proof, old[2], lock) == "bad_proof"  # ... that the old PROOF cannot answer

    k, lock = fresh()
    challenge = lock.on_hello(k.hello())
    assert refused(k.on_challenge, old[1], k) == "bad_proof"
    assert refused(lock.on_proof, old[2], lock) == "bad_proof"
    proof = k.on_challenge(challenge)
    lock.on_proof(proof)
    assert refused(k.on_accept, old[3], k) == "bad_proof"
    try:
        lock.session.open(old_frame)
    except sess.SessionError as e:
        assert e.reason == "bad_mac"
    else:
        raise AssertionError("old session frame accepted")


def test_messages_out_of_order_are_refused():
    k, lock = fresh()
    hello = k.hello()
    assert refused(lock.on_proof, hello, lock) == "unexpected"
    challenge = lock.on_hello(hello)
    assert refused(k.on_accept, challenge, k) == "unexpected"
    assert refused(k.on_challenge, hello, k) == "unexpected"


def session_refuses(s, raw):
    before = (s.sent, s.received)
    try:
        s.open(raw)
    except sess.SessionError as e:
        assert (s.sent, s.received) == before
        return e.reason
    return None


def test_session_frames_replayed_reordered_rewound_or_altered_are_refused():
    k, lock = fresh()
    handshake(k, lock)
    f = [k.session.seal(codec.T_AUDIT_ACK, i, {"lock_id": 1, "up_to_seq": i}) for i in range(3)]
    assert session_refuses(lock.session, f[1]) == "bad_mac"  # reordered: 1 before 0
    assert lock.session.open(f[0])[2]["up_to_seq"] == 0
    assert session_refuses(lock.session, f[0]) == "bad_mac"  # replayed
    assert lock.session.open(f[1])[2]["up_to_seq"] == 1
    assert session_refuses(lock.session, f[0]) == "bad_mac"  # counter rewound to an older frame
    for altered in alterations(f[2]):
        assert session_refuses(lock.session, altered) is not None
    for n in range(len(f[2])):
        assert session_refuses(lock.session, f[2][:n]) is not None
    plain = hs.frame.encode_message(codec.T_AUDIT_ACK, 2, {"lock_id": 1, "up_to_seq": 2})
    assert session_refuses(lock.session, plain) == "not_secured"
    assert lock.session.open(f[2])[2]["up_to_seq"] == 2
    # a lock's frame cannot be reflected back to it as if the key had sent it
    echo = lock.session.seal(codec.T_AUDIT_ACK, 3, {"lock_id": 1, "up_to_seq": 3})
    assert session_refuses(lock.session, echo) == "bad_mac"


def test_known_answer_handshake():
    from fwenv import DATA_DIR, hal, load_file

    v = load_file(DATA_DIR + "/handshake.json")
    comp, nk, nl = bytes.fromhex(v["compartment_secret"]), bytes.fromhex(v["key_nonce"]), bytes.fromhex(v["lock_nonce"])
    where = (v["compartment"]["kind"], v["compartment"]["target"])
    assert crypto.key_secret(crypto.HmacKey(comp), v["key_id"]).hex() == v["key_secret"]
    real = hal.urandom
    try:
        hal.urandom = lambda n: nk
        k = hs.KeyInitiator(v["key_id"], secrets_for({where: bytes.fromhex(v["key_secret"])}))
        assert k.hello().hex() == v["hello"]
        hal.urandom = lambda n: nl
        lock = hs.LockResponder(crypto.HmacKey(comp), where)
        assert lock.on_hello(bytes.fromhex(v["hello"])).hex() == v["challenge"]
    finally:
        hal.urandom = real
    assert k.on_challenge(bytes.fromhex(v["challenge"])).hex() == v["proof"]
    assert lock.on_proof(bytes.fromhex(v["proof"])).hex() == v["accept"]
    k.on_accept(bytes.fromhex(v["accept"]))
    f = v["session_key_to_lock"]
    assert k.session.seal(codec.T_AUDIT_ACK, f["seq"], f["fields"]).hex() == f["hex"]
    f = v["session_lock_to_key"]
    assert lock.session.seal(codec.T_DECISION, f["seq"], f["fields"]).hex() == f["hex"]


def test_a_hello_of_another_protocol_version_is_refused_as_such():
    from struct import pack

    _k, lock = fresh()
    nonce = bytes(range(16))
    other_version = pack("<HBBL", 2 + 21, codec.T_HS_HELLO, 0, 1001) + nonce + bytes((codec.PROTOCOL_VERSION ^ 0x01,))
    before_versions = pack("<HBBL", 2 + 20, codec.T_HS_HELLO, 0, 1001) + nonce  # protocol 1 and 2 had none
    for body in (other_version, before_versions):
        try:
            lock.on_hello(hs.frame.encode_body(body))
            raise AssertionError("a HELLO of another version was taken")
        except hs.HandshakeError as e:
            assert e.reason == "protocol_version", e.reason
