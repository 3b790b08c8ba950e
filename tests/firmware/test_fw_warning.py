# The key warns (KEY_STATUS flag BATTERY_LOW, its LED at every use) at or below the higher of
# 15 % and the threshold its credential carries (warn_permille), which the server computed
# from the physics for the coldest day before the credential expires (issue 14). The
# threshold comes only inside a VALIDATE the server signed for this key. Runs on CPython and
# on MicroPython.
from fwenv import codec, device, flash, key_app, new_path, secure
from test_fw_signed_commands import START_S, answer, challenge, credential, host, new_key, sign, wrapped_group_secret


def validate(key, warn_permille, tamper_to=None):
    """A signed VALIDATE carrying `warn_permille`; with `tamper_to`, a relay changes it to that
    after the server signed. Returns the key's RESULT code."""
    nonce = challenge(key)
    cred = credential(START_S + 10 * 86400)
    cred["warn_permille"] = warn_permille
    fields = {"server_time": START_S, "credential": cred, "secrets": [wrapped_group_secret(nonce)], "uploaded_to": 0}
    command = sign(nonce, codec.T_VALIDATE, fields)
    if tamper_to is not None:
        cred["warn_permille"] = tamper_to
        command["body"] = codec.encode(codec.T_VALIDATE, fields)
    return host(key, codec.T_SIGNED_COMMAND, command)


def low(key, permille):
    key.dev.battery_permille = permille
    t, status = answer(key, codec.T_STATUS_REQUEST, {})
    assert t == codec.T_KEY_STATUS and status["soc_permille"] == permille
    return bool(status["flags"] & codec.FLAG_BATTERY_LOW)


def test_the_key_warns_at_the_signed_threshold_above_15_percent():
    key = new_key()
    assert validate(key, 213) == codec.ERR_OK
    assert key.warn_permille() == 213
    assert low(key, 180)  # 18 %: the 15 % rule alone would not warn
    assert low(key, 213)  # at the threshold
    assert not low(key, 214)
    assert low(key, 150)


def test_without_a_higher_threshold_the_key_warns_at_15_percent():
    key = new_key()
    assert not low(key, 151) and low(key, 150)  # no credential yet
    assert validate(key, 0) == codec.ERR_OK
    assert not low(key, 180) and not low(key, 151) and low(key, 150)
    assert validate(key, 120) == codec.ERR_OK  # a lower threshold never lowers the 15 % floor
    assert key.warn_permille() == codec.LOW_BATTERY_PERMILLE
    assert low(key, 150) and not low(key, 151)


def test_the_key_warns_at_every_use_below_the_signed_threshold():
    key = new_key()
    assert validate(key, 213) == codec.ERR_OK
    key.dev.battery_permille = 180
    key.dev.outputs = []
    key.begin()
    assert ("led", "battery_low") in key.dev.outputs
    key.dev.battery_permille = 300
    key.dev.outputs = []
    key.begin()
    assert ("led", "battery_low") not in key.dev.outputs


def test_a_relay_cannot_change_the_threshold():
    key = new_key()
    assert validate(key, 213) == codec.ERR_OK
    assert validate(key, 213, tamper_to=0) == codec.ERR_BAD_SIGNATURE  # silencing the warning
    assert validate(key, 213, tamper_to=1000) == codec.ERR_BAD_SIGNATURE  # or raising a false one
    assert key.warn_permille() == 213 and low(key, 180) and not low(key, 214)


def test_the_threshold_survives_a_reboot():
    key = new_key()
    assert validate(key, 230) == codec.ERR_OK
    again = key_app.KeyApp(key.dev)
    assert again.warn_permille() == 230
    # and a key that never had a credential on its flash warns at 15 %
    fresh = key_app.KeyApp(
        device.Device(
            flash.FileFlash(new_path("kl_warn", "key"), key_app.FLASH_SECTORS), secure.FileSecureStorage(new_path("kl_warn", "s"))
        )
    )
    assert fresh.warn_permille() == codec.LOW_BATTERY_PERMILLE
