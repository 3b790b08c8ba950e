"""YAML text to a SiteFile (model.py), validated against docs/sites.md, every error with its line.

A site file's keys and locks are a scenario's (the same fields, read by the scenario parser's
own methods), so this parser is the scenario parser with a site file's top level: named
climates, usage per group, validation habits, events and service windows. Anything that is not
a valid site file raises SiteFileError(path, line, reason), `FILE:LINE: reason`; nothing else
escapes.
"""

import dataclasses
import re
from datetime import UTC, date, datetime, time, tzinfo
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from ..scenario import values
from ..scenario.model import DAY_NAMES, RUNTIMES, Climate, Key, Lock, Phone, ScenarioError, Site
from ..scenario.parse import _compose, _line, _listing, _Parser, _suggest, read_text
from .model import (
    DEFAULT_DAYS,
    DEFAULT_WINDOWS,
    EVENT_KINDS,
    WEEKDAYS,
    Event,
    Service,
    SiteFile,
    SiteKey,
    SiteLock,
    Usage,
    Validation,
    Window,
)

# The site file keylock ships: a depot over a winter quarter (`keylock simulate`, `make demo`).
DEFAULT_SITE = Path(__file__).with_name("default.site.yaml")

DEFAULT_CLIMATE = "outdoor"
# A file without `climates:` still has the "outdoor" that keys and locks use by default.
CONSTANT_20_C = Climate((20.0,) * 12)
# A credential lasts 10 days (the protocol's validity), so holders validate at least that often.
MAX_EVERY_DAYS = 10
MAX_SIM_DAYS = 10 * 366  # a decade of virtual days: more than any question needs, and in datetime's range
MAX_BLOCK = 10_000  # keys or locks made by one `count:` block
MAX_OPENINGS_PER_DAY = 1000.0
MAX_LISTED = 8  # ids an error lists

_HOURS = re.compile(r"\s*([0-9:]+)\s*-\s*([0-9:]+)\s*")
HOURS_FORM = 'hours such as "07:00-16:00" (from-to, local, within one day)'

# A `count:` block takes a key's fields except those that name one key or one holder.
KEY_BLOCK_FIELDS = ("battery", "soc", "temperature_C", "state", "site", "id06_expires")
LOCK_BLOCK_FIELDS = ("group", "kind", "temperature_C")
_BLOCK_ONLY = ("count", "prefix", "first")


class SiteFileError(ScenarioError):
    """A file that is not a valid site file; the message reads `FILE:LINE: reason` (CLI exit 2)."""


def load(path) -> SiteFile:
    """Read and parse a site file."""
    return parse_text(read_text(path, SiteFileError), str(path))


def parse_text(text: str, path: str = "<site>") -> SiteFile:
    """Parse a site file's YAML text; `path` names it in errors and in the result."""
    try:
        root = _compose(text, path)
    except SiteFileError:
        raise
    except ScenarioError as exc:
        reason = "the file is empty; a site file needs at least `site:` with keys and locks" if "empty" in exc.reason else exc.reason
        raise SiteFileError(path, exc.line, reason) from None
    return _SiteParser(path).site_file(root)


def parse_hours(text: str) -> tuple[int, int]:
    """ "07:00-16:00" to local minutes since midnight (420, 960); within one day, from before to."""
    m = _HOURS.fullmatch(text)
    if m is None:
        raise ValueError(f"{text.strip()!r} is not {HOURS_FORM}")
    start, end = (values.parse_time_of_day(part) for part in m.groups())
    if start >= end:
        raise ValueError(f"{text.strip()!r} ends before it starts (hours do not run past midnight)")
    return start, end


def format_hours(from_min: int, to_min: int) -> str:
    """What parse_hours reads back: (420, 960) -> "07:00-16:00"."""
    return f"{format_time_of_day(from_min)}-{format_time_of_day(to_min)}"


def format_time_of_day(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    return f"{hours:02d}:{mins:02d}"


def _parse_start(text: str) -> date:
    # A date only: the run begins at local midnight, so a time of day would be ignored silently.
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a date such as 2026-12-07 (the run starts at its local midnight)") from None
    if not 1970 <= day.year <= 2090:
        raise ValueError(f"{text.strip()!r} is outside 1970 to 2090")
    return day


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The start of local day `day`, as an aware UTC datetime."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _entries(node: Node) -> dict[str, Node]:
    """A mapping node's value nodes by key name (checked elsewhere)."""
    if not isinstance(node, MappingNode):
        return {}
    return {k.value: v for k, v in node.value if isinstance(k, ScalarNode)}


class _SiteParser(_Parser):
    def __init__(self, path: str):
        super().__init__(path)
        self.extra_fields: tuple[str, ...] = ()
        self.climates: dict[str, Climate] = {}
        self.days = DEFAULT_DAYS

    def fail(self, node: Node | int, reason: str):
        raise SiteFileError(self.path, node if isinstance(node, int) else _line(node), reason)

    def mapping(self, node: Node, what: str, required=(), optional=()):
        # The scenario's key() and lock() read a site file's entries too, which have a few more
        # fields (groups, climate): those are allowed for the one call that asks for them.
        extra, self.extra_fields = self.extra_fields, ()
        return super().mapping(node, what, required, tuple(optional) + extra)

    # -- the file ----------------------------------------------------------------------------

    def site_file(self, root: Node) -> SiteFile:
        top = self.mapping(
            root,
            "the site file",
            required=("site",),
            optional=("name", "seed", "start", "timezone", "days", "runtime", "climates", "usage", "validation", "events", "service"),
        )
        get = {name: v for name, (_k, v) in top.items()}
        self.read_timezone(top, get["site"])
        day0 = self.converted(get["start"], "start", _parse_start) if "start" in get else SiteFile.start.date()
        start = local_midnight(day0, self.tz)
        self.days = self.integer(get["days"], "days", 1) if "days" in get else DEFAULT_DAYS
        if self.days > MAX_SIM_DAYS:
            self.fail(get["days"], f"days must be at most {MAX_SIM_DAYS} (ten years), not {self.days}")
        self.climates = self.read_climates(get.get("climates"))
        # A key's ID06 card defaults to five years after the local start date.
        keys, locks, phones = self.read_site(get["site"], datetime.combine(day0, time()))
        return SiteFile(
            name=self.text(get["name"], "name") if "name" in get else Path(self.path).name.split(".")[0],
            keys=keys,
            locks=locks,
            phones=phones,
            climates=self.climates,
            usage=self.read_usage(get.get("usage")),
            validation=self.read_validation(get["validation"]) if "validation" in get else Validation(),
            events=tuple(self.event(n) for n in self.list_of(get.get("events"), "events")),
            service=self.read_service(get["service"]) if "service" in get else Service(),
            seed=self.integer(get["seed"], "seed") if "seed" in get else 0,
            start=start,
            timezone=getattr(self.tz, "key", "UTC"),
            days=self.days,
            runtime=self.choice(get["runtime"], "runtime", RUNTIMES) if "runtime" in get else "cpython",
            path=self.path,
        )

    def list_of(self, node: Node | None, what: str) -> list[Node]:
        if node is None or self.is_null(node):
            return []
        return self.sequence(node, what)

    def hours(self, node: Node, what: str) -> tuple[int, int]:
        return self.converted(node, what, parse_hours)

    def time_of_day(self, node: Node, what: str) -> int:
        minutes = self.converted(node, what, values.parse_time_of_day)
        if minutes >= 24 * 60:
            self.fail(node, f'{what} must be a time of day from "00:00" to "23:59"')
        return minutes

    def ref(self, node: Node, kind: str) -> str:
        # The scenario parser's, with the list of known ids cut short: a site has hundreds.
        ids = [t.id for t in getattr(self.site, kind + "s")]
        value = self.text(node, kind)
        if value not in ids:
            shown = _listing(ids) if len(ids) <= MAX_LISTED else f"{_listing(ids[:MAX_LISTED])}, ..."
            known = f"the site has {len(ids)} {kind}s: {shown}" if len(ids) > MAX_LISTED else f"the site's {kind}s: {shown}"
            self.fail(node, f"unknown {kind} {value!r}{_suggest(value, ids)}; {known}")
        return value

    def day_name(self, node: Node, what: str) -> str:
        return self.choice(node, what, DAY_NAMES)

    # -- climates ------------------------------------------------------------------------------

    def read_climates(self, node: Node | None) -> dict[str, Climate]:
        if node is None or self.is_null(node):
            return {DEFAULT_CLIMATE: CONSTANT_20_C}
        if not isinstance(node, MappingNode) or not node.value:
            self.fail(
                node, "climates must be a mapping of names to climates, e.g. {outdoor: {mean_C: 6, amplitude_K: 10}, indoor: {mean_C: 20}}"
            )
        climates = {}
        for name_node, climate_node in node.value:
            name = self.text(name_node, "a climate's name")
            if name in climates:
                self.fail(name_node, f"climate {name!r} is defined twice")
            climates[name] = self.climate(climate_node)
        return climates

    def climate_ref(self, node: Node | None, owner: Node, what: str) -> str:
        """The climate a key or lock names, or the default; either must be defined."""
        if node is None:
            if DEFAULT_CLIMATE not in self.climates:
                self.fail(
                    owner,
                    f"{what} has no climate: and climates: defines no {DEFAULT_CLIMATE!r} (the default); name one of {_listing(self.climates)}",
                )
            return DEFAULT_CLIMATE
        name = self.text(node, "climate")
        if name not in self.climates:
            self.fail(node, f"unknown climate {name!r}{_suggest(name, self.climates)}; climates: {_listing(self.climates)}")
        return name

    # -- site: keys, locks, phones ----------------------------------------------------------------

    def read_site(self, node: Node, start: datetime) -> tuple[tuple[SiteKey, ...], tuple[SiteLock, ...], tuple[Phone, ...]]:
        entries = self.mapping(node, "site", required=("keys", "locks"), optional=("phones", "timezone"))
        get = {name: v for name, (_k, v) in entries.items()}
        locks = tuple(lock for n in self.blocks(get["locks"], "site locks") for lock in self.site_locks(n))
        self.groups = {s.lock.group for s in locks if s.lock.group}
        keys = tuple(key for n in self.blocks(get["keys"], "site keys") for key in self.site_keys(n, start))
        phones = tuple(Phone(self.text(n, "phone id"), _line(n)) for n in self.list_of(get.get("phones"), "site phones"))
        seen: dict[str, str] = {}
        for kind, things in (("key", [k.key for k in keys]), ("lock", [s.lock for s in locks]), ("phone", phones)):
            for thing in things:
                if thing.id in seen:
                    self.fail(thing.line, f"id {thing.id!r} is already used by a {seen[thing.id]}; ids must be unique")
                seen[thing.id] = kind
        self.site = Site(tuple(k.key for k in keys), tuple(s.lock for s in locks), phones)
        return keys, locks, phones

    def blocks(self, node: Node, what: str) -> list[Node]:
        """`keys:` and `locks:`: a list of entries (each one thing or a `count:` block), or one block."""
        items: list[Node] = [node] if isinstance(node, MappingNode) else self.list_of(node, what)
        if not items:
            self.fail(node, f"{what}: a site needs at least one")
        return items

    def site_keys(self, node: Node, start: datetime) -> list[SiteKey]:
        extra = _entries(node)
        if "count" in extra:
            self.fields(node, "a block of keys", ("count", "prefix"), ("first", "groups", "climate") + KEY_BLOCK_FIELDS)
            template = self.key(self.template(node), start)
            groups = self.key_groups(extra.get("groups"))
            climate = self.climate_ref(extra.get("climate"), node, "a block of keys")
            return [
                SiteKey(dataclasses.replace(template, id=key_id), groups, climate, _line(node)) for key_id in self.block_ids(node, extra)
            ]
        self.extra_fields = ("groups", "climate")
        key = self.key(node, start)
        return [SiteKey(key, self.key_groups(extra.get("groups")), self.climate_ref(extra.get("climate"), node, f"key {key.id}"), key.line)]

    def site_locks(self, node: Node) -> list[SiteLock]:
        extra = _entries(node)
        if "count" in extra:
            self.fields(node, "a block of locks", ("count", "prefix"), ("first", "climate") + LOCK_BLOCK_FIELDS)
            template = self.lock(self.template(node))
            climate = self.climate_ref(extra.get("climate"), node, "a block of locks")
            return [SiteLock(dataclasses.replace(template, id=lock_id), climate, _line(node)) for lock_id in self.block_ids(node, extra)]
        self.extra_fields = ("climate",)
        lock = self.lock(node)
        return [SiteLock(lock, self.climate_ref(extra.get("climate"), node, f"lock {lock.id}"), lock.line)]

    def template(self, node: Node) -> MappingNode:
        """A `count:` block as one scenario key or lock: its own fields, with a placeholder id."""
        assert isinstance(node, MappingNode)
        mark = node.start_mark
        id_pair = (ScalarNode("tag:yaml.org,2002:str", "id", mark, mark), ScalarNode("tag:yaml.org,2002:str", "-", mark, mark))
        kept = [(k, v) for k, v in node.value if k.value not in _BLOCK_ONLY + ("groups", "climate")]
        return MappingNode("tag:yaml.org,2002:map", [id_pair, *kept], mark, node.end_mark)

    def block_ids(self, node: Node, extra: dict[str, Node]) -> list[str]:
        count = self.integer(extra["count"], "count", 1)
        if count > MAX_BLOCK:
            self.fail(extra["count"], f"count must be at most {MAX_BLOCK}, not {count}")
        prefix = self.text(extra["prefix"], "prefix")
        first = self.integer(extra["first"], "first") if "first" in extra else 1
        return [f"{prefix}{n}" for n in range(first, first + count)]

    def key_groups(self, node: Node | None) -> tuple[str, ...]:
        groups = tuple(self.group_ref(n) for n in self.list_of(node, "groups"))
        if len(set(groups)) != len(groups):
            self.fail(node or 0, "groups: a group is listed twice")
        return groups

    # -- usage and validation --------------------------------------------------------------------

    def read_usage(self, node: Node | None) -> tuple[Usage, ...]:
        """Each group's usage as given, then the default usage for every other group a lock has."""
        usage: dict[str, Usage] = {}
        if node is not None and not self.is_null(node):
            if not isinstance(node, MappingNode):
                self.fail(node, "usage must be a mapping of groups to their usage, e.g. {depot: {openings_per_day: 2, hours: 07:00-16:00}}")
            for group_node, usage_node in node.value:
                group = self.group_ref(group_node)
                if group in usage:
                    self.fail(group_node, f"usage: group {group!r} is given twice")
                usage[group] = self.usage(group, usage_node)
        defaults = tuple(Usage(group) for group in sorted(self.groups - set(usage)))
        return tuple(usage.values()) + defaults

    def usage(self, group: str, node: Node) -> Usage:
        what = f"usage of {group}"
        f = self.fields(node, what, (), ("openings_per_day", "days", "hours"))
        days = WEEKDAYS
        if "days" in f:
            day_nodes = self.sequence(f["days"], f"{what}: days")
            if not day_nodes:
                self.fail(f["days"], f"{what}: days is empty")
            days = tuple(self.day_name(n, "a usage day") for n in day_nodes)
            if len(set(days)) != len(days):
                self.fail(f["days"], f"{what}: days: a day is listed twice")
        start, end = self.hours(f["hours"], f"{what}: hours") if "hours" in f else (Usage.from_min, Usage.to_min)
        per_day = (
            float(self.number(f["openings_per_day"], f"{what}: openings_per_day", 0.0, MAX_OPENINGS_PER_DAY))
            if "openings_per_day" in f
            else 2.0
        )
        return Usage(group, per_day, days, start, end, _line(node))

    def read_validation(self, node: Node) -> Validation:
        f = self.fields(node, "validation", (), ("every_days", "hours", "forget_share", "late_days"))
        every = Validation.every_days
        if "every_days" in f:
            every = self.integer(f["every_days"], "validation every_days", 1)
            if every > MAX_EVERY_DAYS:
                self.fail(
                    f["every_days"], f"validation every_days must be from 1 to {MAX_EVERY_DAYS} (a credential lasts 10 days), not {every}"
                )
        start, end = self.hours(f["hours"], "validation hours") if "hours" in f else (Validation.from_min, Validation.to_min)
        return Validation(
            every_days=every,
            from_min=start,
            to_min=end,
            forget_share=float(self.number(f["forget_share"], "validation forget_share", 0.0, 1.0)) if "forget_share" in f else 0.0,
            late_days=self.integer(f["late_days"], "validation late_days") if "late_days" in f else Validation.late_days,
            line=_line(node),
        )

    # -- events ----------------------------------------------------------------------------------

    def event(self, node: Node) -> Event:
        kinds = [name for name in _entries(node) if name in EVENT_KINDS]
        if not isinstance(node, MappingNode) or len(kinds) != 1:
            self.fail(node, f"an event names exactly one of {_listing(EVENT_KINDS)}, e.g. {{lost: K3, day: 20, found: 40}}")
        kind = kinds[0]
        optional = {
            "lost": ("at", "found", "block_after", "tries_per_day"),
            "left_in_lock": ("at", "hours"),
            "warmed": ("at", "to_C"),
            "battery_change": ("at",),
        }[kind]
        required = {"left_in_lock": ("lock",), "warmed": ("key",)}.get(kind, ())
        f = self.fields(node, f"a {kind} event", (kind, "day") + required, optional)
        day = self.event_day(f["day"], f"{kind}: day")
        at = self.time_of_day(f["at"], f"{kind}: at") if "at" in f else Event.at_min
        line = _line(node)
        if kind == "lost":
            found = None
            if "found" in f and not self.is_null(f["found"]):
                found = self.event_day(f["found"], "lost: found")
                if found <= day:
                    self.fail(f["found"], f"lost: found (day {found}) must be later than the day the key is lost (day {day})")
            return Event(
                kind,
                day,
                key=self.ref(f[kind], "key"),
                at_min=at,
                until_day=found,
                block_after_h=self.duration(f["block_after"], "lost: block_after") / 3600 if "block_after" in f else Event.block_after_h,
                tries_per_day=float(self.number(f["tries_per_day"], "lost: tries_per_day", 0.0, MAX_OPENINGS_PER_DAY))
                if "tries_per_day" in f
                else Event.tries_per_day,
                line=line,
            )
        if kind == "left_in_lock":
            hours = float(self.number(f["hours"], "left_in_lock: hours", 0.0, 24.0 * MAX_SIM_DAYS)) if "hours" in f else Event.hours
            return Event(kind, day, key=self.ref(f[kind], "key"), lock=self.ref(f["lock"], "lock"), at_min=at, hours=hours, line=line)
        if kind == "warmed":
            lock = self.ref(f[kind], "lock")
            kind_of_lock = self.site.lock(lock).kind
            if kind_of_lock != "padlock":
                self.fail(f[kind], f"warmed: {lock} is a {kind_of_lock}; only a padlock (its body outdoors) is warmed")
            to_C = self.celsius(f["to_C"], "warmed: to_C") if "to_C" in f else Event.to_C
            return Event(kind, day, key=self.ref(f["key"], "key"), lock=lock, at_min=at, to_C=to_C, line=line)
        return Event(kind, day, key=self.ref(f[kind], "key"), at_min=at, line=line)

    def event_day(self, node: Node, what: str) -> int:
        day = self.integer(node, what)
        if day >= self.days:
            self.fail(node, f"{what} {day} is beyond the run: days are 0 to {self.days - 1} (days: {self.days})")
        return day

    # -- service ---------------------------------------------------------------------------------

    def read_service(self, node: Node) -> Service:
        f = self.fields(node, "service", (), ("windows", "jobs_per_hour", "book_by", "report", "low_soc", "perform_jobs"))
        windows = DEFAULT_WINDOWS
        if "windows" in f:
            window_nodes = self.sequence(f["windows"], "service windows")
            if not window_nodes:
                self.fail(f["windows"], "service windows is empty; leave it out for the default windows")
            windows = self.windows(window_nodes)
        report_day, report_min = Service.report_day, Service.report_min
        if "report" in f:
            g = self.fields(f["report"], "service report", (), ("day", "at"))
            report_day = self.day_name(g["day"], "service report day") if "day" in g else report_day
            report_min = self.time_of_day(g["at"], "service report at") if "at" in g else report_min
        jobs = Service.jobs_per_hour
        if "jobs_per_hour" in f:
            jobs = self.integer(f["jobs_per_hour"], "service jobs_per_hour", 1)
        return Service(
            windows=windows,
            jobs_per_hour=jobs,
            book_by_min=self.time_of_day(f["book_by"], "service book_by") if "book_by" in f else Service.book_by_min,
            report_day=report_day,
            report_min=report_min,
            low_soc=float(self.number(f["low_soc"], "service low_soc", 0.0, 1.0)) if "low_soc" in f else Service.low_soc,
            perform_jobs=self.boolean(f["perform_jobs"], "service perform_jobs") if "perform_jobs" in f else True,
            line=_line(node),
        )

    def windows(self, nodes: list[Node]) -> tuple[Window, ...]:
        windows: list[Window] = []
        for n in nodes:
            g = self.fields(n, "a service window", ("day", "hours"), ("choice",))
            day = self.day_name(g["day"], "a service window's day")
            start, end = self.hours(g["hours"], "a service window's hours")
            choice = self.integer(g["choice"], "a service window's choice", 1) if "choice" in g else 1
            if choice > 2:
                self.fail(
                    g["choice"], f"a service window's choice is 1 (first choice) or 2 (when the first choices are full), not {choice}"
                )
            for other in windows:
                if other.day == day and start < other.to_min and other.from_min < end:
                    self.fail(
                        n,
                        f"this window ({day} {format_hours(start, end)}) overlaps {other.day} {format_hours(other.from_min, other.to_min)}",
                    )
            windows.append(Window(day, start, end, choice))
        return tuple(windows)


# -- writing ---------------------------------------------------------------------------------------


def to_text(site: SiteFile) -> str:
    """A site file that parses back to `site` (all but lines and path): every key and lock
    listed one by one and every default written out, e.g. for a variant made in Python."""
    local_start = site.start.astimezone(values.parse_timezone(site.timezone)).date()
    head = {
        "name": site.name,
        "seed": site.seed,
        "start": local_start.isoformat(),
        "timezone": site.timezone,
        "days": site.days,
        "runtime": site.runtime,
    }
    # One line a key and a lock, as a person writes them; a site of 100 keys stays readable.
    things = [("keys", [_key_entry(k) for k in site.keys]), ("locks", [_lock_entry(s) for s in site.locks])]
    body = "site:\n" + "".join(f"  {name}:\n" + "".join(f"    - {_flow(e)}\n" for e in entries) for name, entries in things)
    body += f"  phones: {_flow([p.id for p in site.phones])}\n"
    tail = {
        "climates": {name: _climate_entry(c) for name, c in site.climates.items()},
        "usage": {
            u.group: {"openings_per_day": u.openings_per_day, "days": list(u.days), "hours": format_hours(u.from_min, u.to_min)}
            for u in site.usage
        },
        "validation": {
            "every_days": site.validation.every_days,
            "hours": format_hours(site.validation.from_min, site.validation.to_min),
            "forget_share": site.validation.forget_share,
            "late_days": site.validation.late_days,
        },
        "events": [_event_entry(e) for e in site.events],
        "service": {
            "windows": [{"day": w.day, "hours": format_hours(w.from_min, w.to_min), "choice": w.choice} for w in site.service.windows],
            "jobs_per_hour": site.service.jobs_per_hour,
            "book_by": format_time_of_day(site.service.book_by_min),
            "report": {"day": site.service.report_day, "at": format_time_of_day(site.service.report_min)},
            "low_soc": site.service.low_soc,
            "perform_jobs": site.service.perform_jobs,
        },
    }
    return _block(head) + body + _block(tail)


def _block(doc: dict) -> str:
    # Block style down to the innermost lists and mappings, which go on one line each.
    if all(not isinstance(v, (dict, list)) for v in doc.values()):
        return "".join(_flow({name: value})[1:-1] + "\n" for name, value in doc.items())
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=140, allow_unicode=True)


def _flow(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1_000_000, allow_unicode=True).strip()


def _key_entry(site_key: SiteKey) -> dict:
    k: Key = site_key.key
    entry: dict = {"id": k.id}
    entry |= {name: value for name, value in (("holder", k.holder), ("id06", k.id06)) if value is not None}
    if k.id06_expires is not None:
        entry["id06_expires"] = k.id06_expires.isoformat()
    entry |= {"battery": k.battery, "soc": k.soc, "temperature_C": k.temperature_C, "state": k.state}
    if k.site is not None:
        entry["site"] = k.site
    return entry | {"groups": list(site_key.groups), "climate": site_key.climate}


def _lock_entry(site_lock: SiteLock) -> dict:
    lock: Lock = site_lock.lock
    entry: dict = {"id": lock.id}
    if lock.group is not None:
        entry["group"] = lock.group
    return entry | {"kind": lock.kind, "temperature_C": lock.temperature_C, "climate": site_lock.climate}


def _climate_entry(climate: Climate) -> dict:
    return {
        "monthly_mean_C": list(climate.monthly_mean_C),
        "daily_swing_K": climate.daily_swing_K,
        "cold_snaps": [{"from": s.first.isoformat(), "to": s.last.isoformat(), "min_C": s.min_C} for s in climate.cold_snaps],
    }


def _event_entry(event: Event) -> dict:
    at = format_time_of_day(event.at_min)
    if event.kind == "lost":
        block_s = event.block_after_h * 3600
        return {
            "lost": event.key,
            "day": event.day,
            "at": at,
            "found": event.until_day,
            "block_after": values.format_duration(block_s) if block_s == int(block_s) else repr(block_s),
            "tries_per_day": event.tries_per_day,
        }
    if event.kind == "left_in_lock":
        return {"left_in_lock": event.key, "lock": event.lock, "day": event.day, "at": at, "hours": event.hours}
    if event.kind == "warmed":
        return {"warmed": event.lock, "key": event.key, "day": event.day, "at": at, "to_C": event.to_C}
    return {"battery_change": event.key, "day": event.day, "at": at}
