# Objects the access server signs and the firmware verifies: the key's credential and the
# blocklist. The MAC is HMAC-SHA256 under crypto.server_key(site), truncated to 16 bytes,
# over a domain tag and the object's codec encoding without its MAC field. The server signs
# with the same functions (host/server imports them), so the two can never disagree.
#
# Commands that change a key's security state (its clock, credential, blocklist, pairing,
# provisioning) are signed for that one key: HMAC-SHA256 under crypto.command_key(its
# secret), over a domain tag, the key id, the nonce the key issued for this command, the
# command's type and its encoded body. The nonce is single use, so a relay (phone app, USB
# host) can pass a signed command on but cannot forge, alter or replay it.
from . import codec, crypto
from ._const import const

_MAC_LEN = const(16)
_ZERO_MAC = bytes(16)


def _credential_bytes(cred):
    m = dict(cred)
    m["mac"] = _ZERO_MAC
    return codec.encode(codec.T_GRANT, {"credential": m})[:-_MAC_LEN]  # GRANT is just a credential


def _blocklist_bytes(update):
    m = {"version": update["version"], "key_ids": update["key_ids"], "mac": _ZERO_MAC}
    return codec.encode(codec.T_BLOCKLIST_UPDATE, m)[:-_MAC_LEN]


def credential_mac(server, cred):
    return server.mac(b"credential" + _credential_bytes(cred))[:_MAC_LEN]


def blocklist_mac(server, update):
    return server.mac(b"blocklist" + _blocklist_bytes(update))[:_MAC_LEN]


def sign_credential(server, cred):
    """A copy of `cred` with its MAC set. `server` is crypto.server_key(site)."""
    signed = dict(cred)
    signed["mac"] = credential_mac(server, cred)
    return signed


def sign_blocklist(server, version, key_ids):
    update = {"version": version, "key_ids": sorted(key_ids), "mac": _ZERO_MAC}
    update["mac"] = blocklist_mac(server, update)
    return update


def command_mac(command_key, key_id, nonce, command, body):
    return command_key.mac(b"command" + key_id.to_bytes(4, "little") + bytes(nonce) + bytes((command,)) + bytes(body))[:_MAC_LEN]


def command_ok(command_key, key_id, nonce, signed_command):
    m = signed_command
    return crypto.ct_equal(m["mac"], command_mac(command_key, key_id, nonce, m["command"], m["body"]))


def credential_ok(server, cred):
    return crypto.ct_equal(cred["mac"], credential_mac(server, cred))


def blocklist_ok(server, update):
    return crypto.ct_equal(update["mac"], blocklist_mac(server, update))
