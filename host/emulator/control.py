"""The emulated world from outside: what `keylock site ...` asks a running `keylock emulate`.

A control connection on the hub port (`CONTROL` instead of `ATTACH NAME`, then one JSON
object per line each way) carries requests such as

    {"op": "step", "step": "{open: {key: K1, lock: L1}, expect: granted}"}
    {"op": "key_add", "name": "K3", "holder": "Anna Berg", "blank": true}

Every scenario step is one `step` request: its YAML is read by the scenario parser against
the served site (the same checks, defaults and meanings as in a file) and run by the same
SiteEngine `keylock scenario run` uses, so a scenario driven step by step from the command
line gets the outcomes the runner gets. The other requests build the site (holders, keys,
locks, phones, blank devices to provision from outside), read the server's audit trail for a
stated reason, and tell the site's time.

Bad input is answered {"ok": false, "error": "...", "exit_code": 2} and changes nothing:
every request is checked in full before it acts. Runs on the serving thread.
"""

import datetime as dt
from collections.abc import Callable

from ...hw_models.params import battery_by_name
from ..render import iso_time
from ..scenario import report
from ..scenario.model import KEY_SETUP_STATES, LOCK_KINDS, Key, Lock, Phone, ScenarioError, Site
from ..scenario.parse import parse_step
from ..scenario.runner import StepReport, default_expect, mismatch
from ..scenario.values import parse_date
from ..server import check_name
from .engine import SiteEngine


class ControlError(Exception):
    """A request that cannot be done; nothing was changed."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class SiteControl:
    def __init__(self, engine: SiteEngine, serve: Callable[[str], dict], clock: Callable[[], dict]):
        self.engine = engine
        self.site = engine.s
        self._serve = serve  # serve(name) -> the new device's endpoints
        self._clock = clock  # the clock as the hub announces it

    def handle(self, request) -> dict:
        """One request's answer; never raises for anything a client can send."""
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            return _refusal("a request is a JSON object with an `op`")
        handler = getattr(self, "op_" + request["op"], None)
        if handler is None:
            ops = ", ".join(name[3:] for name in dir(self) if name.startswith("op_"))
            return _refusal(f"unknown op {request['op']!r}; ops: {ops}")
        try:
            return {"ok": True, **handler(request)}
        except ControlError as exc:
            return {"ok": False, "error": str(exc), "exit_code": exc.exit_code}
        except ScenarioError as exc:
            return _refusal(exc.reason)
        except (ValueError, TypeError, KeyError) as exc:
            return _refusal(str(exc).strip("'\""))

    # --- the scenario's steps -----------------------------------------------------------

    def _model(self) -> Site:
        """The served site as the scenario parser checks references against it."""
        return Site(
            keys=tuple(Key(id=name) for name in self.site.keys),
            locks=tuple(Lock(id=name) for name in self.site.locks),
            phones=tuple(Phone(id=name) for name in self.site.server.names("phones")),
        )

    def op_step(self, request) -> dict:
        text = request.get("step")
        if not isinstance(text, str):
            raise ControlError("a step request carries the step as YAML text in `step`")
        step = parse_step(text, self._model(), self.site.server.timezone, groups=self.site.server.names("groups"))
        outcome = getattr(self.engine, step.action)(**step.args)
        expected = default_expect(step)
        step_report = StepReport(step, outcome, expected, mismatch(step, expected, outcome))
        answer = report.step_json(step_report, "")
        del answer["scenario"], answer["index"], answer["line"], answer["type"]
        answer["fields"] = report.jsonable(outcome.fields)
        answer["keys"] = report.jsonable(outcome.keys)
        answer["at_risk"] = report.jsonable(outcome.at_risk)
        answer["events"] = report.jsonable(outcome.events)
        answer["time"] = iso_time(int(self.site.now_s))
        return answer

    # --- building the site --------------------------------------------------------------

    def _free(self, table: str, name) -> str:
        name = check_name(name, f"{table[:-1]} name")
        if name in self.site.server.names(table) or name in self.site.keys or name in self.site.locks:
            raise ControlError(f"the site already has a {table[:-1]} or device named {name!r}")
        return name

    def _card_expiry_s(self, request) -> int:
        text = request.get("id06_expires")
        if text is None:
            return self.site.default_card_expiry_s()
        day = parse_date(str(text))
        return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())

    def op_holder_add(self, request) -> dict:
        name = self._free("holders", request.get("name"))
        id06 = check_name(request.get("id06") or f"ID06-{name}", "ID06 card number")
        self.site.add_holder(name, id06, self._card_expiry_s(request))
        return {"holder": name, "id06": id06}

    def op_key_add(self, request) -> dict:
        name = self._free("keys", request.get("name"))
        holder = check_name(request.get("holder") or name, "holder name")
        new_holder = holder not in self.site.server.names("holders")
        if new_holder and request.get("id06") is not None:
            check_name(request["id06"], "ID06 card number")
        battery = request.get("battery") or "CR2032"
        battery_by_name(battery)
        soc = _number(request.get("soc", 1.0), "soc", 0.0, 1.0)
        temperature_C = _number(request.get("temperature_C", 20.0), "temperature_C", -273.15, 1000.0)
        state = request.get("state") or "approved"
        if state not in KEY_SETUP_STATES:
            raise ControlError(f"state is one of {', '.join(KEY_SETUP_STATES)}, not {state!r}")
        blank = bool(request.get("blank"))
        expires_s = self._card_expiry_s(request) if new_holder else None
        fields = self.site.add_key(
            name,
            holder=holder,
            id06=request.get("id06"),
            id06_expires_s=expires_s,
            battery=battery,
            soc=soc,
            temperature_C=temperature_C,
            state=state,
            blank=blank,
        )
        return self._added(name, "key", fields, blank)

    def op_lock_add(self, request) -> dict:
        name = self._free("locks", request.get("name"))
        group = request.get("group")
        if group is not None:
            group = check_name(group, "group name")
        kind = request.get("kind") or "cylinder"
        if kind not in LOCK_KINDS:
            raise ControlError(f"kind is one of {', '.join(LOCK_KINDS)}, not {kind!r}")
        temperature_C = _number(request.get("temperature_C", 20.0), "temperature_C", -273.15, 1000.0)
        blank = bool(request.get("blank"))
        fields = self.site.add_lock(name, group=group, kind=kind, temperature_C=temperature_C, blank=blank)
        return self._added(name, "lock", fields, blank)

    def _added(self, name: str, role: str, fields: dict, blank: bool) -> dict:
        answer = {"device": name, "role": role, "id": fields["device_id"], "blank": blank, "endpoints": self._serve(name)}
        if blank:  # what a provisioning session from outside must send it
            answer["provision"] = {
                "role": role,
                "id": fields["device_id"],
                "secret": fields["secret"].hex(),
                "groups": list(fields["groups"]),
                "compartment_secret": fields["compartment_secret"].hex() if role == "lock" else None,
                "epoch": fields["epoch"] if role == "lock" else None,
            }
        return answer

    def op_phone_add(self, request) -> dict:
        name = self._free("phones", request.get("name"))
        return {"phone": name, "id": self.site.server.add_phone(name)}

    # --- reading ------------------------------------------------------------------------

    def op_server_audit(self, request) -> dict:
        lock, key = request.get("lock"), request.get("key")
        if lock is None and key is None:
            raise ControlError("name a lock or a key")
        last = request.get("last")
        events = self.site.server.audit(lock=lock, key=key, reason=request.get("reason"), by=request.get("by") or "keylock site", last=last)
        return {
            "events": [
                {
                    "seq": e.seq,
                    "epoch": e.epoch,
                    "time": iso_time(int(e.time)),
                    "key": e.key or str(e.key_id),
                    "lock": e.lock or str(e.lock_id),
                }
                | {"result": e.result, "denied": e.denied, "count": e.count}
                for e in events
            ]
        }

    def op_time(self, request) -> dict:
        return {"time": iso_time(int(self.site.now_s)), "unix_s": self.site.now_s, "clock": self._clock()}

    def op_devices(self, request) -> dict:
        return {"devices": {name: self._serve(name) for name in [*self.site.keys, *self.site.locks]}}


def _refusal(message: str) -> dict:
    return {"ok": False, "error": message, "exit_code": 2}


def _number(value, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ControlError(f"{what} is a number from {low:g} to {high:g}, not {value!r}")
    return float(value)
