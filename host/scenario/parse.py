"""YAML text to a Scenario, validated against shared/SCENARIOS.md, every error with its line.

The file is composed into YAML nodes (not loaded into Python values) so every mapping, list
and scalar keeps its line, and so values are read from their text as written. Anything that
is not a valid scenario raises ScenarioError(path, line, reason); nothing else escapes.
"""

import difflib
import math
from datetime import date
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import values
from .model import (
    BATTERIES,
    DAY_NAMES,
    DEFAULT_START,
    DENIAL_REASONS,
    ERROR_CODES,
    KEY_SETUP_STATES,
    KEY_STATUS_FIELDS,
    LOCK_KINDS,
    LOCK_STATUS_FIELDS,
    PARTS,
    RUNTIMES,
    Climate,
    ColdSnap,
    Expect,
    Key,
    Lock,
    Phone,
    Scenario,
    ScenarioError,
    ScenarioEvent,
    Schedule,
    Site,
    Step,
    from_annual,
)

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_ABSOLUTE_ZERO_C = -273.15

# What each action's `expect` may say (SCENARIOS.md, the steps table); an empty tuple: no expect.
EXPECT_FORMS = {
    "grant": ("ok",),
    "revoke": ("ok",),
    "validate": ("ok", "error"),
    "open": ("granted", "denied"),
    "insert": ("granted", "denied"),
    "remove": ("ok",),
    "advance": (),
    "block": ("ok",),
    "unblock": ("ok",),
    "pair": ("ok", "error"),
    "unpair": ("ok", "error"),
    "remove_battery": (),
    "set_temperature": (),
    "set_battery": (),
    "status": ("fields",),
    "battery_report": ("keys",),  # and/or at_risk
    "audit": ("events",),
}
ACTIONS = tuple(EXPECT_FORMS)
_FORM_TEXT = {
    "ok": "ok",
    "granted": "granted",
    "denied": "{denied: REASON}",
    "error": "{error: CODE}",
    "fields": "a mapping of status fields, e.g. {battery_low: true}",
    "keys": "{keys: [K1, ...]} and/or {at_risk: [K1, ...]} (or {at_risk: {K1: DATE}})",
    "events": "a list of {key, result} or {key, denied}, oldest first",
}


def load(path) -> Scenario:
    """Read and parse a scenario file."""
    return parse_text(read_text(path), str(path))


def read_text(path, error=ScenarioError) -> str:
    """A YAML file's text; `error(path, line, reason)` when it cannot be read or is not UTF-8."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(path, 0, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(path, data.count(b"\n", 0, exc.start) + 1, "not UTF-8 text") from None


def parse_text(text: str, path: str = "<scenario>") -> Scenario:
    """Parse a scenario's YAML text; `path` names it in errors and in the result."""
    return _Parser(path).scenario(_compose(text, path))


def parse_step(text: str, site: Site, timezone: str = "UTC", groups=None, path: str = "<step>") -> Step:
    """One step given alone as YAML (a mapping: its action, optional `expect`), checked
    against `site` (and `groups`, else its locks') as a file's step is against the file's
    site: how `keylock site` commands
    reach the emulated site with exactly the meaning they have in a scenario file."""
    parser = _Parser(path)
    parser.site = site
    parser.groups = set(groups) if groups is not None else {lock.group for lock in site.locks if lock.group}
    parser.tz = values.parse_timezone(timezone)
    return parser.step(1, _compose(text, path), alone=True)


def _compose(text: str, path: str) -> Node:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ScenarioError(path, line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise ScenarioError(path, line, f"not valid YAML: character {exc.character!r} is not allowed") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, 1, f"not valid YAML: {exc}") from None
    except RecursionError:
        # PyYAML composes recursively; thousands of nested brackets exhaust the stack.
        raise ScenarioError(path, 1, "not valid YAML: nested too deeply") from None
    if root is None:
        raise ScenarioError(path, 1, "the file is empty; a scenario needs at least `steps:`")
    return root


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _listing(choices) -> str:
    return ", ".join(choices)


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.tz = values.parse_timezone("UTC")
        self.site = Site()
        self.groups: set[str] = set()

    def fail(self, node: Node | int, reason: str):
        raise ScenarioError(self.path, node if isinstance(node, int) else _line(node), reason)

    # -- node shapes -----------------------------------------------------------------------

    def mapping(self, node: Node, what: str, required=(), optional=()) -> dict[str, tuple[Node, Node]]:
        """A mapping's entries by key name, with their key and value nodes; checks names."""
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping with {_listing(required + optional)}")
        allowed = tuple(required) + tuple(optional)
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (_TAG + "str", _TAG + "int"):
                self.fail(key_node, f"{what}: keys must be plain names")
            name = key_node.value
            if name in entries:
                self.fail(key_node, f"{what}: {name!r} is given twice")
            if name not in allowed:
                self.fail(key_node, f"{what}: unknown key {name!r}{_suggest(name, allowed)}; allowed: {_listing(allowed)}")
            entries[name] = (key_node, value_node)
        for name in required:
            if name not in entries:
                self.fail(node, f"{what}: {name!r} is missing")
        return entries

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.fail(node, f"{what} must be a list, e.g. [a, b]")
        return node.value

    def text(self, node: Node, what: str) -> str:
        """A scalar's text as written (ids, names, durations, times)."""
        if not isinstance(node, ScalarNode):
            self.fail(node, f"{what} must be a single value, not a list or mapping")
        if node.tag not in _PLAIN_TAGS:
            self.fail(node, f"{what}: YAML tags such as {node.tag.replace(_TAG, '!!')} are not supported")
        if node.tag == _TAG + "null" or not node.value.strip():
            self.fail(node, f"{what} is empty")
        return node.value

    def choice(self, node: Node, what: str, choices) -> str:
        value = self.text(node, what)
        if value not in choices:
            self.fail(node, f"{what} must be one of {_listing(choices)}, not {value!r}{_suggest(value, choices)}")
        return value

    def number(self, node: Node, what: str, low: float | None = None, high: float | None = None) -> float:
        if not isinstance(node, ScalarNode) or node.tag not in (_TAG + "int", _TAG + "float"):
            self.fail(node, f"{what} must be a number")
        value = _construct(node)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(node, f"{what} must be a finite number")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
            self.fail(node, f"{what} must be {bounds}, not {node.value}")
        return value

    def integer(self, node: Node, what: str, low: int = 0) -> int:
        if not isinstance(node, ScalarNode) or node.tag != _TAG + "int":
            self.fail(node, f"{what} must be a whole number")
        value = _construct(node)
        if not isinstance(value, int) or value < low:
            self.fail(node, f"{what} must be a whole number of at least {low}")
        return value

    def boolean(self, node: Node, what: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != _TAG + "bool":
            self.fail(node, f"{what} must be true or false")
        return bool(_construct(node))

    def is_null(self, node: Node) -> bool:
        return isinstance(node, ScalarNode) and node.tag == _TAG + "null"

    def converted(self, node: Node, what: str, convert, *args):
        """Apply one of the `values` conversions to a scalar's text; its reason gets the line."""
        try:
            return convert(self.text(node, what), *args)
        except ValueError as exc:
            self.fail(node, f"{what}: {exc}")

    def duration(self, node: Node, what: str) -> float:
        return self.converted(node, what, values.parse_duration)

    # -- the file ----------------------------------------------------------------------------

    def scenario(self, root: Node) -> Scenario:
        top = self.mapping(root, "the scenario", required=("steps",), optional=("name", "seed", "runtime", "start", "timezone", "site"))
        site_node = top.get("site", (None, None))[1]
        self.read_timezone(top, site_node)
        start = self.converted(top["start"][1], "start", values.parse_time, self.tz) if "start" in top else DEFAULT_START
        if site_node is not None and not self.is_null(site_node):
            self.site = self.read_site(site_node, start)
        name = self.text(top["name"][1], "name") if "name" in top else Path(self.path).name.split(".")[0]
        seed = self.integer(top["seed"][1], "seed") if "seed" in top else None
        runtime = self.choice(top["runtime"][1], "runtime", RUNTIMES) if "runtime" in top else "cpython"
        steps_node = top["steps"][1]
        if self.is_null(steps_node) or not self.sequence(steps_node, "steps"):
            self.fail(steps_node, "steps: a scenario needs at least one step")
        return Scenario(
            name=name,
            steps=tuple(self.step(i, node) for i, node in enumerate(steps_node.value, 1)),
            site=self.site,
            seed=seed,
            runtime=runtime,
            start=start,
            timezone=getattr(self.tz, "key", "UTC"),
            path=self.path,
        )

    def read_timezone(self, top, site_node):
        # SCENARIOS.md says "the site sets `timezone:`"; accept it under `site:` or at the top.
        nodes = [top["timezone"][1]] if "timezone" in top else []
        if isinstance(site_node, MappingNode):
            nodes += [v for k, v in site_node.value if isinstance(k, ScalarNode) and k.value == "timezone"]
        if len(nodes) > 1:
            self.fail(nodes[1], "timezone is given twice (at the top and under site:); keep one")
        if nodes:
            self.tz = self.converted(nodes[0], "timezone", values.parse_timezone)

    def read_site(self, node: Node, start) -> Site:
        entries = self.mapping(node, "site", optional=("keys", "locks", "phones", "timezone", "climate"))
        keys = tuple(self.key(n, start) for n in self.items(entries, "keys"))
        locks = tuple(self.lock(n) for n in self.items(entries, "locks"))
        phones = tuple(Phone(self.text(n, "phone id"), _line(n)) for n in self.items(entries, "phones"))
        seen: dict[str, str] = {}
        for kind, things in (("key", keys), ("lock", locks), ("phone", phones)):
            for thing in things:
                if thing.id in seen:
                    self.fail(thing.line, f"id {thing.id!r} is already used by a {seen[thing.id]}; ids must be unique")
                seen[thing.id] = kind
        self.groups = {lock.group for lock in locks if lock.group}
        climate = self.climate(entries["climate"][1]) if "climate" in entries and not self.is_null(entries["climate"][1]) else None
        return Site(keys, locks, phones, climate)

    def climate(self, node: Node) -> Climate:
        """`climate:` (keylock's addition): twelve monthly means or an annual mean and
        amplitude, a daily swing, cold snaps. See docs/scenarios.md."""
        f = self.fields(node, "climate", (), ("monthly_mean_C", "mean_C", "amplitude_K", "daily_swing_K", "cold_snaps"))
        if ("monthly_mean_C" in f) == ("mean_C" in f):
            self.fail(node, "climate: give either monthly_mean_C (12 values, January to December) or mean_C (with amplitude_K)")
        if "amplitude_K" in f and "mean_C" not in f:
            self.fail(f["amplitude_K"], "climate: amplitude_K goes with mean_C (monthly_mean_C already says it)")
        if "monthly_mean_C" in f:
            months = self.sequence(f["monthly_mean_C"], "climate monthly_mean_C")
            if len(months) != 12:
                self.fail(f["monthly_mean_C"], f"climate monthly_mean_C needs 12 values, January to December, not {len(months)}")
            means = tuple(self.weather(n, "a monthly mean") for n in months)
        else:
            mean = self.weather(f["mean_C"], "climate mean_C")
            amplitude = float(self.number(f["amplitude_K"], "climate amplitude_K", 0.0, 60.0)) if "amplitude_K" in f else 0.0
            means = self.converted_climate(node, from_annual, mean, amplitude)
        swing = float(self.number(f["daily_swing_K"], "climate daily_swing_K", 0.0, 50.0)) if "daily_swing_K" in f else 0.0
        snaps = []
        if "cold_snaps" in f and not self.is_null(f["cold_snaps"]):
            for n in self.sequence(f["cold_snaps"], "climate cold_snaps"):
                g = self.fields(n, "a cold snap", ("from", "to", "min_C"))
                first = self.converted(g["from"], "cold snap from", values.parse_date)
                last = self.converted(g["to"], "cold snap to", values.parse_date)
                if last < first:
                    self.fail(g["to"], f"a cold snap's to ({last}) is before its from ({first})")
                snaps.append(ColdSnap(first, last, self.weather(g["min_C"], "a cold snap's min_C")))
        return self.converted_climate(node, Climate, means, swing, tuple(snaps))

    def weather(self, node: Node, what: str) -> float:
        """An outdoor temperature [degC]: within what any inhabited site sees."""
        return float(self.number(node, what, -80.0, 60.0))

    def converted_climate(self, node: Node, make, *args):
        try:
            return make(*args)
        except ValueError as exc:
            self.fail(node, f"climate: {exc}")

    def items(self, entries, name) -> list[Node]:
        if name not in entries or self.is_null(entries[name][1]):
            return []
        return self.sequence(entries[name][1], f"site {name}")

    def key(self, node: Node, start) -> Key:
        f = self.mapping(
            node,
            "a key",
            required=("id",),
            optional=("holder", "id06", "id06_expires", "battery", "soc", "temperature_C", "state", "site"),
        )
        get = {name: v for name, (_k, v) in f.items()}
        expires = (
            self.converted(get["id06_expires"], "id06_expires", values.parse_date)
            if "id06_expires" in get
            else values.years_later(start.date(), 5)
        )
        return Key(
            id=self.text(get["id"], "key id"),
            holder=self.text(get["holder"], "holder") if "holder" in get else None,
            id06=self.text(get["id06"], "id06") if "id06" in get else None,
            id06_expires=expires,
            battery=self.choice(get["battery"], "battery", BATTERIES) if "battery" in get else "CR2032",
            soc=float(self.number(get["soc"], "soc", 0.0, 1.0)) if "soc" in get else 1.0,
            temperature_C=self.celsius(get["temperature_C"], "temperature_C") if "temperature_C" in get else 20.0,
            state=self.choice(get["state"], "state", KEY_SETUP_STATES) if "state" in get else "approved",
            site=self.text(get["site"], "site") if "site" in get else None,
            line=_line(node),
        )

    def lock(self, node: Node) -> Lock:
        f = self.mapping(node, "a lock", required=("id",), optional=("group", "kind", "temperature_C"))
        get = {name: v for name, (_k, v) in f.items()}
        return Lock(
            id=self.text(get["id"], "lock id"),
            group=self.text(get["group"], "group") if "group" in get else None,
            kind=self.choice(get["kind"], "kind", LOCK_KINDS) if "kind" in get else "cylinder",
            temperature_C=self.celsius(get["temperature_C"], "temperature_C") if "temperature_C" in get else 20.0,
            line=_line(node),
        )

    def celsius(self, node: Node, what: str) -> float:
        return float(self.number(node, what, _ABSOLUTE_ZERO_C, 1000.0))

    # -- references to the site --------------------------------------------------------------

    def ref(self, node: Node, kind: str) -> str:
        ids = [t.id for t in getattr(self.site, kind + "s")]
        value = self.text(node, kind)
        if value not in ids:
            known = f"the site's {kind}s: {_listing(ids)}" if ids else f"the site has no {kind}s"
            self.fail(node, f"unknown {kind} {value!r}{_suggest(value, ids)}; {known}")
        return value

    def group_ref(self, node: Node) -> str:
        value = self.text(node, "group")
        if value not in self.groups:
            known = f"groups: {_listing(sorted(self.groups))}" if self.groups else "no lock has a group"
            self.fail(node, f"no lock is in group {value!r}{_suggest(value, self.groups)}; {known}")
        return value

    # -- steps -------------------------------------------------------------------------------

    def step(self, index: int, node: Node, alone: bool = False) -> Step:
        """Step `index` of a file, or (`alone`) one step given by itself, whose errors then
        name the action, not a position."""
        what = "the step" if alone else f"step {index}"
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what} must be a mapping with one action, e.g. `- open: {{key: K1, lock: L1}}`")
        action_entries, expect_node = [], None
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else None
            if name == "expect":
                if expect_node is not None:
                    self.fail(key_node, f"{what}: 'expect' is given twice")
                expect_node = value_node
            elif name in EXPECT_FORMS:
                action_entries.append((key_node, value_node))
            else:
                shown = repr(name) if name is not None else "a list or mapping as a key"
                self.fail(key_node, f"{what}: unknown action {shown}{_suggest(name or '', ACTIONS)}; actions: {_listing(ACTIONS)}")
        if not action_entries:
            self.fail(node, f"{what} has no action; actions: {_listing(ACTIONS)}")
        if len(action_entries) > 1:
            self.fail(
                action_entries[1][0], f"{what} has two actions ({action_entries[0][0].value}, {action_entries[1][0].value}); one per step"
            )
        key_node, args_node = action_entries[0]
        action = key_node.value
        args = getattr(self, "args_" + action)(args_node, action if alone else f"{action} (step {index})")
        expect = self.expect(expect_node, action, args, None if alone else index) if expect_node is not None else None
        return Step(index=index, action=action, args=args, expect=expect, line=_line(key_node))

    def fields(self, node: Node, what: str, required=(), optional=()) -> dict[str, Node]:
        return {name: v for name, (_k, v) in self.mapping(node, what, required, optional).items()}

    def one_of(self, node: Node, f: dict, names: tuple[str, str], what: str) -> str:
        given = [n for n in names if n in f]
        if len(given) != 1:
            self.fail(node, f"{what}: give exactly one of {names[0]!r} or {names[1]!r}")
        return given[0]

    def targets(self, node, what, optional=()) -> tuple[dict, dict]:
        """`key` and `locks` or `groups`, for grant and revoke; also the other fields given."""
        f = self.fields(node, what, ("key",), ("locks", "groups") + optional)
        which = self.one_of(node, f, ("locks", "groups"), what)
        items = self.sequence(f[which], f"{what}: {which}")
        if not items:
            self.fail(f[which], f"{what}: {which} is empty")
        ids = tuple(self.ref(n, "lock") if which == "locks" else self.group_ref(n) for n in items)
        args = {"key": self.ref(f["key"], "key"), "locks": None, "groups": None}
        args[which] = ids
        return args, f

    def args_grant(self, node, what):
        args, f = self.targets(node, what, ("schedule",))
        args["schedule"] = self.schedule(f["schedule"]) if "schedule" in f else None
        return args

    def args_revoke(self, node, what):
        return self.targets(node, what)[0]

    def args_validate(self, node, what):
        f = self.fields(node, what, ("key",), ("phone", "online"))
        return {
            "key": self.ref(f["key"], "key"),
            "phone": self.ref(f["phone"], "phone") if "phone" in f else None,
            "online": self.boolean(f["online"], "online") if "online" in f else True,
        }

    def args_open(self, node, what):
        f = self.fields(node, what, ("key", "lock"), ("hold",))
        return {
            "key": self.ref(f["key"], "key"),
            "lock": self.ref(f["lock"], "lock"),
            "hold_s": self.duration(f["hold"], "hold") if "hold" in f else 2.0,
        }

    def key_and_lock(self, node, what):
        f = self.fields(node, what, ("key", "lock"))
        return {"key": self.ref(f["key"], "key"), "lock": self.ref(f["lock"], "lock")}

    args_insert = key_and_lock
    args_remove = key_and_lock

    def args_advance(self, node, what):
        return {"seconds": self.duration(node, what)}

    def key_only(self, node, what):
        return {"key": self.ref(self.fields(node, what, ("key",))["key"], "key")}

    args_block = key_only
    args_unblock = key_only

    def key_and_phone(self, node, what):
        f = self.fields(node, what, ("key", "phone"))
        return {"key": self.ref(f["key"], "key"), "phone": self.ref(f["phone"], "phone")}

    args_pair = key_and_phone
    args_unpair = key_and_phone

    def args_remove_battery(self, node, what):
        f = self.fields(node, what, ("key", "for"))
        return {"key": self.ref(f["key"], "key"), "for_s": self.duration(f["for"], "for")}

    def args_set_temperature(self, node, what):
        f = self.fields(node, what, ("celsius",), ("key", "lock", "part"))
        which = self.one_of(node, f, ("key", "lock"), what)
        if "part" in f and which != "lock":
            self.fail(f["part"], f"{what}: part applies to a lock (its body or keyhole)")
        return {
            "key": self.ref(f["key"], "key") if which == "key" else None,
            "lock": self.ref(f["lock"], "lock") if which == "lock" else None,
            "celsius": self.celsius(f["celsius"], "celsius"),
            "part": self.choice(f["part"], "part", PARTS) if "part" in f else None,
        }

    def args_set_battery(self, node, what):
        f = self.fields(node, what, ("key", "soc"))
        return {"key": self.ref(f["key"], "key"), "soc": float(self.number(f["soc"], "soc", 0.0, 1.0))}

    def args_status(self, node, what):
        f = self.fields(node, what, (), ("key", "lock"))
        which = self.one_of(node, f, ("key", "lock"), what)
        return {
            "key": self.ref(f["key"], "key") if which == "key" else None,
            "lock": self.ref(f["lock"], "lock") if which == "lock" else None,
        }

    def args_battery_report(self, node, what):
        if not self.is_null(node):
            self.fields(node, what)  # only `{}` is allowed: no arguments
        return {}

    def args_audit(self, node, what):
        f = self.fields(node, what, (), ("key", "lock", "last"))
        which = self.one_of(node, f, ("key", "lock"), what)
        return {
            "key": self.ref(f["key"], "key") if which == "key" else None,
            "lock": self.ref(f["lock"], "lock") if which == "lock" else None,
            "last": self.integer(f["last"], "last", 1) if "last" in f else None,
        }

    def schedule(self, node: Node) -> Schedule:
        f = self.fields(node, "schedule", (), ("days", "from", "to"))
        days = DAY_NAMES
        if "days" in f:
            day_nodes = self.sequence(f["days"], "schedule days")
            if not day_nodes:
                self.fail(f["days"], "schedule days is empty")
            days = tuple(self.choice(n, "a schedule day", DAY_NAMES) for n in day_nodes)
            if len(set(days)) != len(days):
                self.fail(f["days"], "schedule days: a day is listed twice")
        start = self.converted(f["from"], "schedule from", values.parse_time_of_day) if "from" in f else 0
        end = self.converted(f["to"], "schedule to", values.parse_time_of_day) if "to" in f else 24 * 60
        if start >= end:
            self.fail(node, "schedule: from must be before to (a schedule does not run past midnight)")
        return Schedule(days=days, from_min=start, to_min=end, line=_line(node))

    # -- expectations ------------------------------------------------------------------------

    def expect(self, node: Node, action: str, args: dict, index: int | None) -> Expect:
        forms = EXPECT_FORMS[action]
        what = f"expect of {action}" + (f" (step {index})" if index is not None else "")
        allowed = " or ".join(_FORM_TEXT[f] for f in forms)
        if not forms:
            self.fail(node, f"{action} takes no expect (it always succeeds)")
        if "fields" in forms:
            return self.expect_status(node, args, what)
        if "keys" in forms:
            return self.expect_report(node, what)
        if "events" in forms:
            return Expect(events=tuple(self.audit_event(n, what) for n in self.sequence(node, what)), line=_line(node))
        if isinstance(node, ScalarNode) and node.value in forms:
            return Expect(result=node.value, line=_line(node))
        if isinstance(node, MappingNode) and len(node.value) == 1 and isinstance(node.value[0][0], ScalarNode):
            form, value = node.value[0][0].value, node.value[0][1]
            if form == "denied" and form in forms:
                return Expect(result="denied", reason=self.choice(value, "denial reason", DENIAL_REASONS), line=_line(node))
            if form == "error" and form in forms:
                return Expect(result="error", code=self.choice(value, "error code", ERROR_CODES), line=_line(node))
        shown = node.value if isinstance(node, ScalarNode) else "this"
        self.fail(node, f"{what} must be {allowed}, not {shown}")

    def expect_report(self, node: Node, what: str) -> Expect:
        f = self.fields(node, what, (), ("keys", "at_risk"))
        if not f:
            self.fail(node, f"{what}: give keys, at_risk or both")
        keys = frozenset(self.ref(n, "key") for n in self.sequence(f["keys"], f"{what}: keys")) if "keys" in f else None
        at_risk: dict[str, date | None] | None = None
        if "at_risk" in f:
            risk = f["at_risk"]
            if isinstance(risk, MappingNode):  # {K1: 2026-01-08, K2: null}: each with its date (null: any)
                at_risk = {}
                for key_node, date_node in risk.value:
                    key = self.ref(key_node, "key")
                    if key in at_risk:
                        self.fail(key_node, f"{what}: at_risk names {key} twice")
                    at_risk[key] = None if self.is_null(date_node) else self.converted(date_node, "at_risk date", values.parse_date)
            else:
                at_risk = {self.ref(n, "key"): None for n in self.sequence(risk, f"{what}: at_risk")}
        return Expect(keys=keys, at_risk=at_risk, line=_line(node))

    def expect_status(self, node: Node, args: dict, what: str) -> Expect:
        names = KEY_STATUS_FIELDS if args["key"] is not None else LOCK_STATUS_FIELDS
        kind = "key" if args["key"] is not None else "lock"
        if isinstance(node, MappingNode) and not node.value:
            self.fail(node, f"{what}: name at least one {kind} status field: {_listing(names)}")
        wanted = {}
        for name, (_key_node, value_node) in self.mapping(node, f"{what} ({kind} status)", (), tuple(names)).items():
            wanted[name] = self.status_value(value_node, name, names[name])
        return Expect(fields=wanted, line=_line(node))

    def status_value(self, node: Node, name: str, kind: str):
        if kind == "bool":
            return self.boolean(node, name)
        if kind == "int":
            return self.integer(node, name)
        if kind == "number":
            return self.number(node, name)
        if self.is_null(node):  # valid_until and paired_phone may be null
            return None
        if kind == "time":
            return self.converted(node, name, values.parse_time, self.tz)
        return self.ref(node, "phone")

    def audit_event(self, node: Node, what: str) -> ScenarioEvent:
        f = self.fields(node, f"{what}: an event", ("key",), ("result", "denied"))
        key = self.ref(f["key"], "key")
        if ("result" in f) == ("denied" in f):
            self.fail(node, f"{what}: an event has either result (granted or denied) or denied: REASON")
        if "denied" in f:
            return ScenarioEvent(key, "denied", self.choice(f["denied"], "denial reason", DENIAL_REASONS), _line(node))
        return ScenarioEvent(key, self.choice(f["result"], "result", ("granted", "denied")), None, _line(node))


def _construct(node: ScalarNode):
    """YAML's own reading of an int, float or bool scalar (0x1F, 1_000, .5, yes)."""
    try:
        return SafeConstructor().construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        return None
