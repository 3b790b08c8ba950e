# A phone app or USB host relays a key's host link; it is no authority. A provisioned key
# takes commands that change its security state only signed by the server for that key and
# bound to a nonce the key issued (SECURITY.md, claim 2). Each test here fails on df81519,
# where the key took all of them plain. Runs on CPython and on MicroPython.
from fwenv import codec, crypto, device, flash, frame, key_app, new_path, secure, signed

KEY_ID = 1001
SECRET = bytes(range(32))  # the key's own secret, shared with the server only
OTHER_SECRET = bytes(range(1, 33))  # another key's, or another site's key under the same id
GROUP = (codec.TARGET_GROUP, 7)
GROUP_SECRET = bytes(range(64, 96))  # the group's compartment secret: the server's and its locks'


def provisioning(device_id=KEY_ID, secret=SECRET):
    return {
        "role": codec.ROLE_KEY,
        "device_id": device_id,
        "groups": [],
        "compartment": {"kind": 0, "target": 0},
        "epoch": 0,
        "secret": secret,
        "compartment_secret": bytes(32),
    }


START_S = 1767600000
PHONE = 4711


def new_key(provision=True):
    key = key_app.KeyApp(
        device.Device(
            flash.FileFlash(new_path("kl_signed", "key"), key_app.FLASH_SECTORS),
            secure.FileSecureStorage(new_path("kl_signed", "key.secure")),
        )
    )
    if provision:
        assert host(key, codec.T_PROVISION, provisioning()) == codec.ERR_OK
    return key


def answer(key, t, fields):
    t2, _seq, m, _mac = frame.decode(key.on_host_frame(frame.encode_message(t, 7, fields)))
    return t2, m


def host(key, t, fields):
    """The RESULT code of a plain host command."""
    t2, m = answer(key, t, fields)
    assert t2 == codec.T_RESULT
    return m["code"]


def challenge(key):
    t, m = answer(key, codec.T_KEY_CHALLENGE_REQUEST, {})
    assert t == codec.T_KEY_CHALLENGE and m["key_id"] == KEY_ID and len(m["nonce"]) == 16
    return m["nonce"]


def sign(nonce, t, fields, secret=SECRET):
    body = codec.encode(t, fields)
    return {"command": t, "body": body, "mac": signed.command_mac(crypto.command_key(crypto.HmacKey(secret)), KEY_ID, nonce, t, body)}


def wrapped_group_secret(nonce, secret=SECRET):
    """The key's secret for GROUP, wrapped for it as the server does under `nonce`."""
    own = crypto.HmacKey(secret)
    mine = crypto.key_secret(crypto.HmacKey(GROUP_SECRET), KEY_ID)
    return {
        "kind": GROUP[0],
        "target": GROUP[1],
        "wrapped": signed.wrap_secret(lambda n, c: crypto.wrap_stream(own, n, c), nonce, GROUP[0], GROUP[1], mine),
    }


def credential(valid_until):
    right = {"target": 7, "kind": codec.TARGET_GROUP, "days": codec.DAY_ALL, "from_min": 0, "to_min": 1440}
    return {
        "key_id": KEY_ID,
        "issued_at": START_S,
        "not_before": 0,
        "not_after": 0xFFFFFFFF,
        "valid_until": valid_until,
        "offset_change_at": 0,
        "offset_change_min": 0,
        "blocklist_version": 3,
        "warn_permille": 0,
        "rights": [right],
        "macs": [{"kind": GROUP[0], "target": GROUP[1], "mac": bytes(16)}],
    }


# Every command that changes a key's security state, with a value that would change it.
CHANGES = [
    (codec.T_TIME_SET, {"unix_s": START_S + 999}),
    (codec.T_GRANT, {"credential": credential(START_S + 99 * 86400), "secrets": []}),
    (codec.T_VALIDATE, {"server_time": START_S + 999, "credential": credential(START_S + 99 * 86400), "secrets": [], "uploaded_to": 5}),
    (codec.T_BLOCKLIST_UPDATE, {"version": 0xFFFFFFFF, "key_ids": [], "macs": []}),
    (codec.T_UNPAIR, {"phone_id": PHONE}),
    (codec.T_PROVISION, provisioning(666, bytes(32))),
]


def state(key):
    t, status = answer(key, codec.T_STATUS_REQUEST, {})
    assert t == codec.T_KEY_STATUS
    return status, key.credential, key.blocklist, key.cfg, key.uploaded, key.dev.secure.has(b"c" + bytes((GROUP[0],)) + bytes((7, 0, 0, 0)))


def validated_paired_key():
    key = new_key()
    assert host(key, codec.T_PAIR, {"phone_id": PHONE}) == codec.ERR_OK  # pairing stays the key's own rule
    nonce = challenge(key)
    fields = {
        "server_time": START_S,
        "credential": credential(START_S + 10 * 86400),
        "secrets": [wrapped_group_secret(nonce)],
        "uploaded_to": 0,
    }
    assert host(key, codec.T_SIGNED_COMMAND, sign(nonce, codec.T_VALIDATE, fields)) == codec.ERR_OK
    return key


def test_a_validation_puts_the_wrapped_secret_in_secure_storage_and_no_secret_in_flash():
    key = validated_paired_key()
    mine = crypto.key_secret(crypto.HmacKey(GROUP_SECRET), KEY_ID)
    slot = key.dev.secure.key(b"c" + bytes((GROUP[0], 7, 0, 0, 0)))
    assert slot is not None and slot.mac(b"m") == crypto.hmac_sha256(mine, b"m")
    assert key.dev.secure.key(b"own").mac(b"m") == crypto.hmac_sha256(SECRET, b"m")
    image = key.dev.flash.read(0, key.dev.flash.size)
    for secret in (SECRET, mine, GROUP_SECRET):
        assert image.find(secret) < 0


def test_a_provisioned_key_refuses_every_unsigned_security_command_and_keeps_its_state():
    key = validated_paired_key()
    before = state(key)
    for t, fields in CHANGES:
        assert host(key, t, fields) == codec.ERR_NOT_SIGNED, t
        assert state(key) == before, t


def test_a_signed_command_takes_effect_once_and_its_replay_is_refused():
    key = validated_paired_key()
    nonce = challenge(key)
    cmd = sign(nonce, codec.T_TIME_SET, {"unix_s": START_S + 500})
    assert host(key, codec.T_SIGNED_COMMAND, cmd) == codec.ERR_OK
    assert key.dev.now_s() == START_S + 500
    key.dev.set_clock(START_S + 600)  # time passes
    after = state(key)
    assert host(key, codec.T_SIGNED_COMMAND, cmd) == codec.ERR_STALE  # the nonce was single use
    challenge(key)  # a fresh challenge does not revive the old signature
    assert host(key, codec.T_SIGNED_COMMAND, cmd) == codec.ERR_BAD_SIGNATURE
    assert state(key) == after


def test_an_altered_or_misaddressed_signed_command_is_refused():
    key = validated_paired_key()
    before = state(key)
    for t, fields in CHANGES:
        nonce = challenge(key)
        good = sign(nonce, t, fields)
        altered_body = dict(good)
        body = bytearray(good["body"])
        body[0] ^= 0x01  # XOR: always a change
        altered_body["body"] = bytes(body)
        assert host(key, codec.T_SIGNED_COMMAND, altered_body) == codec.ERR_BAD_SIGNATURE, t
        nonce = challenge(key)
        other_command = dict(sign(nonce, t, fields))
        other_command["command"] = codec.T_TIME_SET if t != codec.T_TIME_SET else codec.T_UNPAIR  # the MAC covers the type
        assert host(key, codec.T_SIGNED_COMMAND, other_command) == codec.ERR_BAD_SIGNATURE, t
        nonce = challenge(key)
        assert host(key, codec.T_SIGNED_COMMAND, sign(nonce, t, fields, secret=OTHER_SECRET)) == codec.ERR_BAD_SIGNATURE, t
        assert state(key) == before, t


def test_a_signature_for_a_plain_command_or_without_a_challenge_is_refused():
    key = validated_paired_key()
    before = state(key)
    assert host(key, codec.T_SIGNED_COMMAND, sign(bytes(16), codec.T_TIME_SET, {"unix_s": 1})) == codec.ERR_STALE
    nonce = challenge(key)
    assert host(key, codec.T_SIGNED_COMMAND, sign(nonce, codec.T_PAIR, {"phone_id": 1})) == codec.ERR_BAD_SIGNATURE
    assert state(key) == before


def test_a_reboot_forgets_the_outstanding_challenge():
    key = validated_paired_key()
    nonce = challenge(key)
    rebooted = key_app.KeyApp(key.dev)  # power cycle: RAM is gone, flash stays
    assert host(rebooted, codec.T_SIGNED_COMMAND, sign(nonce, codec.T_TIME_SET, {"unix_s": START_S + 9})) == codec.ERR_STALE


def test_an_unprovisioned_key_takes_factory_commands_plain():
    key = new_key(provision=False)
    assert host(key, codec.T_TIME_SET, {"unix_s": START_S}) == codec.ERR_OK
    assert key.dev.now_s() == START_S
    t, m = answer(key, codec.T_KEY_CHALLENGE_REQUEST, {})
    assert (t, m["code"]) == (codec.T_RESULT, codec.ERR_NOT_PROVISIONED)
    assert host(key, codec.T_PROVISION, provisioning()) == codec.ERR_OK
    assert host(key, codec.T_TIME_SET, {"unix_s": START_S + 1}) == codec.ERR_NOT_SIGNED  # from now on, the server's
