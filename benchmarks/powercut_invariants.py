"""What must hold after a power cut and the reboot that follows it (benchmarks/powercut.py).

    corrupted_store           every store and log mounts and reads: the device boots, answers
                              STATUS and AUDIT_READ, keeps its identity, every stored value is its
                              old or its new one, and no event it held before the flow is gone
    unrecorded_motor_run      every motor run has a granted record in the lock's audit trail
    lost_acknowledged_event   every event the lock no longer offers as uncopied (a key
                              acknowledged it) is carried by a key or on the server
    site_broken               the site works once power is back: a valid key's opening grants,
                              and the flow run again does what it does uncut

Everything is read through the host link and the server, as a tester would. The audit
record's layout is met in one place, `event()`, and the status fields in STORED_FIELDS:
adapt those when the audit or status format changes; `check_invariants` is the entry.
"""

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..host.emulator.site import EmulatedSite
from ..protocol.codes import Outcome
from .powercut_flows import KEYS, LOCK, OBSERVER, Flow

# Status fields that are stored values (not readings or clocks): each must read as it was
# before the flow or as the uncut flow leaves it.
STORED_FIELDS = {"lock": ("lock_id", "blocklist_version", "blocklist_size", "highest_time"), "key": ("key_id", "valid_until")}


class Event(NamedTuple):
    lock_id: int
    epoch: int
    seq: int
    time: int
    key_id: int
    outcome: int
    reason: int
    count: int


_ABSENT = {"epoch": 0, "count": 1}  # fields a record may lack (records before epochs and counts)


def event(record: Any) -> Event:
    """One audit event, comparable wherever it is found: the lock's trail and a key's carried
    events (AUDIT_BATCH fields), or the server (host.server AuditEvent). An event is named by
    (lock, epoch, seq); the rest must match too. MACs are left out: the server keeps none."""
    fields = record if isinstance(record, dict) else {f: getattr(record, f) for f in Event._fields if hasattr(record, f)}
    return Event(*(int(fields[f] if f in fields else _ABSENT[f]) for f in Event._fields))


@dataclass
class Snapshot:
    """What the site holds, read through the host link (before a flow, or after it uncut)."""

    stored: dict[str, dict[str, Any]]  # device -> STORED_FIELDS values
    lock_events: list[Event]
    carried: dict[str, list[Event]]  # key -> the lock events it carries


def snapshot(site: EmulatedSite) -> Snapshot:
    stored = {LOCK: {f: site.lock_status(LOCK)[f] for f in STORED_FIELDS["lock"]}}
    for key in KEYS:
        status = site.key_status(key)
        stored[key] = {f: status[f] for f in STORED_FIELDS["key"]}
    return Snapshot(stored, [event(r) for r in site.lock_audit(LOCK)], {k: [event(r) for r in site.key_audit(k)] for k in KEYS})


@dataclass
class Check:
    """One run's state for the checks: the flow, the site before it and uncut after it, and
    the motor runs seen (the lock's outputs before each reboot)."""

    flow: Flow
    before: Snapshot
    uncut: Snapshot
    uncut_result: Any
    motor_runs: int = 0
    findings: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, invariant: str, detail: str) -> None:
        self.findings.append((invariant, detail))


def check_invariants(site: EmulatedSite, check: Check, full: bool = True) -> list[tuple[str, str]]:
    """The invariants after a cut and its reboot, as (invariant, detail) findings; [] when all
    hold. `full=False` checks only what reading changes nothing: stores and motor records
    (the opening the last two need would change the state a second cut starts from)."""
    stores_read(site, check)
    motor_runs_recorded(site, check)
    if full:
        for step in (acknowledged_events_kept, site_works):
            try:
                step(site, check)
            except Exception as exc:  # the site refused a step a working site takes
                check.fail("site_broken", f"{step.__name__}: {exc!r}")
                break
    return check.findings


def stores_read(site: EmulatedSite, check: Check) -> None:
    for name in (LOCK, check.flow.key):
        role = "lock" if name == LOCK else "key"
        try:
            status = site.lock_status(name) if role == "lock" else site.key_status(name)
            events = [event(r) for r in (site.lock_audit(name) if role == "lock" else site.key_audit(name))]
        except Exception as exc:  # whatever a corrupt store makes the device do
            check.fail("corrupted_store", f"{name} does not answer STATUS/AUDIT_READ: {exc!r}")
            continue
        for f in STORED_FIELDS[role]:
            old, new = check.before.stored[name][f], check.uncut.stored[name][f]
            if status[f] not in (old, new):
                check.fail("corrupted_store", f"{name}'s {f} reads {status[f]!r}: neither before ({old!r}) nor after ({new!r})")
        held = check.before.lock_events if role == "lock" else check.before.carried[name]
        gone = [e for e in held if e not in events]
        if gone and role == "key":
            gone = [e for e in gone if e not in _on_server(site)]  # a key may reuse the space of uploaded events
        if gone:
            check.fail("corrupted_store", f"{name} lost events it held before the flow: {gone}")


def motor_runs_recorded(site: EmulatedSite, check: Check) -> None:
    if not check.motor_runs:
        return
    key_id = site.server.key_id(check.flow.key)
    try:
        events = [event(r) for r in site.lock_audit(LOCK)]
    except Exception:
        return  # the lock's trail does not read: a corrupted store, reported above
    granted = [e for e in events if e not in check.before.lock_events and e.key_id == key_id and e.outcome == Outcome.GRANTED]
    if len(granted) < check.motor_runs:
        check.fail("unrecorded_motor_run", f"the motor ran {check.motor_runs} times; the trail holds {len(granted)} new grants to {key_id}")


def acknowledged_events_kept(site: EmulatedSite, check: Check) -> None:
    lock_events = [event(r) for r in site.lock_audit(LOCK)]
    lock_id = site.server.lock_id(LOCK)
    had = {event(r) for r in site.key_audit(OBSERVER)}
    r = site.open(OBSERVER, LOCK)  # the lock hands the observer every event it still offers
    if r.outcome.name != "GRANTED":
        check.fail("site_broken", f"a valid key's opening after the cut: {r.outcome.name} {r.reason.name}")
        return
    offered = [e for e in (event(x) for x in site.key_audit(OBSERVER)) if e.lock_id == lock_id and e not in had]
    if not offered:
        check.fail("site_broken", "the lock offered a key nothing after its opening, not even that opening's event")
        return
    first = min(e.seq for e in offered)
    acknowledged = [e for e in lock_events if e.seq < first]
    kept = {event(x) for k in KEYS for x in site.key_audit(k)} | _on_server(site)
    lost = [e for e in acknowledged if e not in kept]
    if lost:
        check.fail("lost_acknowledged_event", f"the lock no longer offers {lost}, and no key nor the server has them")


def _on_server(site: EmulatedSite) -> set[Event]:
    return {event(x) for x in site.server.audit(lock=LOCK, reason="power-cut campaign: acknowledged events", by="powercut")}


def site_works(site: EmulatedSite, check: Check) -> None:
    again = check.flow.run(site)
    if again != check.uncut_result:
        check.fail("site_broken", f"{check.flow.name} run again gives {again!r}, uncut {check.uncut_result!r}")
