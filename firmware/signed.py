# What the access server signs and the firmware verifies, and what the firmware signs for the
# server. One definition for both sides: the server (host/server) calls these functions with
# its own MAC objects, so the two can never disagree.
#
# Credentials and blocklists carry one MAC per compartment (HMAC-SHA256 under that
# compartment's crypto.server_key, truncated to 16 bytes, over a domain tag and the object's
# codec encoding with no MACs): a lock checks only its own compartment's.
#
# Commands that change a key's security state (its clock, credential, blocklist, pairing,
# provisioning) are signed for that one key: HMAC-SHA256 under crypto.command_key(its own
# secret), over a domain tag, the key id, the nonce the key issued for this command, the
# command's type and its encoded body. The nonce is single use, so a relay (phone app, USB
# host) can pass a signed command on but cannot forge, alter or replay it.
#
# Audit records are MACed by their lock under its own secret; a batch of carried records by
# the key that carries it, under its own secret: the server believes neither relay nor key
# about what a lock recorded, and no relay about what a key carries.
from struct import pack, unpack_from

from . import audit, codec, crypto
from ._const import const

_MAC_LEN = const(16)
BLOCKLIST_HEAD = const(6)  # a BLOCKLIST_UPDATE's version u32 and id count u16, before its ids


def _credential_bytes(cred):
    m = dict(cred)
    m["macs"] = []
    return codec.encode(codec.T_GRANT, {"credential": m, "secrets": []})[:-2]  # GRANT is a credential, then 2 empty counts


def _blocklist_bytes(update):
    return codec.encode(codec.T_BLOCKLIST_UPDATE, {"version": update["version"], "key_ids": update["key_ids"], "macs": []})[:-1]


def _mac_for(macs, compartment):
    kind, target = compartment
    for m in macs:
        if m["kind"] == kind and m["target"] == target:
            return m["mac"]
    return None


def _macs(servers, tag, body):
    """One MAC entry per (kind, target, server key) in `servers`."""
    return [{"kind": kind, "target": target, "mac": server.mac(tag + body)[:_MAC_LEN]} for kind, target, server in servers]


def sign_credential(servers, cred):
    """A copy of `cred` with a MAC for each compartment in `servers`: (kind, target, server
    key) with the key from crypto.server_key(the compartment's secret)."""
    signed = dict(cred)
    signed["macs"] = _macs(servers, b"credential", _credential_bytes(cred))
    return signed


def sign_blocklist(servers, version, key_ids):
    update = {"version": version, "key_ids": sorted(key_ids), "macs": []}
    update["macs"] = _macs(servers, b"blocklist", _blocklist_bytes(update))
    return update


def compartment_mac(macs, compartment):
    """The MAC for `compartment` among an object's `macs`, or None."""
    return _mac_for(macs, compartment)


def for_compartment(obj, compartment):
    """A credential or blocklist with only the MAC a lock of `compartment` checks (what a key
    sends it), or None when it has none for that compartment."""
    mac = _mac_for(obj["macs"], compartment)
    if mac is None:
        return None
    out = dict(obj)
    out["macs"] = [{"kind": compartment[0], "target": compartment[1], "mac": mac}]
    return out


def credential_ok(server, compartment, cred):
    mac = _mac_for(cred["macs"], compartment)
    return mac is not None and crypto.ct_equal(mac, server.mac(b"credential" + _credential_bytes(cred))[:_MAC_LEN])


def blocklist_ok(server, compartment, update):
    mac = _mac_for(update["macs"], compartment)
    return mac is not None and crypto.ct_equal(mac, server.mac(b"blocklist" + _blocklist_bytes(update))[:_MAC_LEN])


def blocklist_layout(payload):
    """(version, count of ids, macs) of an encoded BLOCKLIST_UPDATE, checked as codec.decode
    checks it (codec.CodecError otherwise), but without decoding its ids: what follows them
    is decoded by the codec itself, as an update with none."""
    if len(payload) < BLOCKLIST_HEAD:
        raise codec.CodecError("truncated message")
    version, count = unpack_from("<LH", payload)
    if count > codec.MAX_BLOCKLIST:
        raise codec.CodecError("integer out of range")
    end = BLOCKLIST_HEAD + 4 * count
    if len(payload) <= end:
        raise codec.CodecError("truncated message")
    macs = codec.decode(codec.T_BLOCKLIST_UPDATE, bytes(payload[:4]) + b"\x00\x00" + bytes(payload[end:]))["macs"]
    return version, count, macs


def encoded_blocklist_ok(server, compartment, payload, count, macs):
    """blocklist_ok for an update kept as its BLOCKLIST_UPDATE encoding (`payload`, with
    `count` key ids and the decoded `macs`): its ids are MACed where they lie, never decoded
    or copied (4,000 of them fill a board's heap). `server` is an HmacKey."""
    mac = _mac_for(macs, compartment)
    body = memoryview(payload)[: BLOCKLIST_HEAD + 4 * count]  # what _blocklist_bytes encodes
    return mac is not None and crypto.ct_equal(mac, server.mac(b"blocklist", body)[:_MAC_LEN])


def command_mac(command_key, key_id, nonce, command, body):
    return command_key.mac(b"command" + key_id.to_bytes(4, "little") + bytes(nonce) + bytes((command,)) + bytes(body))[:_MAC_LEN]


def command_ok(command_key, key_id, nonce, signed_command):
    m = signed_command
    return crypto.ct_equal(m["mac"], command_mac(command_key, key_id, nonce, m["command"], m["body"]))


# --- secrets the server sends one key ---------------------------------------------------


def _compartment_bytes(kind, target):
    return pack("<BL", kind, target)


def wrap_secret(stream_for, nonce, kind, target, secret):
    """`secret` (32 bytes) for the compartment (kind, target), XORed with the key stream
    `stream_for(nonce, context)` (crypto.wrap_stream under the key's own secret)."""
    stream = stream_for(nonce, _compartment_bytes(kind, target))
    return bytes(a ^ b for a, b in zip(secret, stream))  # noqa: B905 (MicroPython has no strict=)


unwrap_secret = wrap_secret  # XOR with the same stream


# --- audit -------------------------------------------------------------------------------


def audit_mac(own, body):
    """A lock's MAC on one record (`body`: audit.pack_body), under its own secret."""
    return own.mac(b"audit" + bytes(body))[: audit.MAC_LEN]


def audit_ok(own, record):
    """`record` (audit.RECORD_LEN bytes) carries its lock's MAC."""
    body = record[: audit.RECORD_LEN - audit.MAC_LEN]
    return crypto.ct_equal(bytes(record[audit.RECORD_LEN - audit.MAC_LEN : audit.RECORD_LEN]), audit_mac(own, body))


def carried_mac(own, key_id, from_seq, next_seq, records):
    """A key's MAC, under its own secret, on the records it carries from position `from_seq`
    up to `next_seq` (`records`: their audit.RECORD_LEN-byte forms, in order): all of them."""
    return own.mac(b"carried" + pack("<LLL", key_id, from_seq, next_seq) + b"".join(records))[: audit.MAC_LEN]
