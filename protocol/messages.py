"""The message catalogue: one construct Struct per message type, little-endian throughout.

Times are UNIX seconds (u32, UTC). Ids of keys, locks, groups and phones are u32 assigned
by the access server. Secrets and MACs are raw bytes of fixed length.
"""

from construct import Bytes, Int8ul, Int16sl, Int16ul, Int32ul, Struct

from .adapters import CodeEnum, Counted, VarBytes
from .codes import Denial, ErrorCode, MsgType, Outcome, Role, TargetKind

NONCE_LEN = 16
PROOF_LEN = 8  # handshake proofs: truncated HMAC-SHA256, as DESFire EV2 and OSDP use 8-byte MACs
SERVER_MAC_LEN = 16  # MACs by the access server over credentials and blocklists
SECRET_LEN = 32
MAX_RIGHTS = 255
# Compartments one key may open (one MAC and one secret each): 16 keeps a full blocklist with a
# MAC per compartment (4,000 ids: 16,007 bytes, + 16 x 21) inside one SIGNED_COMMAND's body.
MAX_COMPARTMENTS = 16
AUDIT_MAC_LEN = 8  # a lock's MAC on each of its audit records, a key's on a batch it carries
MAX_BLOCKLIST = 4000  # the lock holds at least 3,000 entries
MAX_AUDIT_BATCH = 64
MAX_COMMAND_BODY = 16360  # a signed command's inner message: room for a 4,000-id blocklist (16,022 bytes) in one frame

# --- structures used inside messages -------------------------------------------------

AccessRight = Struct(
    "target" / Int32ul,  # a lock id or a group id
    "kind" / CodeEnum(Int8ul, TargetKind),
    "days" / Int8ul,  # Weekday bits
    "from_min" / Int16ul,  # minutes after local midnight, inclusive
    "to_min" / Int16ul,  # exclusive; from 0 to 1440 means all day
)

# A compartment: the locks that share secrets, named as an access right names its target: a
# lock group (key bundle), or one lock in no group. A lock holds the secret of its own
# compartment only, so what one lock stores opens nothing outside it.
Compartment = Struct("kind" / CodeEnum(Int8ul, TargetKind), "target" / Int32ul)

# The access server's MAC over an object for the locks of one compartment.
CompartmentMac = Struct("kind" / CodeEnum(Int8ul, TargetKind), "target" / Int32ul, "mac" / Bytes(SERVER_MAC_LEN))

# A key's own secret for one compartment, wrapped for that key by the server (firmware/signed.py
# wrap_secret): a relay carries it but cannot read it.
WrappedSecret = Struct("kind" / CodeEnum(Int8ul, TargetKind), "target" / Int32ul, "wrapped" / Bytes(SECRET_LEN))

# Issued by the access server at validation, with one MAC per compartment the key may open
# (each under that compartment's server key); a key hands a lock only the MAC for the lock's
# compartment, which the lock verifies. The MACs cover every field but `macs`.
Credential = Struct(
    "key_id" / Int32ul,
    "issued_at" / Int32ul,
    "not_before" / Int32ul,  # the validity window of the key's rights
    "not_after" / Int32ul,
    "valid_until" / Int32ul,  # end of the current validation (10 days after it)
    # Rights are in UTC as converted at issue. A daylight-saving change within the validity
    # shifts the site's clock: from `offset_change_at` (0: none) the lock reads them at its
    # time plus `offset_change_min`, so schedules stay in local time across the change.
    "offset_change_at" / Int32ul,
    "offset_change_min" / Int16sl,
    "blocklist_version" / Int32ul,  # the server's blocklist version at issue
    # The key warns (KeyFlag.BATTERY_LOW) at or below the higher of LOW_BATTERY_PERMILLE and
    # this: the state of charge below which the server's physics says this key's openings fail
    # at the coldest temperature expected before its next validation (0: no more than 15 %).
    "warn_permille" / Int16ul,
    "rights" / Counted(Int8ul, AccessRight, max_count=MAX_RIGHTS),
    "macs" / Counted(Int8ul, CompartmentMac, max_count=MAX_COMPARTMENTS),
)

# Made and MACed by the lock under its own secret (one per lock and epoch, in its secure
# storage), so the server verifies every record whoever carried it; (lock, epoch, seq) names
# one event forever: a re-provisioned or replaced lock starts a new epoch.
AuditRecord = Struct(
    "seq" / Int32ul,  # the lock's event counter in this epoch: acknowledgements refer to it
    "epoch" / Int16ul,  # the lock's provisioning: the server counts them
    "time" / Int32ul,
    "key_id" / Int32ul,
    "lock_id" / Int32ul,
    "outcome" / CodeEnum(Int8ul, Outcome),
    "reason" / CodeEnum(Int8ul, Denial),
    "count" / Int16ul,  # events of this kind it stands for: failed authentications are counted, not each written
    "mac" / Bytes(AUDIT_MAC_LEN),
)

# --- messages ---------------------------------------------------------------------

MESSAGES = {
    # the key's protocol version: a lock of another answers RESULT protocol_version, not a CHALLENGE
    MsgType.HS_HELLO: Struct("key_id" / Int32ul, "nonce" / Bytes(NONCE_LEN), "protocol_version" / Int8ul),
    # the lock's compartment says which of its secrets the key must prove with
    MsgType.HS_CHALLENGE: Struct("nonce" / Bytes(NONCE_LEN), "compartment" / Compartment, "proof" / Bytes(PROOF_LEN)),
    MsgType.HS_PROOF: Struct("proof" / Bytes(PROOF_LEN)),
    MsgType.HS_ACCEPT: Struct("proof" / Bytes(PROOF_LEN)),
    MsgType.CREDENTIAL: Struct("key_time" / Int32ul, "credential" / Credential),
    MsgType.BLOCKLIST_UPDATE: Struct(
        "version" / Int32ul,
        "key_ids" / Counted(Int16ul, Int32ul, max_count=MAX_BLOCKLIST),
        "macs" / Counted(Int8ul, CompartmentMac, max_count=MAX_COMPARTMENTS),  # as a credential's
    ),
    MsgType.DECISION: Struct(
        "lock_id" / Int32ul,
        "outcome" / CodeEnum(Int8ul, Outcome),
        "reason" / CodeEnum(Int8ul, Denial),
        "blocklist_version" / Int32ul,
    ),
    # `next_seq`: where the next read starts. `mac`: from a key, its own MAC over what it
    # carries from `from_seq` to `next_seq` (the server trusts no relay to pass all of it on);
    # zeros from a lock, whose records carry their own MACs.
    MsgType.AUDIT_BATCH: Struct(
        "records" / Counted(Int8ul, AuditRecord, max_count=MAX_AUDIT_BATCH),
        "next_seq" / Int32ul,
        "mac" / Bytes(AUDIT_MAC_LEN),
    ),
    MsgType.AUDIT_ACK: Struct("lock_id" / Int32ul, "up_to_seq" / Int32ul),
    MsgType.INFO_REQUEST: Struct(),
    MsgType.INFO: Struct(
        "role" / CodeEnum(Int8ul, Role),
        "device_id" / Int32ul,
        "fw_major" / Int8ul,
        "fw_minor" / Int8ul,
        "fw_patch" / Int8ul,
        "protocol_version" / Int8ul,
        "board" / VarBytes(Int8ul, max_length=32),
    ),
    MsgType.STATUS_REQUEST: Struct(),
    MsgType.KEY_STATUS: Struct(
        "key_id" / Int32ul,
        "battery_mV" / Int16ul,
        "soc_permille" / Int16ul,
        "flags" / Int8ul,  # KeyFlag bits
        "time" / Int32ul,
        "valid_until" / Int32ul,  # 0: never validated
        "paired_phone" / Int32ul,  # 0: not paired
        "temperature_dC" / Int16sl,  # tenths of a degree Celsius
    ),
    MsgType.LOCK_STATUS: Struct(
        "lock_id" / Int32ul,
        "blocklist_version" / Int32ul,
        "blocklist_size" / Int16ul,
        "events" / Int16ul,
        "highest_time" / Int32ul,  # the latest authenticated time seen (rollback guard)
        "temperature_dC" / Int16sl,
    ),
    MsgType.TIME_REQUEST: Struct(),
    MsgType.TIME: Struct("unix_s" / Int32ul, "clock_set" / Int8ul),
    MsgType.TIME_SET: Struct("unix_s" / Int32ul),
    # The secrets go into the device's secure storage, never its flash.
    MsgType.PROVISION: Struct(
        "role" / CodeEnum(Int8ul, Role),
        "device_id" / Int32ul,
        "groups" / Counted(Int8ul, Int32ul, max_count=16),  # a lock's groups; empty for a key
        "compartment" / Compartment,  # a lock's; zeros for a key
        "epoch" / Int16ul,  # a lock's provisioning count (its audit records carry it); 0 for a key
        "secret" / Bytes(SECRET_LEN),  # the device's own: a key's with the server, a lock's audit key
        "compartment_secret" / Bytes(SECRET_LEN),  # a lock's compartment secret; zeros for a key
    ),
    # A credential and the key's secrets for the compartments it names (wrapped for this key
    # under the signed command's nonce).
    MsgType.GRANT: Struct("credential" / Credential, "secrets" / Counted(Int8ul, WrappedSecret, max_count=MAX_COMPARTMENTS)),
    MsgType.VALIDATE: Struct(
        "server_time" / Int32ul,
        "credential" / Credential,
        "secrets" / Counted(Int8ul, WrappedSecret, max_count=MAX_COMPARTMENTS),
        "uploaded_to" / Int32ul,  # the server holds the key's carried events before this position: it may reuse their space
    ),
    MsgType.AUDIT_READ: Struct("from_seq" / Int32ul, "max_count" / Int8ul),
    MsgType.PAIR: Struct("phone_id" / Int32ul),
    MsgType.UNPAIR: Struct("phone_id" / Int32ul),
    MsgType.RESULT: Struct("code" / CodeEnum(Int8ul, ErrorCode)),
    MsgType.KEY_CHALLENGE_REQUEST: Struct(),
    MsgType.KEY_CHALLENGE: Struct("key_id" / Int32ul, "nonce" / Bytes(NONCE_LEN)),
    # `body` is the inner message's payload as the codec encodes it (TIME_SET, GRANT, VALIDATE,
    # BLOCKLIST_UPDATE, UNPAIR or PROVISION); `mac` covers key id, the key's nonce, `command`
    # and `body` (firmware/signed.py command_mac), so a relay can neither alter nor replay it.
    MsgType.SIGNED_COMMAND: Struct(
        "command" / CodeEnum(Int8ul, MsgType),
        "body" / VarBytes(Int16ul, max_length=MAX_COMMAND_BODY),
        "mac" / Bytes(SERVER_MAC_LEN),
    ),
}

# Named sub-structures, for the codec generator (each becomes a pair of functions).
STRUCTS = {
    "access_right": AccessRight,
    "compartment": Compartment,
    "compartment_mac": CompartmentMac,
    "wrapped_secret": WrappedSecret,
    "credential": Credential,
    "audit_record": AuditRecord,
}

assert set(MESSAGES) == set(MsgType), "every message type needs a definition"
