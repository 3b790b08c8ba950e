"""The access server (SQLite): holders, keys and their life cycle, locks and groups, grants
with schedules, validation issuing signed 10-day credentials, the versioned blocklist, audit
trails read only for a stated reason, and battery reports (with the keys at risk in the
site's climate).

    server = AccessServer.create("site.db", now_s=clock.now_s, timezone="Europe/Stockholm")
    server.add_holder("Anna Berg", "BB-1234-567890", id06_expires_s)
    server.add_key("K1", "Anna Berg")
    server.add_lock("L1", group="depot", kind="padlock")
    server.grant("K1", groups=["depot"], schedule={"days": ["mon"], "from": "07:00", "to": "16:00"})
    validation = server.validate("K1")  # or ServerError with .code

Names are checked and normalised (names.check_name: ValueError for bad ones); a storage
failure such as a full disk is a StorageError, the call rolled back.
"""

from .climate import Climate, ColdSnap
from .db import StorageError
from .names import MAX_NAME_LEN, MAX_TEXT_LEN, check_name
from .records import VALIDATION_REFUSALS, AtRisk, AuditEvent, KeyInfo, Retrieval, ServerError, Validation
from .schedule import parse as parse_schedule
from .server import VALIDATION_S, AccessServer

__all__ = [
    "AccessServer",
    "AtRisk",
    "AuditEvent",
    "Climate",
    "ColdSnap",
    "VALIDATION_REFUSALS",
    "KeyInfo",
    "MAX_NAME_LEN",
    "MAX_TEXT_LEN",
    "Retrieval",
    "ServerError",
    "StorageError",
    "VALIDATION_S",
    "Validation",
    "check_name",
    "parse_schedule",
]
