"""Every code on the wire: message types, roles, results, denial reasons, error codes.

The names of the denial reasons and error codes are the public ones of
shared/SCENARIOS.md (lower-cased). Values are fixed once published: add, never renumber.
"""

from enum import IntEnum, IntFlag


class MsgType(IntEnum):
    # key <-> lock over the contact, the key as master: the handshake
    HS_HELLO = 0x01  # key -> lock: key id and the key's nonce
    HS_CHALLENGE = 0x02  # lock -> key: the lock's nonce and its proof
    HS_PROOF = 0x03  # key -> lock: the key's proof
    HS_ACCEPT = 0x04  # lock -> key: the lock confirms the session
    # key <-> lock inside the secure session
    CREDENTIAL = 0x10  # key -> lock: the key's time and its server-issued credential
    BLOCKLIST_UPDATE = 0x11  # key -> lock: a server-signed blocklist the key carries
    DECISION = 0x12  # lock -> key: granted or denied, and why
    AUDIT_BATCH = 0x13  # lock -> key, device -> host: audit records
    AUDIT_ACK = 0x14  # key -> lock: records up to a sequence number are safe on the key
    # host <-> device over USB serial or UART
    INFO_REQUEST = 0x40
    INFO = 0x41
    STATUS_REQUEST = 0x42
    KEY_STATUS = 0x43
    LOCK_STATUS = 0x44
    TIME_REQUEST = 0x45
    TIME = 0x46
    TIME_SET = 0x47
    PROVISION = 0x48
    GRANT = 0x49  # store an access grant (a credential) on a key
    VALIDATE = 0x4A  # a validation ticket from the access server
    AUDIT_READ = 0x4B
    PAIR = 0x4C
    UNPAIR = 0x4D
    RESULT = 0x4F  # the device's answer to a command that returns nothing else
    # a key's security state changes only by commands the access server signed for that key
    KEY_CHALLENGE_REQUEST = 0x50  # host -> key: a fresh nonce, please
    KEY_CHALLENGE = 0x51  # key -> host: the nonce the next SIGNED_COMMAND must be bound to
    SIGNED_COMMAND = 0x52  # host -> key: a command, MACed by the server under the key's own secret


class Role(IntEnum):
    KEY = 1
    LOCK = 2


class TargetKind(IntEnum):
    """What an access right names, and what a compartment is: one lock, or a lock group (a key bundle)."""

    LOCK = 0
    GROUP = 1


class Outcome(IntEnum):
    GRANTED = 0
    DENIED = 1


class Denial(IntEnum):
    """Why a lock refused to open (SCENARIOS.md `denied:`). NONE goes with GRANTED."""

    NONE = 0
    AUTH_FAILED = 1
    NOT_AUTHORIZED = 2
    OUTSIDE_SCHEDULE = 3
    NOT_VALIDATED = 4
    VALIDITY_EXPIRED = 5
    BLOCKED = 6
    NOT_ACTIVATED = 7
    OVER_TEMPERATURE = 8
    UNDER_TEMPERATURE = 9
    LOW_BATTERY = 10
    KEY_REMOVED = 11
    CLOCK_ROLLBACK = 12
    PROTOCOL_MISMATCH = 13  # key and lock speak different protocol versions (keylock's addition)
    TIMEOUT = 14  # the CHALLENGE -> PROOF round trip took longer than the link allows: a relay or a stalled line
    KEY_RESET = 15  # the key's own supply fell below its brown-out mid-transaction: the transaction is lost


class ErrorCode(IntEnum):
    """A command's result. 1-31 are the public codes of SCENARIOS.md (`error:`);
    64 and up are device-level errors a tester may see over the host link."""

    OK = 0
    OFFLINE = 1
    BLOCKED = 2
    NOT_ACTIVATED = 3
    UNAPPROVED = 4
    CARD_EXPIRED = 5
    ALREADY_PAIRED = 6
    NOT_PAIRED = 7
    BAD_REQUEST = 64  # the payload did not decode
    UNKNOWN_COMMAND = 65  # a message type this device does not serve
    NOT_PROVISIONED = 66
    BAD_SIGNATURE = 67  # a server-signed object did not verify
    STALE = 68  # older than what the device already holds
    STORAGE = 69  # flash could not be written
    WRONG_ROLE = 70
    BLOCKLIST_NEEDED = 71  # lock -> key: your credential names a newer blocklist than mine: hand it over first
    NOT_SIGNED = 72  # a provisioned key takes this command only as a SIGNED_COMMAND from the server
    PROTOCOL_VERSION = 73  # lock -> key, in answer to HELLO: not my protocol version


class KeyFlag(IntFlag):
    """Bits of KEY_STATUS.flags."""

    BATTERY_LOW = 0x01
    VALIDATED = 0x02
    CLOCK_SET = 0x04
    PAIRED = 0x08


class Weekday(IntFlag):
    """Bits of an access right's `days`, in UTC: the server converts a grant's local-time
    schedule when it issues the credential, and the lock compares with the key's UTC time."""

    MON = 0x01
    TUE = 0x02
    WED = 0x04
    THU = 0x08
    FRI = 0x10
    SAT = 0x20
    SUN = 0x40
    ALL = 0x7F


# Names as the scenario format, the CLI and the server spell them (lower case).
ROLE_NAMES = tuple(role.name.lower() for role in Role)
DAY_NAMES = tuple(day.name.lower() for day in Weekday if day is not Weekday.ALL)
DENIAL_REASONS = tuple(denial.name.lower() for denial in Denial if denial is not Denial.NONE)
PUBLIC_ERROR_CODES = tuple(code.name.lower() for code in ErrorCode if 0 < code < 32)  # SCENARIOS.md `error:`

# Figures key, lock, server and tools must agree on; the firmware codec exports them too.
PROTOCOL_VERSION = 5  # INFO.protocol_version and HS_HELLO: bump when a frame, message or exchange changes incompatibly
LOW_BATTERY_PERMILLE = (
    150  # at or below this a key warns (KeyFlag.BATTERY_LOW; or at its credential's higher warn_permille) and is on the battery report
)
LOW_BATTERY_SOC = LOW_BATTERY_PERMILLE / 1000
EXPORTED_FIGURES = ("PROTOCOL_VERSION", "LOW_BATTERY_PERMILLE")

# The host commands that change a key's security state: once provisioned, a key takes them only
# inside a SIGNED_COMMAND the server made for it (the firmware codec exports this list too).
SIGNED_COMMANDS = (MsgType.TIME_SET, MsgType.GRANT, MsgType.VALIDATE, MsgType.BLOCKLIST_UPDATE, MsgType.UNPAIR, MsgType.PROVISION)

# The enums whose members the firmware codec exports as constants, with their prefix.
EXPORTED = {
    "T": MsgType,
    "ROLE": Role,
    "TARGET": TargetKind,
    "OUTCOME": Outcome,
    "DENIAL": Denial,
    "ERR": ErrorCode,
    "FLAG": KeyFlag,
    "DAY": Weekday,
}
