"""A device client over the Transport.

    with Device("socket://127.0.0.1:40001") as key:
        key.info()            # {"role": "key", "id": 1001, "firmware": "0.1.0", ...}
        key.pair(77)

This is the one place where the tester commands live: `keylock --port URL COMMAND`
(host/cli/device.py) and the plugin's `key`/`lock` fixtures both call these methods, and
answers come back as plain JSON-able values (codes by their lower-case names), so a CLI's
--json output and a test's assertions see the same thing.

`grant` and `validate` stand in for the wall programmer: they open the site's access-server
database (the `server` path `keylock emulate` prints, or a real one), ask it for the key's
signed credential and send it. The server's clock is the wall clock, as a real server's is.
"""

import datetime as dt
import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...protocol.codes import ErrorCode, KeyFlag, MsgType, Role, TargetKind
from ...protocol.frame import Decoded, FrameError, decode_frame, split_frame
from ..errors import KeylockError, UsageError
from ..render import iso_time, jsonable
from .transport import DeviceError, Transport

AUDIT_BATCH = 64
SECRET_LEN = 32


def parse_time(text: str) -> int:
    """`now` or an ISO 8601 date-time (UTC unless it says otherwise) -> UNIX seconds."""
    if text == "now":
        return int(time.time())
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"not a time: {text!r} (use `now` or ISO 8601, e.g. 2026-01-05T08:00:00Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = int(when.timestamp())
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise UsageError(f"{text!r} is outside what a device's clock holds (1970 to 2106)")
    return seconds


def provision_fields(
    role: str, device_id: int, secret: bytes, groups: Sequence[int] = (), compartment_secret: bytes | None = None, epoch: int = 1
) -> dict:
    """PROVISION's fields, or a UsageError for what no device would take (checked before a
    port is opened, so bad input changes nothing)."""
    for what, value in (("a secret", secret), ("a compartment secret", compartment_secret)):
        if value is not None and len(value) != SECRET_LEN:
            raise UsageError(f"{what} is {SECRET_LEN} bytes ({2 * SECRET_LEN} hex digits), got {len(value)}")
    if role not in ("key", "lock"):
        raise UsageError(f"a device's role is key or lock, not {role!r}")
    is_lock = role == "lock"
    if is_lock and compartment_secret is None:
        raise UsageError("a lock needs its compartment's secret too (--compartment-secret)")
    if not is_lock and compartment_secret is not None:
        raise UsageError("a key gets its compartment secrets from the access server at validation, not here")
    compartment = (TargetKind.GROUP, groups[0]) if groups else (TargetKind.LOCK, device_id)
    return {
        "role": Role[role.upper()],
        "device_id": device_id,
        "groups": list(groups),
        "compartment": {"kind": compartment[0], "target": compartment[1]} if is_lock else {"kind": 0, "target": 0},
        "epoch": epoch if is_lock else 0,
        "secret": secret,
        "compartment_secret": compartment_secret or bytes(SECRET_LEN),
    }


def phone_id(server: str | Path, name: str) -> int:
    """A phone's id from its name in the access server's phone table."""
    with _open_server(server) as srv:
        try:
            return srv.server.phone_id(name)
        except ValueError as exc:  # an unknown or malformed name: bad input, nothing changed
            raise UsageError(f"{server}: {exc}") from None


class Device:
    """One key or lock on one port. Methods send one command each (audit: as many reads as
    it takes) and return plain values; a refusal raises DeviceError with its `.code`."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        timeout_ms: int = 1000,
        retries: int = 2,
        record: str | Path | None = None,
        record_mode: str = "append",
    ):
        self.url = url
        self.name = name or url
        self.transport = Transport(url, timeout_ms=timeout_ms, retries=retries, record=record, record_mode=record_mode)
        self._role: str | None = None

    def open(self) -> "Device":
        self.transport.open()
        return self

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Device":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Device {self.name} at {self.url}>"

    @property
    def exchanged(self) -> list[tuple[str, bytes]]:
        return self.transport.exchanged

    # --- plumbing ---------------------------------------------------------------------------

    def request(self, msg_type: MsgType, fields: dict[str, Any] | None = None, expect: MsgType | None = None) -> Decoded:
        return self.transport.request(msg_type, fields or {}, expect=expect)

    def _command(self, msg_type: MsgType, fields: dict[str, Any]) -> None:
        """A command answered by RESULT ok (an error code raises DeviceError)."""
        self.request(msg_type, fields, expect=MsgType.RESULT)

    @property
    def role(self) -> str:
        if self._role is None:
            self.info()
        assert self._role is not None
        return self._role

    # --- the commands -------------------------------------------------------------------------

    def info(self) -> dict:
        f = self.request(MsgType.INFO_REQUEST, expect=MsgType.INFO).fields
        self._role = Role(f["role"]).name.lower()
        return {
            "role": self._role,
            "id": f["device_id"],
            "firmware": f"{f['fw_major']}.{f['fw_minor']}.{f['fw_patch']}",
            "protocol": f["protocol_version"],
            "board": bytes(f["board"]).decode(errors="replace"),
        }

    def status(self) -> dict:
        answer = self.request(MsgType.STATUS_REQUEST)
        if answer.type == MsgType.KEY_STATUS:
            self._role = "key"
            s = jsonable(answer.fields)
            s["flags"] = [str(flag.name).lower() for flag in KeyFlag if answer.fields["flags"] & flag]
            return {"role": "key", **s}
        if answer.type == MsgType.LOCK_STATUS:
            self._role = "lock"
            return {"role": "lock", **jsonable(answer.fields)}
        raise DeviceError(f"{self.url}: expected KEY_STATUS or LOCK_STATUS, got {answer.type.name}")

    def time(self) -> dict:
        f = self.request(MsgType.TIME_REQUEST, expect=MsgType.TIME).fields
        return {"unix_s": f["unix_s"], "clock_set": bool(f["clock_set"]), "iso": iso_time(f["unix_s"]) if f["clock_set"] else None}

    def set_time(self, unix_s: int) -> None:
        """Set an unprovisioned key's clock (at the factory). A provisioned key takes its
        time only from the access server: see sync_time."""
        self._command(MsgType.TIME_SET, {"unix_s": unix_s})

    def audit(self, from_seq: int = 0, last: int | None = None) -> list[dict]:
        return [jsonable(r) for r in self._audit_records(from_seq, last)]

    def audit_positions(self, from_seq: int = 0, last: int | None = None) -> list[tuple[int, dict]]:
        """[(where, record)]: `where` is what `from_seq` takes to start at that record, on
        either role: a lock's event seq, or a key's position in the events it carries (the
        record's own seq is then the lock's)."""
        positioned = []
        for batch in self._audit_batches(from_seq):
            records = [jsonable(r) for r in batch["records"]]
            if self.role == "lock":
                positioned += [(r["seq"], r) for r in records]
            elif batch["next_seq"] - batch["from_seq"] == len(records):  # no gap: consecutive from where it started
                positioned += [(batch["from_seq"] + i, r) for i, r in enumerate(records)]
            else:  # a gap (events already uploaded and freed, one lost to a power cut): ask one at a time
                positioned += self._carried_one_by_one(batch["from_seq"], len(records))
        return positioned[-last:] if last else positioned

    def _carried_one_by_one(self, from_seq: int, count: int) -> list[tuple[int, dict]]:
        """A key's carried events with their exact positions: each read of one event says
        where the next starts, so the event was at next_seq - 1."""
        out = []
        cursor = from_seq
        for _ in range(count):
            batch = self.request(MsgType.AUDIT_READ, {"from_seq": cursor, "max_count": 1}, expect=MsgType.AUDIT_BATCH).fields
            if not batch["records"]:
                break
            out.append((batch["next_seq"] - 1, jsonable(batch["records"][0])))
            cursor = batch["next_seq"]
        return out

    def _audit_records(self, from_seq: int = 0, last: int | None = None) -> list[dict]:
        records = [r for b in self._audit_batches(from_seq) for r in b["records"]]
        return records[-last:] if last else records

    def _audit_batches(self, from_seq: int = 0) -> list[dict]:
        """AUDIT_BATCH fields from `from_seq` on, each with the from_seq it answered (a key's
        batch MAC covers it). A lock pages by its event seq (which may skip a number lost to a
        power cut); a key by position in the events it carries, whose seqs are the locks' own:
        either way the device says where the next read starts (next_seq)."""
        batches: list[dict] = []
        cursor = from_seq
        while True:
            batch = dict(
                self.request(MsgType.AUDIT_READ, {"from_seq": cursor, "max_count": AUDIT_BATCH}, expect=MsgType.AUDIT_BATCH).fields
            )
            if not batch["records"]:
                return batches
            batches.append(dict(batch, from_seq=cursor))
            if batch["next_seq"] <= cursor:  # a device that pages backwards would loop forever
                return batches
            cursor = batch["next_seq"]

    def pair(self, phone_id: int) -> None:
        if phone_id == 0:  # a key's paired_phone 0 means no phone: the key would answer ok and stay unpaired
            raise UsageError("phone 0 means no phone: pair with a phone's id (1 or more)")
        self._command(MsgType.PAIR, {"phone_id": phone_id})

    def unpair(self, server: str | Path, phone_id: int, key: str | None = None) -> None:
        """Release the key from its phone, as the phone's app does: the server signs the
        release for this key (a host alone cannot unpair a key). `key` is its name at the
        server; by default the server's name for the id the key reports."""
        with _open_server(server) as srv:
            key, _key_id = self._key_at_server(srv, key)
            self._signed(srv, key, MsgType.UNPAIR, {"phone_id": phone_id})

    def provision(
        self, role: str, device_id: int, secret: bytes, groups: Sequence[int] = (), compartment_secret: bytes | None = None, epoch: int = 1
    ) -> None:
        """Provision a new device at the factory: `secret` is its own (a key's, shared with the
        access server; a lock's audit key for `epoch`); a lock also gets its compartment's
        secret, the compartment being its first group, or the lock itself in none."""
        self.provision_with(provision_fields(role, device_id, secret, groups, compartment_secret, epoch))

    def provision_with(self, fields: dict) -> None:
        """PROVISION with fields from provision_fields (checked before anything is sent)."""
        self._command(MsgType.PROVISION, fields)

    def raw(self, data: bytes | str) -> Decoded:
        """Send one frame as given (hex or bytes) and return the decoded answer, whatever it
        is: a RESULT with an error code is an answer here, not an exception."""
        raw = bytes.fromhex(data) if isinstance(data, str) else bytes(data)
        if len(raw) < 5:
            raise UsageError(f"a frame has at least 9 bytes (start, length, type, seq, CRC), got {len(raw)}")
        answer = self.transport.exchange(raw, raw[4])
        try:
            return decode_frame(answer)
        except FrameError as exc:
            raise DeviceError(f"{self.url}: the answer does not decode ({exc.reason}): {exc}") from None

    # --- with the access server ---------------------------------------------------------------

    def sync_time(self, server: str | Path, key: str | None = None) -> dict:
        """Set the key's clock to the access server's, signed by the server for this key."""
        with _open_server(server) as srv:
            key, key_id = self._key_at_server(srv, key)
            self._signed(srv, key, MsgType.TIME_SET, None)
        return {"key": key, "key_id": key_id, **self.time()}

    def _signed(self, srv, key: str, msg_type: MsgType, fields: dict | None) -> None:
        """Relay a command the server signs for this key: the key's fresh challenge, the
        server's signature bound to it, the SIGNED_COMMAND (the server fills TIME_SET's time
        itself). A refusal raises DeviceError with the key's code."""
        nonce = self.request(MsgType.KEY_CHALLENGE_REQUEST, expect=MsgType.KEY_CHALLENGE).fields["nonce"]
        signed = _server_call(srv.path, srv.server.sign_command, key, nonce, msg_type, fields)
        self._command(MsgType.SIGNED_COMMAND, signed)

    def grant(self, server: str | Path, key: str | None = None) -> dict:
        """Store the key's current signed credential (its access rights) on it, as a wall
        programmer does; the key's clock is left alone. The server issues the credential as
        at a validation, so a blocked or unapproved key is refused there."""
        with _open_server(server) as srv:
            key, key_id = self._key_at_server(srv, key)
            v = _server_call(server, srv.server.validate, key)
            self._signed(srv, key, MsgType.GRANT, {"credential": v.credential})  # the server wraps in the key's secrets
        return {"key": key, "key_id": key_id, "valid_until": v.credential["valid_until"], "rights": len(v.credential["rights"])}

    def validate(self, server: str | Path, key: str | None = None) -> dict:
        """Validate the key as the phone app does: upload the events it carries and its
        battery reading, then send the signed credential with the server's time, and the
        signed blocklist (which the key takes only if it is newer than the one it has)."""
        with _open_server(server) as srv:
            key, key_id = self._key_at_server(srv, key)
            # From where the server's copy ends: the key's own MAC on each batch tells the server
            # this relay passed on everything, and the signed uploaded_to frees the key's space.
            batches = self._audit_batches(_server_call(server, srv.server.uploaded_to, key))
            soc = self.request(MsgType.STATUS_REQUEST, expect=MsgType.KEY_STATUS).fields["soc_permille"] / 1000
            v = _server_call(server, srv.server.validate, key, audit=batches, soc=min(soc, 1.0))
            fields = {"server_time": v.server_time, "credential": v.credential, "uploaded_to": v.uploaded_to}
            self._signed(srv, key, MsgType.VALIDATE, fields)
            try:
                self._signed(srv, key, MsgType.BLOCKLIST_UPDATE, v.blocklist)
                blocklist = "updated"
            except DeviceError as exc:
                if exc.code != ErrorCode.STALE:
                    raise
                blocklist = "current"
        return {
            "key": key,
            "key_id": key_id,
            "server_time": v.server_time,
            "valid_until": v.credential["valid_until"],
            "rights": len(v.credential["rights"]),
            "blocklist_version": v.blocklist["version"],
            "blocklist": blocklist,
            "audit_uploaded": sum(len(b["records"]) for b in batches),
            "audit_new": v.audit_stored,
            "audit_rejected": v.audit_rejected,
        }

    def _key_at_server(self, srv, key: str | None) -> tuple[str, int]:
        """(name, id) of this device as a key of the server, from one INFO: `key` checked
        against the id it reports, or when None the server's name for that id."""
        info = self.info()
        if key is None:
            if info["role"] != "key":
                raise KeylockError(f"{self.url} is {info['role']} {info['id']}, not a key")
            return _server_call(srv.path, srv.server.key_name, info["id"]), info["id"]
        key_id = _server_call(srv.path, srv.server.key_id, key)
        if info["role"] != "key" or info["id"] != key_id:
            raise KeylockError(f"{self.url} is {info['role']} {info['id']}, not key {key!r} ({key_id} in {srv.path})")
        return key, key_id


def check_server(path: str | Path) -> None:
    """Refuse (UsageError) a --server that is not a site's access-server database, reading
    it only: opening a server migrates its schema, which would turn an empty file or another
    program's SQLite database into a site's."""
    path = str(path)
    if not os.path.isfile(path):
        raise UsageError(f"no access-server database at {path} (the `server` of `keylock emulate`'s JSON line)")
    try:
        conn = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UsageError(f"{path}: cannot read the access-server database: {exc}") from None
    try:
        has_site = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'site'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not an access-server database ({exc})") from None
    finally:
        conn.close()
    if not has_site:
        raise UsageError(f"{path}: not an access-server database (it holds no site)")


class _open_server:
    def __init__(self, path: str | Path):
        from ..server import AccessServer  # only grant/validate need it

        self.path = str(path)
        check_server(self.path)
        try:
            self.server = AccessServer.open(self.path)  # on the site's clock: virtual for an emulated site
        except Exception as exc:  # sqlite3.DatabaseError, ValueError: not a site's database after all
            raise UsageError(f"{self.path}: not an access-server database: {exc}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()


def _server_call(path, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:  # an unknown key name and the like: the server changed nothing
        raise KeylockError(f"{path}: {exc}") from None


def frame_line(direction: str, raw: bytes) -> str:
    """One frame for a failure report: direction, what it is, and its hex."""
    try:
        d = decode_frame(raw)
        what = f"{d.type.name} seq {d.seq}"
        if d.fields:
            what += " " + json.dumps(jsonable(d.fields), separators=(",", ":"))[:160]
    except FrameError as exc:
        what = f"undecodable ({exc.reason})"
    arrow = "->" if direction == "tx" else "<-"
    return f"{arrow} {what}\n     {raw.hex()}"


def frame_seq(raw: bytes) -> int:
    split_frame(raw)  # raises FrameError unless start, length and CRC hold
    return raw[4]
