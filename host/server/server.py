"""The access server: site, holders, keys and their life cycle, locks and groups, grants,
validation, the blocklist, audit trails and battery readings, in one SQLite file.

Every public call that changes anything runs in one transaction (db.transaction), so a crash
mid-call leaves all of it or none of it, and a storage failure (a full disk) is a StorageError
after the rollback. Bad input raises ValueError before anything is written. Every name, on
the way in and in every lookup, goes through names.check_name (no white space around it, no
control or format characters, bounded length, Unicode NFC). The server's cryptography is
signing.py's. Time comes only from the `now_s` callable (the emulator's virtual clock), read
once per call.
"""

import os
import secrets
import time
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...firmware import signed
from ...hw_models import BATTERIES, battery_by_name, drain
from ...protocol.codes import LOW_BATTERY_SOC, SIGNED_COMMANDS, MsgType, Role, TargetKind
from ...protocol.messages import MAX_BLOCKLIST, MAX_COMPARTMENTS, MAX_RIGHTS, MESSAGES
from . import db, evidence, signing, warning
from .climate import Climate
from .names import check_name, check_text
from .records import (
    U32_MAX,
    AtRisk,
    AuditEvent,
    KeyInfo,
    Retrieval,
    ServerError,
    Validation,
    check_celsius,
    check_names,
    check_soc,
    check_u32,
)
from .schedule import Schedule, utc_windows
from .schedule import parse as parse_schedule

VALIDATION_S = 10 * 86400  # one validation is good for 10 days
CARD_MAX_S = 5 * 366 * 86400  # an ID06 card is valid at most 5 years (leap days allowed for)
LIFECYCLE_STATES = ("issued", "receipt_signed", "approved")
LOCK_KINDS = ("cylinder", "padlock")
# Where the server's numbering starts, per kind of device: a glance at an id says what it is.
FIRST_ID = {"keys": 1001, "locks": 101, "groups": 1, "phones": 501}
NAMED_TABLES = ("keys", "locks", "groups", "phones", "holders")
# The battery report's `at_risk` looks this far ahead: two weekly reports, so a key found at
# risk in one report can have its battery changed before the next report would be too late.
AT_RISK_HORIZON_DAYS = 14
DRAIN_HISTORY_S = 30 * 86400  # readings this far back give a key's own drain rate
REFERENCE_C = 20.0  # a key's temperature when nothing says otherwise (no climate, none reported)


class AccessServer:
    """One site's access server on one SQLite file. Use create() or open()."""

    def __init__(self, conn, now_s):
        self._conn = conn
        self._now_s = now_s if now_s is not None else self._site_clock_s
        secret, tz = conn.execute("SELECT secret, timezone FROM site").fetchone()
        self._master = bytes(secret)  # no device holds it: every device secret derives from it
        self._tz = ZoneInfo(tz)
        # Test-only: called before each write statement, so a test can kill the process in
        # the middle of an operation (tests/server/test_crash.py).
        self._write_hook = None

    # --- opening ----------------------------------------------------------------------

    @classmethod
    def create(cls, path, *, now_s, timezone="UTC"):
        """A new site in a new (or empty) database file, with a fresh 32-byte site secret."""
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {timezone!r} (an IANA name such as Europe/Stockholm)") from None
        conn = db.connect(path)
        try:
            db.migrate(conn)
            with db.transaction(conn):
                if conn.execute("SELECT 1 FROM site").fetchone():
                    raise ValueError(f"{path} already holds a site: use AccessServer.open")
                now = check_u32(int(now_s()), "the clock")
                conn.execute(
                    "INSERT INTO site (id, secret, timezone, created_at_s) VALUES (1, ?, ?, ?)", (secrets.token_bytes(32), timezone, now)
                )
        except BaseException:
            conn.close()
            raise
        return cls(conn, now_s)

    @classmethod
    def open(cls, path, *, now_s=None):
        """An existing site; the schema is migrated to the current version first. Without
        `now_s` the server runs on the site's clock: an emulated site's virtual time (as its
        emulator records it), else the wall clock."""
        if path != ":memory:" and not os.path.exists(path):
            raise FileNotFoundError(f"no access-server database at {path}: create one first")
        conn = db.connect(path)
        try:
            db.migrate(conn)
            if not conn.execute("SELECT 1 FROM site").fetchone():
                raise ValueError(f"{path} holds no site: use AccessServer.create")
        except BaseException:
            conn.close()
            raise
        return cls(conn, now_s)

    def close(self):
        self._conn.close()

    # --- the clock --------------------------------------------------------------------

    def _site_clock_s(self):
        row = self._conn.execute("SELECT virtual_s, wall_s, speed FROM emulated_clock").fetchone()
        if row is None:
            return time.time()
        virtual_s, wall_s, speed = row
        return virtual_s + (time.time() - wall_s) * speed

    def record_emulated_clock(self, virtual_s, wall_s, speed):
        """An emulator says where its virtual clock is: `virtual_s` at wall time `wall_s`,
        running at `speed` virtual seconds per wall second (0: a manual clock, which stands
        still between the emulator's records). Servers opened on this database without their
        own clock follow it."""
        if not speed >= 0:
            raise ValueError(f"a clock's speed must be 0 or above, got {speed!r}")
        with db.transaction(self._conn):
            self._conn.execute(
                "INSERT OR REPLACE INTO emulated_clock (id, virtual_s, wall_s, speed) VALUES (1, ?, ?, ?)",
                (float(virtual_s), float(wall_s), float(speed)),
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def timezone(self):
        return self._tz.key

    # --- plumbing ---------------------------------------------------------------------

    def _now(self):
        return check_u32(int(self._now_s()), "the clock")

    def _write(self, sql, params=()):
        if self._write_hook is not None:
            self._write_hook()
        return self._conn.execute(sql, params)

    def _one(self, sql, params=()):
        return self._conn.execute(sql, params).fetchone()

    def _id(self, table, name):
        """The id of the `table` row named `name` (checked and normalised as it was stored)."""
        name = check_name(name, f"{table[:-1]} name")
        row = self._one(f"SELECT id FROM {table} WHERE name = ?", (name,))
        if row is None:
            raise ValueError(f"unknown {table[:-1]} {name!r}")
        return row[0]

    def _name_of(self, table, id_):
        row = self._one(f"SELECT name FROM {table} WHERE id = ?", (id_,))
        if row is None:
            raise ValueError(f"unknown {table[:-1]} id {id_!r}")
        return row[0]

    def _insert_named(self, table, name, columns=(), values=()):
        """Insert a device under the next free id of its kind; a taken name is refused."""
        name = check_name(name, f"{table[:-1]} name")
        if self._one(f"SELECT 1 FROM {table} WHERE name = ?", (name,)):
            raise ValueError(f"a {table[:-1]} named {name!r} already exists")
        (new_id,) = self._one(f"SELECT coalesce(max(id) + 1, ?) FROM {table}", (FIRST_ID[table],))
        cols = ", ".join(("id", "name") + tuple(columns))
        marks = ", ".join("?" * (2 + len(columns)))
        self._write(f"INSERT INTO {table} ({cols}) VALUES ({marks})", (new_id, name) + tuple(values))
        return new_id

    # --- names and ids ----------------------------------------------------------------

    def key_id(self, name):
        return self._id("keys", name)

    def key_name(self, key_id):
        return self._name_of("keys", key_id)

    def lock_id(self, name):
        return self._id("locks", name)

    def lock_name(self, lock_id):
        return self._name_of("locks", lock_id)

    def group_id(self, name):
        return self._id("groups", name)

    def group_name(self, group_id):
        return self._name_of("groups", group_id)

    def phone_id(self, name):
        return self._id("phones", name)

    def phone_name(self, phone_id):
        return self._name_of("phones", phone_id)

    def names(self, table):
        """Every name of `table` (keys, locks, groups, phones, holders), in id order."""
        if table not in NAMED_TABLES:
            raise ValueError(f"no table of names {table!r}; one of {', '.join(NAMED_TABLES)}")
        return [row[0] for row in self._conn.execute(f"SELECT name FROM {table} ORDER BY id")]

    # --- holders ----------------------------------------------------------------------

    def add_holder(self, name, id06, id06_expires_s, blocked=False):
        """A key holder and their ID06 card (number, expiry, blocked flag). A card valid
        for more than 5 years from now is refused; an already expired one is allowed."""
        name = check_name(name, "holder name")
        id06 = check_name(id06, "ID06 card number")
        check_u32(id06_expires_s, "id06_expires_s")
        if not isinstance(blocked, bool):
            raise ValueError(f"blocked must be True or False, got {blocked!r}")
        with db.transaction(self._conn):
            now = self._now()
            if id06_expires_s > now + CARD_MAX_S:
                raise ValueError(f"ID06 card {id06!r} cannot be valid for more than 5 years")
            if self._one("SELECT 1 FROM holders WHERE name = ?", (name,)):
                raise ValueError(f"a holder named {name!r} already exists")
            if self._one("SELECT 1 FROM holders WHERE id06 = ?", (id06,)):
                raise ValueError(f"ID06 card {id06!r} already belongs to a holder")
            self._write(
                "INSERT INTO holders (name, id06, id06_expires_s, blocked) VALUES (?, ?, ?, ?)", (name, id06, id06_expires_s, int(blocked))
            )

    def block_card(self, id06):
        """Block a holder's ID06 card: none of their keys can be validated any more."""
        id06 = check_name(id06, "ID06 card number")
        with db.transaction(self._conn):
            if not self._one("SELECT 1 FROM holders WHERE id06 = ?", (id06,)):
                raise ValueError(f"unknown ID06 card {id06!r}")
            self._write("UPDATE holders SET blocked = 1 WHERE id06 = ?", (id06,))

    # --- keys and their life cycle ----------------------------------------------------

    def add_key(self, name, holder, state="approved", not_before_s=0, not_after_s=U32_MAX, battery="CR2032"):
        """A key handed to `holder` (a holder's name). `state` says how far its life cycle
        has gone: "issued" (receipt not signed), "receipt_signed" or its synonym
        "unapproved" (application not approved), "approved". The key's rights are valid
        from not_before_s to not_after_s. `battery`: its cell (one of hw_models.BATTERIES),
        which the physics of its low-battery threshold needs. Returns the key's id."""
        name = check_name(name, "key name")
        state = "receipt_signed" if state == "unapproved" else state
        if state not in LIFECYCLE_STATES:
            raise ValueError(f"a key's state is one of issued, receipt_signed, unapproved, approved; got {state!r}")
        check_u32(not_before_s, "not_before_s")
        check_u32(not_after_s, "not_after_s")
        if not_before_s >= not_after_s:
            raise ValueError("a key's not_before_s must come before its not_after_s")
        if battery not in BATTERIES:
            raise ValueError(f"unknown battery {battery!r}; one of {', '.join(BATTERIES)}")
        with db.transaction(self._conn):
            holder_id = self._id("holders", holder)
            return self._insert_named(
                "keys",
                name,
                ("holder_id", "state", "not_before_s", "not_after_s", "battery"),
                (holder_id, state, not_before_s, not_after_s, battery),
            )

    def _advance(self, key, from_state, to_state, refusal):
        key = check_name(key, "key name")
        with db.transaction(self._conn):
            key_id = self._id("keys", key)
            (state,) = self._one("SELECT state FROM keys WHERE id = ?", (key_id,))
            if state != from_state:
                raise ValueError(f"key {key!r} is {state}: {refusal}")
            self._write("UPDATE keys SET state = ? WHERE id = ?", (to_state, key_id))

    def sign_receipt(self, key):
        """The holder signed for the key: issued -> receipt_signed."""
        self._advance(key, "issued", "receipt_signed", "only an issued key's receipt can be signed")

    def approve(self, key):
        """The holder's access application is approved: receipt_signed -> approved."""
        self._advance(key, "receipt_signed", "approved", "only a key whose receipt is signed can be approved")

    def key_info(self, key):
        key = check_name(key, "key name")
        key_id = self._id("keys", key)
        row = self._one(
            """SELECT h.name, k.state, k.validated_at_s, k.valid_until_s, b.key_id IS NOT NULL, k.battery, k.warn_permille
               FROM keys k JOIN holders h ON h.id = k.holder_id
               LEFT JOIN blocklist b ON b.key_id = k.id WHERE k.id = ?""",
            (key_id,),
        )
        holder, state, validated_at_s, valid_until_s, blocked, battery, warn = row
        return KeyInfo(key, key_id, holder, state, bool(blocked), validated_at_s, valid_until_s, battery, warn)

    def provision_key(self, name):
        """The PROVISION fields written into the key at manufacture: its id and its own
        secret (shared with this server only). A key (re)provisioned starts carrying events
        from position 0, so the server's upload pointer for it starts there too (else it
        would sign away space holding events it never had)."""
        with db.transaction(self._conn):
            key_id = self._id("keys", name)
            self._write("UPDATE keys SET carried_uploaded = 0 WHERE id = ?", (key_id,))
        return {
            "role": Role.KEY,
            "device_id": key_id,
            "groups": [],
            "compartment": {"kind": TargetKind.LOCK, "target": 0},
            "epoch": 0,
            "secret": self._own_secret(Role.KEY, key_id),
            "compartment_secret": bytes(signing.SECRET_LEN),
        }

    def _own_secret(self, role, device_id, epoch=0):
        return signing.device_secret(self._master, role, device_id, epoch)

    def _compartment_secret(self, compartment):
        return signing.compartment_secret(self._master, *compartment)

    def _compartment_of(self, lock_id):
        """A lock's compartment: its first group (the locks of a group share secrets), or the
        lock alone when it is in none."""
        row = self._one("SELECT min(group_id) FROM lock_groups WHERE lock_id = ?", (lock_id,))
        return (TargetKind.GROUP, row[0]) if row[0] is not None else (TargetKind.LOCK, lock_id)

    def _key_compartments(self, key_id):
        """The compartments a key's grants reach: each granted lock's, and for a granted group
        the group itself and every compartment of its locks. Sorted."""
        found = set()
        for lock_id, group_id in self._conn.execute("SELECT lock_id, group_id FROM grants WHERE key_id = ?", (key_id,)):
            if lock_id:
                found.add(self._compartment_of(lock_id))
                continue
            found.add((TargetKind.GROUP, group_id))
            for (member,) in self._conn.execute("SELECT lock_id FROM lock_groups WHERE group_id = ?", (group_id,)):
                found.add(self._compartment_of(member))
        if len(found) > MAX_COMPARTMENTS:
            raise ValueError(f"the key's grants reach {len(found)} compartments; a credential holds {MAX_COMPARTMENTS}")
        return sorted(found)

    def _site_compartments(self):
        """Every compartment a lock of the site is in."""
        return sorted({self._compartment_of(lock_id) for (lock_id,) in self._conn.execute("SELECT id FROM locks")})

    def _servers(self, compartments):
        """(kind, target, server key) per compartment: what signed.sign_* take."""
        return [(int(kind), target, signing.server_key(self._compartment_secret((kind, target)))) for kind, target in compartments]

    def sign_command(self, key, nonce, command, fields: dict[str, Any] | None = None):
        """The fields of a SIGNED_COMMAND for `key`, bound to the nonce the key issued
        (its KEY_CHALLENGE): `command` with `fields`, MACed under that key's command key.
        TIME_SET carries the server's own time, whatever `fields` say: only the server sets
        a key's clock."""
        key_id = self.key_id(key)
        command = MsgType(command)
        if command not in SIGNED_COMMANDS:
            raise ValueError(f"the server signs only {', '.join(c.name for c in SIGNED_COMMANDS)}, not {command.name}")
        if len(nonce) != 16:
            raise ValueError(f"a key's nonce is 16 bytes, got {len(nonce)}")
        fields = {"unix_s": self._now()} if command == MsgType.TIME_SET else dict(fields or {})
        own = self._own_secret(Role.KEY, key_id)
        if command in (MsgType.GRANT, MsgType.VALIDATE):
            # The key's secrets for the compartments its credential is signed for, wrapped for
            # this key under this command's nonce: the relay carrying them learns nothing.
            macs = fields["credential"]["macs"]
            secrets: list[dict] = [
                {
                    "kind": kind,
                    "target": target,
                    "wrapped": signed.wrap_secret(
                        lambda n, c: signing.wrap_stream(own, n, c),
                        bytes(nonce),
                        kind,
                        target,
                        signing.key_secret(self._compartment_secret((kind, target)), key_id),
                    ),
                }
                for kind, target in ((m["kind"], m["target"]) for m in macs)
            ]
            fields["secrets"] = secrets
        body = MESSAGES[command].build(fields)
        return {
            "command": command,
            "body": body,
            "mac": signed.command_mac(signing.command_key(own), key_id, bytes(nonce), int(command), body),
        }

    # --- locks, groups, phones --------------------------------------------------------

    def add_group(self, name):
        """A lock group (key bundle). Returns its id."""
        with db.transaction(self._conn):
            return self._insert_named("groups", name)

    def add_lock(self, name, group=None, kind="cylinder"):
        """A lock, optionally in a group (a name, or a list of names); a group not yet
        known is created. Returns the lock's id."""
        if kind not in LOCK_KINDS:
            raise ValueError(f"a lock's kind is cylinder or padlock, got {kind!r}")
        groups = [] if group is None else check_names(group, "groups")
        with db.transaction(self._conn):
            lock_id = self._insert_named("locks", name, ("kind",), (kind,))
            for group_name in dict.fromkeys(groups):
                row = self._one("SELECT id FROM groups WHERE name = ?", (group_name,))
                group_id = row[0] if row else self._insert_named("groups", group_name)
                self._write("INSERT INTO lock_groups (lock_id, group_id) VALUES (?, ?)", (lock_id, group_id))
            return lock_id

    def provision_lock(self, name):
        """The PROVISION fields written into the lock (at installation, or into its
        replacement): its id, groups and compartment, a new epoch, its own (audit) secret for
        that epoch and its compartment's secret. Each call starts a new epoch, so a replaced or
        reset lock never reuses a (lock, epoch, seq) of the one before."""
        with db.transaction(self._conn):
            lock_id = self._id("locks", name)
            self._write("UPDATE locks SET epoch = epoch + 1 WHERE id = ?", (lock_id,))
            (epoch,) = self._one("SELECT epoch FROM locks WHERE id = ?", (lock_id,))
            if epoch > 0xFFFF:  # inside the transaction: refused, the count is not bumped
                raise ValueError(f"lock {name!r} was provisioned {epoch - 1} times: an epoch is 16 bits")
        groups = [r[0] for r in self._conn.execute("SELECT group_id FROM lock_groups WHERE lock_id = ? ORDER BY group_id", (lock_id,))]
        compartment = self._compartment_of(lock_id)
        return {
            "role": Role.LOCK,
            "device_id": lock_id,
            "groups": groups,
            "compartment": {"kind": compartment[0], "target": compartment[1]},
            "epoch": epoch,
            "secret": self._own_secret(Role.LOCK, lock_id, epoch),
            "compartment_secret": self._compartment_secret(compartment),
        }

    def add_phone(self, name):
        """A phone running the validation app. Returns its id."""
        with db.transaction(self._conn):
            return self._insert_named("phones", name)

    # --- grants -----------------------------------------------------------------------

    def _targets(self, locks, groups):
        """[(lock_id, group_id)] for the named targets, one of each pair None."""
        if locks is None and groups is None:
            raise ValueError("name the locks or the groups")
        targets = []
        for name in [] if locks is None else check_names(locks, "locks"):
            targets.append((self._id("locks", name), None))
        for name in [] if groups is None else check_names(groups, "groups"):
            targets.append((None, self._id("groups", name)))
        return list(dict.fromkeys(targets))

    def grant(self, key, locks=None, groups=None, schedule=None):
        """Give `key` access to locks and/or groups, always or on a weekly schedule in the
        site's local time ({days: [mon, ...], from: "07:00", to: "16:00"}, or an object with
        days, from_min and to_min such as the scenario parser's Schedule). Grants add up:
        granting another window on the same target widens access. The key receives them
        at its next validation."""
        key = check_name(key, "key name")
        sched = parse_schedule(schedule)
        with db.transaction(self._conn):
            key_id = self._id("keys", key)
            for lock_id, group_id in self._targets(locks, groups):
                self._write(
                    """INSERT OR IGNORE INTO grants (key_id, lock_id, group_id, days, from_min, to_min)
                       VALUES (?, ?, ?, ?, ?, ?)""",
                    (key_id, lock_id, group_id, sched.days, sched.from_min, sched.to_min),
                )
            count = len(self._rights(key_id, self._now()))
            if count > MAX_RIGHTS:  # the credential could not carry them: undo the grant
                raise ValueError(f"key {key!r} would have {count} access rights; a credential holds {MAX_RIGHTS}")
            self._key_compartments(key_id)  # raises (undoing the grant) past MAX_COMPARTMENTS

    def revoke(self, key, locks=None, groups=None):
        """Remove every grant (all windows) `key` has on these locks and/or groups. A target
        the key has no grant on is refused. The key loses them at its next validation."""
        key = check_name(key, "key name")
        with db.transaction(self._conn):
            key_id = self._id("keys", key)
            for lock_id, group_id in self._targets(locks, groups):
                gone = self._write(
                    "DELETE FROM grants WHERE key_id = ? AND lock_id IS ? AND group_id IS ?", (key_id, lock_id, group_id)
                ).rowcount
                if not gone:
                    what = self.lock_name(lock_id) if lock_id else self.group_name(group_id)
                    raise ValueError(f"key {key!r} has no grant on {what!r}")

    def _offset_change(self, from_s, until_s):
        """(when, by how many minutes) the site's UTC offset changes between two times, or
        (0, 0): a daylight-saving change within a credential's validity, found to the second
        by bisection (offsets change at most twice a year, so one change per 10 days)."""
        before = self._utc_offset_min(from_s)
        if self._utc_offset_min(until_s) == before:
            return 0, 0
        lo, hi = from_s, until_s  # offset(lo) == before, offset(hi) != before
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._utc_offset_min(mid) == before:
                lo = mid
            else:
                hi = mid
        return hi, self._utc_offset_min(hi) - before

    def _utc_offset_min(self, now_s):
        offset = datetime.fromtimestamp(now_s, self._tz).utcoffset()
        assert offset is not None, "an aware datetime has an offset"
        return int(offset.total_seconds() // 60)

    def _rights(self, key_id, now_s):
        """The key's grants as credential AccessRights in UTC, converted with the site's
        UTC offset at `now_s`: one target's windows are merged, then split per UTC day."""
        per_target = {}
        for lock_id, group_id, days, from_min, to_min in self._conn.execute(
            "SELECT lock_id, group_id, days, from_min, to_min FROM grants WHERE key_id = ?", (key_id,)
        ):
            target = (TargetKind.LOCK, lock_id) if lock_id else (TargetKind.GROUP, group_id)
            per_target.setdefault(target, []).append(Schedule(days, from_min, to_min))
        offset_min = self._utc_offset_min(now_s)
        rights = []
        for (kind, target), schedules in sorted(per_target.items()):
            for days, from_min, to_min in utc_windows(schedules, offset_min):
                rights.append({"target": target, "kind": int(kind), "days": days, "from_min": from_min, "to_min": to_min})
        return rights

    # --- validation -------------------------------------------------------------------

    def validate(self, key, online=True, audit=(), soc=None, temperature_C=None):
        """Validate `key` for 10 days: a signed credential, the server time and the signed
        blocklist (each with a MAC per compartment the key's grants reach). `audit` is what
        the key carries, as the batches its AUDIT_READ answered, each {from_seq, records,
        next_seq, mac}: a batch is believed only with the key's own MAC over it, a record
        only with its lock's (evidence.py); forgeries are kept apart and reported
        (audit_rejections()), never stored as events. `soc` is stored as a battery reading,
        with `temperature_C`, the key's own temperature as it reports it (degC; None: not
        reported).

        The credential's `warn_permille` is the key's low-battery threshold from the physics
        (warning.py) at the coldest temperature expected until it expires: the site's climate
        over those days (set_climate) and the key's own temperature now, whichever is colder;
        with neither, 0 (the key warns at 15 % only).

        Checked in this order, the first that applies wins (ServerError.code):
        offline (nothing is reachable, nothing recorded); blocked (a lost key is reported
        as such whatever else is wrong with it); card_expired (the holder's ID06 card is
        expired or blocked: no identity, no access); not_activated (receipt not signed);
        unapproved (application not approved). The life-cycle checks follow the life
        cycle: an issued key is also unapproved, but the first missing step is reported.
        A refused key that reached the server still uploads its audit and battery
        reading: they are evidence, not a privilege. Unknown names and malformed records
        raise ValueError first and change nothing.
        """
        key = check_name(key, "key name")
        key_id = self._id("keys", key)
        if not online:
            raise ServerError("offline", "the access server cannot be reached: validation is impossible offline")
        batches = evidence.check_batches(audit)
        soc = None if soc is None else check_soc(soc)
        temperature_C = None if temperature_C is None else check_celsius(temperature_C)
        refusal = None
        with db.transaction(self._conn):
            now = self._now()
            upload = evidence.store_carried(self._conn, self._write, self._master, key_id, batches, now)
            stored = upload.stored
            if soc is not None:
                self._write(
                    "INSERT INTO battery_readings (key_id, time_s, soc, temperature_C) VALUES (?, ?, ?, ?)",
                    (key_id, now, soc, temperature_C),
                )
            state, not_after_s, not_before_s, blocked, card_blocked, card_expires_s = self._one(
                """SELECT k.state, k.not_after_s, k.not_before_s, b.key_id IS NOT NULL, h.blocked, h.id06_expires_s
                   FROM keys k JOIN holders h ON h.id = k.holder_id
                   LEFT JOIN blocklist b ON b.key_id = k.id WHERE k.id = ?""",
                (key_id,),
            )
            if blocked:
                refusal = ("blocked", f"key {key!r} is blocked")
            elif card_blocked or now >= card_expires_s:
                refusal = ("card_expired", f"the ID06 card of key {key!r}'s holder is {'blocked' if card_blocked else 'expired'}")
            elif state == "issued":
                refusal = ("not_activated", f"the receipt for key {key!r} is not signed")
            elif state == "receipt_signed":
                refusal = ("unapproved", f"the access application for key {key!r} is not approved")
            else:
                rights = self._rights(key_id, now)
                if len(rights) > MAX_RIGHTS:  # only if a DST change split more windows than at grant time
                    raise ValueError(f"key {key!r} has {len(rights)} access rights; a credential holds {MAX_RIGHTS}")
                valid_until = min(now + VALIDATION_S, not_after_s)
                warn = self._warn_permille(key_id, now, valid_until, temperature_C)
                change_at, change_min = self._offset_change(now, valid_until)
                version = self._blocklist_version()
                servers = self._servers(self._key_compartments(key_id))
                credential = signed.sign_credential(
                    servers,
                    {
                        "key_id": key_id,
                        "issued_at": now,
                        "not_before": not_before_s,
                        "not_after": not_after_s,
                        "valid_until": valid_until,
                        "offset_change_at": change_at,
                        "offset_change_min": change_min,
                        "blocklist_version": version,
                        "warn_permille": warn,
                        "rights": rights,
                        "macs": [],
                    },
                )
                blocklist = self._signed_blocklist(version, servers)
                self._write(
                    "UPDATE keys SET validated_at_s = ?, valid_until_s = ?, warn_permille = ? WHERE id = ?",
                    (now, valid_until, warn, key_id),
                )
        # Raised after the commit: the upload above is kept even when the key is refused.
        if refusal:
            raise ServerError(*refusal)
        return Validation(now, credential, blocklist, stored, upload.uploaded_to, upload.rejected)

    def _local_date(self, time_s) -> date:
        return datetime.fromtimestamp(time_s, self._tz).date()

    def _warn_permille(self, key_id, now, valid_until, temperature_C):
        """The low-battery threshold for the key's next credential (see validate())."""
        coldest = [] if temperature_C is None else [temperature_C]
        climate = self.climate()
        if climate is not None:
            coldest.append(climate.coldest_C(self._local_date(now), self._local_date(max(valid_until, now))))
        if not coldest:
            return 0
        (battery,) = self._one("SELECT battery FROM keys WHERE id = ?", (key_id,))
        return warning.warn_permille(battery, min(coldest))

    # --- the site's climate -------------------------------------------------------------

    def set_climate(self, climate):
        """The site's climate (a climate.Climate), or None for none: from the next validation
        on, credentials warn at the coldest temperature it expects."""
        if climate is not None and not isinstance(climate, Climate):
            raise ValueError(f"a climate is a keylock.host.server.climate.Climate or None, got {climate!r}")
        with db.transaction(self._conn):
            self._write("UPDATE site SET climate = ?", (None if climate is None else climate.to_json(),))

    def climate(self):
        """The site's climate.Climate, or None."""
        (text,) = self._one("SELECT climate FROM site")
        return None if text is None else Climate.from_json(text)

    # --- blocklist --------------------------------------------------------------------

    def _blocklist_version(self):
        return self._one("SELECT blocklist_version FROM site")[0]

    def _signed_blocklist(self, version, servers):
        key_ids = [r[0] for r in self._conn.execute("SELECT key_id FROM blocklist")]
        return signed.sign_blocklist(servers, version, key_ids)

    def _change_blocklist(self, key, blocked):
        key = check_name(key, "key name")
        with db.transaction(self._conn):
            key_id = self._id("keys", key)
            if blocked == bool(self._one("SELECT 1 FROM blocklist WHERE key_id = ?", (key_id,))):
                return self._blocklist_version()  # no change, no new version for locks to adopt
            if blocked:
                (size,) = self._one("SELECT count(*) FROM blocklist")
                if size >= MAX_BLOCKLIST:
                    raise ValueError(f"the blocklist is full ({MAX_BLOCKLIST} keys, what a BLOCKLIST_UPDATE carries)")
                self._write("INSERT INTO blocklist (key_id) VALUES (?)", (key_id,))
            else:
                self._write("DELETE FROM blocklist WHERE key_id = ?", (key_id,))
            self._write("UPDATE site SET blocklist_version = blocklist_version + 1")
            return self._blocklist_version()

    def block(self, key):
        """Put a (lost) key on the blocklist; it can no longer be validated, and locks deny
        it once another key carries them the new list. Returns the blocklist version, which
        changes only if the list did."""
        return self._change_blocklist(key, True)

    def unblock(self, key):
        """Take a key off the blocklist. Returns the blocklist version."""
        return self._change_blocklist(key, False)

    def blocklist(self):
        """The current blocklist as a signed update, {version, key_ids, macs}, with a MAC for
        every compartment of the site's locks."""
        return self._signed_blocklist(self._blocklist_version(), self._servers(self._site_compartments()))

    # --- audit ------------------------------------------------------------------------

    def audit(self, lock=None, key=None, *, reason, by, last=None):
        """Audit events (of a lock, of a key, or both filters), oldest first; `last` keeps
        only the newest N. Logs are read only for a stated need: `reason` and `by` are
        required (checked as names are; a reason may be up to names.MAX_TEXT_LEN long), and
        every retrieval is recorded (audit_retrievals())."""
        reason = check_text(reason, "reason for reading the audit trail")
        by = check_name(by, "name of who reads the audit trail (by)")
        if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
            raise ValueError(f"last must be a positive integer, got {last!r}")
        where, params = [], []
        lock_id = None if lock is None else self._id("locks", lock)
        key_id = None if key is None else self._id("keys", key)
        if lock_id is not None:
            where.append("e.lock_id = ?")
            params.append(lock_id)
        if key_id is not None:
            where.append("e.key_id = ?")
            params.append(key_id)
        sql = f"""SELECT e.seq, e.time_s, e.key_id, e.lock_id, e.outcome, e.reason, k.name, l.name, e.epoch, e.count, e.uploaded_at_s
                  FROM audit_events e LEFT JOIN keys k ON k.id = e.key_id LEFT JOIN locks l ON l.id = e.lock_id
                  {"WHERE " + " AND ".join(where) if where else ""}
                  ORDER BY e.time_s DESC, e.lock_id DESC, e.epoch DESC, e.seq DESC"""
        if last is not None:
            sql += " LIMIT ?"
            params.append(last)
        with db.transaction(self._conn):
            events = [AuditEvent(*row) for row in self._conn.execute(sql, params)][::-1]
            self._write(
                "INSERT INTO audit_retrievals (time_s, by, reason, lock_id, key_id, last, events) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._now(), by, reason, lock_id, key_id, last, len(events)),
            )
        return events

    def uploaded_to(self, key):
        """The position in `key`'s carried events before which the server has them all (where
        a phone's next upload starts)."""
        return self._one("SELECT carried_uploaded FROM keys WHERE id = ?", (self._id("keys", key),))[0]

    def audit_rejections(self):
        """Uploaded records the server refused to believe, oldest first: a forgery (bad_mac), a
        record of a lock or epoch it never provisioned, one contradicting a stored record
        (conflict), or a carried batch without the key's valid MAC (bad_batch)."""
        return evidence.rejections(self._conn)

    def audit_gaps(self, lock=None):
        """Events missing from a lock's trail as the server holds it: (lock name, epoch, first
        seq, last seq) for every run of sequence numbers below the highest one it has. A
        power cut during a lock's write can leave one unused; anything else is lost or held back."""
        lock_id = None if lock is None else self._id("locks", lock)
        return evidence.gaps(self._conn, lock_id)

    def audit_retrievals(self):
        """Every read of the audit trail, oldest first."""
        rows = self._conn.execute(
            """SELECT r.time_s, r.by, r.reason, l.name, k.name, r.last, r.events FROM audit_retrievals r
               LEFT JOIN locks l ON l.id = r.lock_id LEFT JOIN keys k ON k.id = r.key_id ORDER BY r.id"""
        )
        return [Retrieval(*row) for row in rows]

    # --- battery ----------------------------------------------------------------------

    def battery_reading(self, key, soc, temperature_C=None):
        """Record a key's state of charge (0-1) at the current time, with the key's own
        temperature [degC] if it reported one."""
        soc = check_soc(soc)
        temperature_C = None if temperature_C is None else check_celsius(temperature_C)
        with db.transaction(self._conn):
            key_id = self._id("keys", key)
            self._write(
                "INSERT INTO battery_readings (key_id, time_s, soc, temperature_C) VALUES (?, ?, ?, ?)",
                (key_id, self._now(), soc, temperature_C),
            )

    def battery_report(self):
        """Names of the keys whose latest reading is at or below 15 %, sorted."""
        rows = self._conn.execute(
            """SELECT k.name FROM keys k JOIN battery_readings b ON b.id = (
                   SELECT id FROM battery_readings WHERE key_id = k.id ORDER BY time_s DESC, id DESC LIMIT 1)
               WHERE b.soc <= ? ORDER BY k.name""",
            (LOW_BATTERY_SOC,),
        )
        return [r[0] for r in rows]

    def battery_levels(self):
        """Every key's latest battery reading, sorted by name: (key, state of charge 0-1,
        time_s of the reading); keys never read are left out."""
        rows = self._conn.execute(
            """SELECT k.name, b.soc, b.time_s FROM keys k JOIN battery_readings b ON b.id = (
                   SELECT id FROM battery_readings WHERE key_id = k.id ORDER BY time_s DESC, id DESC LIMIT 1)
               ORDER BY k.name"""
        )
        return [(name, soc, time_s) for name, soc, time_s in rows]

    def battery_at_risk(self, horizon_days=AT_RISK_HORIZON_DAYS):
        """Keys above 15 % (so not in battery_report()) whose openings are predicted to fail
        within `horizon_days` (default AT_RISK_HORIZON_DAYS), sorted by name, each an AtRisk
        with the local date of the predicted first failure.

        Each key's state of charge is projected from its latest reading at its drain rate: the
        fall between its readings of the last 30 days, and never less than the idle drain of
        the physics (hw_models.drain: sleep and advertising, self-discharge). Day by day (the
        report's time of day on each local date, today first) it is compared with the state of
        charge below which openings fail (warning.failing_permille) at that day's coldest
        temperature: the climate's daily minimum (set_climate), or without a climate the
        temperature the key reported with its reading (20 degC if none)."""
        if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or not 0 <= horizon_days <= 366:
            raise ValueError(f"horizon_days must be a whole number of days from 0 to 366, got {horizon_days!r}")
        now = self._now()
        climate = self.climate()
        rows = self._conn.execute(
            """SELECT k.id, k.name, k.battery, b.time_s, b.soc, b.temperature_C FROM keys k JOIN battery_readings b ON b.id = (
                   SELECT id FROM battery_readings WHERE key_id = k.id ORDER BY time_s DESC, id DESC LIMIT 1)
               WHERE b.soc > ? ORDER BY k.name""",
            (LOW_BATTERY_SOC,),
        ).fetchall()
        found = []
        for key_id, name, battery, read_s, soc, reported_C in rows:
            rate = self._drain_per_s(key_id, battery, read_s, soc, REFERENCE_C if reported_C is None else reported_C)
            for day in range(horizon_days + 1):
                at_s = now + day * 86400
                local = self._local_date(at_s)
                cold_C = climate.daily_min_C(local) if climate is not None else REFERENCE_C if reported_C is None else reported_C
                projected = soc - rate * max(at_s - read_s, 0)
                failing = warning.failing_permille(battery, cold_C)
                if projected * 1000 < failing:
                    found.append(AtRisk(name, local, round(projected, 4), failing))
                    break
        return found

    def _drain_per_s(self, key_id, battery, read_s, soc, temperature_C):
        """A key's fall in state of charge per second: what its readings show over the last
        DRAIN_HISTORY_S before its latest (at least a day apart), at least the idle drain."""
        cell = battery_by_name(battery)
        idle = float(drain.soc_rate_per_s(drain.average_current_A(), cell, warning.cell_temperature_C(cell, temperature_C)))
        row = self._one(
            "SELECT time_s, soc FROM battery_readings WHERE key_id = ? AND time_s >= ? AND time_s <= ? ORDER BY time_s, id LIMIT 1",
            (key_id, read_s - DRAIN_HISTORY_S, read_s - 86400),
        )
        if row is None:
            return idle
        first_s, first_soc = row
        return max((first_soc - soc) / (read_s - first_s), idle)
