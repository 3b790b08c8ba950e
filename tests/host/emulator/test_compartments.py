"""One lock's secrets open nothing outside its compartment (issue 11, SECURITY.md).

The attacker has everything lock L1 (group depot) stores: its flash image, and unlimited use
of its secure-storage service (a MAC under any slot, as a stolen secure element would
give). On df81519 every lock held the site secret in plain flash: from one lock's flash a
credential for a never-issued key was forged and opened another lock. Here the attacker
tries a lock of another group, L2 (office), every way: as a forged key, with a forged
credential, with a forged blocklist. Each attack is also run against a lock of L1's own
compartment, where it must succeed: so the attack code is real, and SECURITY.md's statement
of what one compromised lock still gives is tested too."""

from struct import pack

import pytest

from keylock.firmware import codec, crypto, frame, handshake, signed, storage
from keylock.firmware.flash import FileFlash
from keylock.firmware.lock_app import STORE_SECTORS
from keylock.firmware.secure import FileSecureStorage
from keylock.host.emulator.site import EmulatedSite
from keylock.protocol.codes import Denial, Outcome, TargetKind

DEPOT, OFFICE = "depot", "office"


@pytest.fixture
def site(tmp_path):
    s = EmulatedSite("cpython", folder=tmp_path)
    s.add_lock("L1", group=DEPOT)
    s.add_lock("L1b", group=DEPOT)  # L1's compartment: what the compromise does give
    s.add_lock("L2", group=OFFICE)
    for key, group in (("K1", DEPOT), ("K2", OFFICE)):
        s.add_key(key, holder=f"Holder {key}")
        s.server.grant(key, groups=[group])
        assert s.validate(key) is None
    s.add_key("K9", holder="Holder K9")  # a key to block, whose unblocking the attacker wants
    s.server.block("K9")
    assert s.validate("K2") is None and s.validate("K1") is None  # both carry the blocklist
    for key, lock in (("K1", "L1"), ("K1", "L1b"), ("K2", "L2")):
        assert s.open(key, lock).outcome == Outcome.GRANTED  # the locks adopt it
    yield s
    s.close()


def loot(site, lock="L1"):
    """Everything a lock stores: its flash image (and the cfg in it), and its secure-storage
    service as an oracle (a PRF under its compartment secret, one under its own)."""
    flash = FileFlash(str(site.folder / f"{lock}.flash"), 64)
    image = flash.read(0, flash.size)
    store = storage.Store(flash, STORE_SECTORS[0], STORE_SECTORS[1])
    cfg = codec.decode(codec.T_PROVISION, store.get("cfg"))
    flash.close()
    oracle = FileSecureStorage(str(site.folder / f"{lock}.secure"))
    return image, cfg, oracle.key(b"compartment"), oracle.key(b"own")


def compartment_of(site, lock):
    return (TargetKind.GROUP, site.server.group_id(DEPOT if lock.startswith("L1") else OFFICE))


def test_the_flash_image_holds_no_secret(site):
    image, cfg, _c, _o = loot(site)
    assert cfg["secret"] == bytes(32) and cfg["compartment_secret"] == bytes(32)
    master = site.server._master
    from keylock.host.server import signing

    depot = compartment_of(site, "L1")
    for secret in (
        master,
        signing.compartment_secret(master, *depot),
        signing.device_secret(master, 2, site.server.lock_id("L1"), cfg["epoch"]),
        signing.key_secret(signing.compartment_secret(master, *depot), site.server.key_id("K1")),
    ):
        assert image.find(secret) < 0


def forged_key_opening(site, lock, key_id, prf):
    """A handshake as key `key_id` with the secret the oracle `prf` derives for it, the
    PROOF computed whatever the lock's own proof says: True when the lock ACCEPTs."""
    site.devices.boot(lock)
    app = site.devices._apps[lock]
    initiator = handshake.KeyInitiator(key_id, lambda kind, target: None)
    hello = initiator.hello()
    challenge = app.on_key_frame(hello)
    guess = crypto.HmacKey(crypto.key_secret(prf, key_id))
    # S_kl | S_lk = KDF(K_key,C, "keylock session", key id | Nk | Nl) (firmware/handshake.py's
    # header): Nk at 9:25 of HELLO (after start, length, type, seq, key id), Nl at 5:21 of CHALLENGE
    s = crypto.derive(guess, b"keylock session", key_id.to_bytes(4, "big") + hello[9:25] + challenge[5:21], 32)
    kl = crypto.HmacKey(s[:16])
    head = pack("<HBB", 2 + handshake.PROOF_LEN, codec.T_HS_PROOF, (challenge[4] + 1) & 0xFF)
    proof = kl.mac(b"K" + hello[1:-4] + challenge[1:-4] + head)[: handshake.PROOF_LEN]
    return app.on_key_frame(frame.encode_body(head + proof)) is not None


def test_a_forged_key_authenticates_only_inside_the_looted_compartment(site):
    _image, _cfg, compartment, own = loot(site)
    for key_id in (site.server.key_id("K2"), site.server.key_id("K1"), 4242):  # an office key, a depot key, a never-issued id
        assert not forged_key_opening(site, "L2", key_id, compartment), key_id
        assert not forged_key_opening(site, "L2", key_id, own), key_id  # the lock's own secret is no better
        assert forged_key_opening(site, "L1b", key_id, compartment), key_id  # L1's own compartment: it does


def _forged_credential(site, key, compartment, server_prf, rights_target):
    cred = dict(site.devices._apps[key].credential)
    cred["rights"] = [{"target": rights_target[1], "kind": rights_target[0], "days": 127, "from_min": 0, "to_min": 1440}]
    cred["valid_until"] = cred["not_after"] = 0xFFFFFFFF
    return signed.sign_credential([(compartment[0], compartment[1], crypto.server_key(server_prf))], dict(cred, macs=[]))


def test_a_forged_credential_opens_no_lock_of_another_compartment(site):
    # K2 is the attacker's own key of the site (modified: its stored credential is theirs to
    # write); they strip its office rights and forge new ones with L1's compartment secret.
    _image, _cfg, compartment, _own = loot(site)
    office, depot = compartment_of(site, "L2"), compartment_of(site, "L1")
    site.server.revoke("K2", groups=[OFFICE])
    assert site.validate("K2") is None
    assert site.open("K2", "L2").reason == Denial.NOT_AUTHORIZED  # revoked: nothing to present
    key = site.devices._apps["K2"]
    key.credential = _forged_credential(site, "K2", office, compartment, office)  # labelled office, MACed with depot's key
    got = site.open("K2", "L2")
    assert (got.outcome, got.reason) == (Outcome.DENIED, Denial.AUTH_FAILED)
    # the same forgery for the looted compartment does open its locks (K1: a depot key's session)
    site.devices._apps["K1"].credential = _forged_credential(site, "K1", depot, compartment, depot)
    assert site.open("K1", "L1b").outcome == Outcome.GRANTED


def test_a_forged_blocklist_is_not_adopted_by_a_lock_of_another_compartment(site):
    _image, _cfg, compartment, _own = loot(site)
    office, depot = compartment_of(site, "L2"), compartment_of(site, "L1")
    version = site.lock_status("L2")["blocklist_version"]
    assert version >= 1 and site.lock_status("L2")["blocklist_size"] == 1
    # unblock K9 everywhere: an empty list of a higher version, MACed with what L1 gives
    forged = signed.sign_blocklist(
        [(office[0], office[1], crypto.server_key(compartment)), (depot[0], depot[1], crypto.server_key(compartment))], version + 5, []
    )
    for key in ("K1", "K2"):
        site.devices._apps[key].blocklist = forged
    assert site.open("K2", "L2").outcome == Outcome.GRANTED
    assert (site.lock_status("L2")["blocklist_version"], site.lock_status("L2")["blocklist_size"]) == (version, 1)
    assert site.open("K1", "L1b").outcome == Outcome.GRANTED
    assert site.lock_status("L1b")["blocklist_version"] == version + 5  # inside the compartment it is taken


def test_a_rogue_lock_of_the_looted_compartment_cannot_make_a_key_drop_events_the_server_lacks(site):
    # A lock made from L1's secrets answers a key's AUDIT_READ with more records than asked
    # for. The key keeps only what it asked for (its room beside what the server lacks), so
    # no event of any compartment it carries is overwritten before the server has it.
    _image, cfg, compartment, _own = loot(site)
    key = site.devices._apps["K1"]
    for _ in range(key.carried.capacity - 2 - len(site.key_audit("K1"))):
        key.carried.append(bytes(30))  # events the server does not have yet
    assert key.carried_room() == 2
    held = key.carried.next_seq - key.uploaded
    rogue = handshake.LockResponder(compartment, compartment_of(site, "L1"))
    proof = key.on_lock_frame(rogue.on_hello(key.begin()))
    accept = rogue.on_proof(proof)
    session = rogue.session
    _t, seq, _m = session.open(key.on_lock_frame(accept))  # the key's CREDENTIAL
    decision = {"lock_id": cfg["device_id"], "outcome": 0, "reason": 0, "blocklist_version": 99}
    t, seq, m = session.open(key.on_lock_frame(session.seal(codec.T_DECISION, seq, decision)))
    assert (t, m["max_count"]) == (codec.T_AUDIT_READ, 2)
    flood = [
        {"seq": i, "epoch": 1, "time": 0, "key_id": 1, "lock_id": cfg["device_id"], "outcome": 0, "reason": 0, "count": 1, "mac": bytes(8)}
        for i in range(64)
    ]
    t, _seq, m = session.open(
        key.on_lock_frame(session.seal(codec.T_AUDIT_BATCH, seq, {"records": flood, "next_seq": 64, "mac": bytes(8)}))
    )
    assert (t, m["up_to_seq"]) == (codec.T_AUDIT_ACK, 1)  # acknowledged only the 2 it took
    assert key.carried.next_seq - key.uploaded == held + 2 and key.carried.first_seq <= key.uploaded
