# The blocklist stays in flash (issue 13): a lock adopts the encoded update as it came and
# binary-searches its ids where they lie; large frames are sealed in place and opened without
# building their fields; the storage reads a value or log records a part at a time. Each test
# fails on an implementation that gets the search, the layout or the bytes on the wire wrong.
# Runs on CPython and on MicroPython.
from fwenv import codec, crypto, device, flash, frame, new_path, secure, session, signed, storage

try:
    from keylock_fw import lock_app  # MicroPython: mounted as on a board
except ImportError:
    from keylock.firmware import lock_app

LOCK_ID, GROUP = 101, 7
SITE = bytes(range(32))  # the group's compartment secret
COMPARTMENT = (codec.TARGET_GROUP, GROUP)
SERVER = crypto.server_key(crypto.HmacKey(SITE))
IDS = [0, 5, 5, 9, 1000, 1001, 70000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE]  # sorted, a duplicate, both ends of u32


def new_lock():
    lock = lock_app.LockApp(
        device.Device(
            flash.FileFlash(new_path("kl_blflash", "lock"), lock_app.FLASH_SECTORS),
            secure.FileSecureStorage(new_path("kl_blflash", "lock.secure")),
        )
    )
    provision = {
        "role": codec.ROLE_LOCK,
        "device_id": LOCK_ID,
        "groups": [GROUP],
        "compartment": {"kind": COMPARTMENT[0], "target": COMPARTMENT[1]},
        "epoch": 1,
        "secret": bytes(range(64, 96)),
        "compartment_secret": SITE,
    }
    _t, _s, m, _mac = frame.decode(lock.on_host_frame(frame.encode_message(codec.T_PROVISION, 1, provision)))
    assert m["code"] == codec.ERR_OK
    return lock


def encoded(update):
    return codec.encode(codec.T_BLOCKLIST_UPDATE, update)


def test_a_lock_finds_every_blocked_id_in_flash_and_no_other():
    lock = new_lock()
    update = signed.sign_blocklist([(COMPARTMENT[0], COMPARTMENT[1], SERVER)], 3, IDS)
    assert lock._adopt_blocklist(memoryview(encoded(update))) == codec.ERR_OK
    for again in (lock, lock_app.LockApp(lock.dev)):  # and after a reboot, from flash alone
        assert (again.blocklist_version, again.blocklist_size) == (3, len(IDS))
        for key_id in IDS:
            assert again._is_blocked(key_id), key_id
        for key_id in (1, 4, 6, 999, 1002, 69999, 0x7FFFFFFE, 0x80000001, 0xFFFFFFFF):
            assert not again._is_blocked(key_id), key_id
        assert again.status()["blocklist_size"] == len(IDS)


def test_a_lock_with_no_blocklist_or_an_empty_one_blocks_nobody():
    lock = new_lock()
    assert (lock.blocklist_version, lock.blocklist_size) == (0, 0) and not lock._is_blocked(0)
    empty = signed.sign_blocklist([(COMPARTMENT[0], COMPARTMENT[1], SERVER)], 4, [])
    assert lock._adopt_blocklist(encoded(empty)) == codec.ERR_OK
    assert (lock.blocklist_version, lock.blocklist_size) == (4, 0) and not lock._is_blocked(0)


def test_a_lock_refuses_a_stale_a_forged_and_an_unsorted_blocklist_and_keeps_its_own():
    lock = new_lock()
    mine = [(COMPARTMENT[0], COMPARTMENT[1], SERVER)]
    assert lock._adopt_blocklist(encoded(signed.sign_blocklist(mine, 3, [10, 20]))) == codec.ERR_OK
    assert lock._adopt_blocklist(encoded(signed.sign_blocklist(mine, 3, [30]))) == codec.ERR_STALE
    forged = signed.sign_blocklist(mine, 4, [30])
    forged["key_ids"] = [31]
    assert lock._adopt_blocklist(encoded(forged)) == codec.ERR_BAD_SIGNATURE
    # signed, but not in the order the server signs in: the search could not be trusted
    unsorted = {"version": 5, "key_ids": [20, 10], "macs": []}
    body = codec.encode(codec.T_BLOCKLIST_UPDATE, unsorted)[:-1]
    unsorted["macs"] = [{"kind": COMPARTMENT[0], "target": COMPARTMENT[1], "mac": SERVER.mac(b"blocklist" + body)[:16]}]
    assert signed.blocklist_ok(SERVER, COMPARTMENT, unsorted)
    assert lock._adopt_blocklist(encoded(unsorted)) == codec.ERR_BAD_REQUEST
    assert (lock.blocklist_version, lock.blocklist_size) == (3, 2) and lock._is_blocked(20) and not lock._is_blocked(30)


def test_the_blocklist_layout_is_checked_as_the_codec_checks_it():
    update = encoded(signed.sign_blocklist([(COMPARTMENT[0], COMPARTMENT[1], SERVER)], 9, [1, 2, 3]))
    version, count, macs = signed.blocklist_layout(memoryview(update))
    assert (version, count) == (9, 3) and macs == codec.decode(codec.T_BLOCKLIST_UPDATE, update)["macs"]
    for bad in (update[:5], update[:-1], update + b"\x00", update[:4] + b"\xa1\x0f" + update[6:]):  # ... 4001 ids
        assert _refused(codec.decode, codec.T_BLOCKLIST_UPDATE, bad)
        assert _refused(signed.blocklist_layout, bad)


def _refused(call, *args):
    try:
        call(*args)
    except codec.CodecError:
        return True
    return False


def test_a_frame_sealed_in_place_is_the_frame_seal_makes_and_opens_the_same():
    keys = crypto.HmacKey(b"k" * 16), crypto.HmacKey(b"l" * 16)
    m = {"version": 7, "key_ids": list(range(100, 400, 3)), "macs": []}
    payload = codec.encode(codec.T_BLOCKLIST_UPDATE, m)
    made = session.Session(*keys)
    in_place = session.Session(*keys)
    frames = []
    for seq in (2, 3):
        want = made.seal(codec.T_BLOCKLIST_UPDATE, seq, m)
        buf = bytearray(5 + len(payload) + codec.MAC_LEN + codec.CRC_LEN)
        buf[5 : 5 + len(payload)] = payload
        assert bytes(in_place.seal_into(codec.T_BLOCKLIST_UPDATE, seq, buf)) == want
        frames.append(want)
    peer = session.Session(keys[1], keys[0])
    for seq, raw in ((2, frames[0]), (3, frames[1])):
        t, got_seq, kept = peer.open(memoryview(raw), lambda t, p: p)  # the caller's decoder: the payload as it came
        assert (t, got_seq, bytes(kept)) == (codec.T_BLOCKLIST_UPDATE, seq, payload)
    assert peer.received == 2


def test_a_store_value_and_log_records_read_a_part_at_a_time_are_what_whole_reads_give():
    chip = flash.FileFlash(new_path("kl_blflash", "parts"), 12)
    store = storage.Store(chip, 0, 4)
    value = bytes(i * 7 & 0xFF for i in range(5000))  # programmed a page at a time
    store.put("big", value)
    assert store.length("big") == 5000 and store.length("none") is None
    part = bytearray(300)
    assert store.readinto("big", 4000, part) and bytes(part) == value[4000:4300]
    assert not store.readinto("big", 4800, part) and not store.readinto("none", 0, part)
    assert storage.Store(chip, 0, 4).get("big") == value  # durable as one record
    log = storage.Log(chip, 4, 8, 30)
    for i in range(300):
        log.append(bytes((i & 0xFF,)) * 30)
    for start, count in ((0, 64), (log.first_seq + 5, 64), (log.next_seq - 3, 64), (log.next_seq, 5)):
        whole = log.read(start, count)
        buf = bytearray(7 + 30 * count)
        n, after = log.readinto(start, count, buf, 7)
        assert n == len(whole) and bytes(buf[7 : 7 + 30 * n]) == b"".join(r for _s, r in whole)
        assert after == (whole[-1][0] + 1 if whole else start)
