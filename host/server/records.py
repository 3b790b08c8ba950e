"""What the access server hands out (its result types and its refusal) and the checks on
what it is handed: kept apart from server.py so that file is only the server's logic."""

import math
from dataclasses import dataclass
from datetime import date

from ...protocol.codes import Denial, Outcome
from ..errors import KeylockError
from .names import check_name

U32_MAX = 0xFFFFFFFF
# Refusals of a validation, in the order they are checked (see AccessServer.validate()).
VALIDATION_REFUSALS = ("offline", "blocked", "card_expired", "not_activated", "unapproved")


class ServerError(KeylockError):
    """The server refused, for a reason SCENARIOS.md names: `.code` is one of VALIDATION_REFUSALS.
    The server failing (a full disk) is another error, db.StorageError."""

    def __init__(self, code, message):
        assert code in VALIDATION_REFUSALS, code
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Validation:
    """What a successful validation hands to the key (through the phone or wall programmer)."""

    server_time: int  # UNIX seconds: the key sets its clock from it
    credential: dict  # the fields of protocol Credential, MACed by the server
    blocklist: dict  # a signed blocklist update: version, key_ids, macs
    audit_stored: int  # how many of the uploaded audit events were new
    uploaded_to: int = 0  # the key's carried events before this position are on the server (VALIDATE.uploaded_to)
    audit_rejected: int = 0  # uploaded records refused as not genuine (audit_rejections())


@dataclass(frozen=True)
class KeyInfo:
    name: str
    key_id: int
    holder: str
    state: str  # one of KEY_STATES
    blocked: bool
    validated_at_s: int | None
    valid_until_s: int | None
    battery: str = "CR2032"  # its cell (hw_models.BATTERIES)
    warn_permille: int | None = None  # the low-battery threshold its last credential carries; None: never validated


@dataclass(frozen=True)
class AuditEvent:
    """An audit record as uploaded (the fields of protocol AuditRecord), with names."""

    seq: int
    time: int  # UNIX seconds, the lock's time of the event
    key_id: int
    lock_id: int
    outcome: int  # Outcome
    reason: int  # Denial
    key: str | None  # the key's name, None if the site does not know the id
    lock: str | None
    epoch: int = 0  # the lock's provisioning the event belongs to
    count: int = 1  # events it stands for (failed authentications are counted)
    uploaded_at_s: int | None = None  # when a key's upload brought it to the server (its audit lag: this minus `time`)

    @property
    def result(self):
        """ "granted" or "denied" (SCENARIOS.md's audit step)."""
        return Outcome(self.outcome).name.lower()

    @property
    def denied(self):
        """The denial reason's public name, or None for a granted event."""
        return None if self.outcome == Outcome.GRANTED else Denial(self.reason).name.lower()


@dataclass(frozen=True)
class AtRisk:
    """A key above 15 % whose openings are predicted to fail soon (AccessServer.battery_at_risk)."""

    key: str
    fails_on: date  # the site's local date of the first day its openings are predicted to fail
    soc: float  # its projected state of charge at the report's time
    failing_permille: int  # the state of charge below which openings fail on that day


@dataclass(frozen=True)
class Retrieval:
    """One read of the audit trail: who, when, why and what."""

    time_s: int
    by: str
    reason: str
    lock: str | None
    key: str | None
    last: int | None
    events: int  # how many events were returned


def check_u32(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U32_MAX:
        raise ValueError(f"{what} must be an integer from 0 to {U32_MAX}, got {value!r}")
    return value


def check_soc(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(f"a state of charge is a number from 0 to 1, got {value!r}")
    return float(value)


def check_celsius(value):
    """A temperature a key reports [degC]: a finite number, as its status's tenths of a degree carry."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not -273.15 <= value <= 3276.7:
        raise ValueError(f"a temperature is a number of degrees Celsius from -273.15 to 3276.7, got {value!r}")
    return float(value)


def check_names(value, what):
    """A list of names (each through names.check_name) from a list or a single name; an
    empty list is refused. `what` is the plural: "locks", "groups"."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{what} must be a non-empty list of names, got {value!r}")
    return [check_name(v, f"{what[:-1]} name") for v in value]
