"""The scenario Engine (host/scenario/engine.py) on an EmulatedSite."""

import datetime as dt
import secrets

from ...protocol.codes import Denial, KeyFlag, Outcome
from ..render import iso_time
from ..scenario.engine import Engine, StepResult
from ..scenario.model import ScenarioEvent
from .site import EmulatedSite


class SiteEngine(Engine):
    def __init__(self, runtime):
        self.runtime = runtime
        self.site: EmulatedSite | None = None
        self.energy_J: list[float] = []

    @property
    def s(self) -> EmulatedSite:
        assert self.site is not None, "setup() first"
        return self.site

    def setup(self, scenario):
        self.site = EmulatedSite(self.runtime, start_s=int(scenario.start.timestamp()), timezone=scenario.timezone)
        if scenario.site.climate is not None:
            self.s.server.set_climate(scenario.site.climate)
        for phone in scenario.site.phones:
            self.s.server.add_phone(phone.id)
        for lock in scenario.site.locks:
            self.s.add_lock(lock.id, group=lock.group, kind=lock.kind, temperature_C=lock.temperature_C)
        for key in scenario.site.keys:
            expires = None
            if key.id06_expires is not None:
                expires = int(dt.datetime.combine(key.id06_expires, dt.time(), dt.UTC).timestamp())
            self.s.add_key(
                key.id,
                holder=key.holder,
                id06=key.id06,
                id06_expires_s=expires,
                battery=key.battery,
                soc=key.soc,
                temperature_C=key.temperature_C,
                state=key.state,
                other_site_secret=secrets.token_bytes(32) if key.site else None,
            )

    # --- server actions -----------------------------------------------------------------

    def grant(self, key, locks=None, groups=None, schedule=None):
        self.s.server.grant(key, locks=list(locks) if locks else None, groups=list(groups) if groups else None, schedule=schedule)
        return StepResult()

    def revoke(self, key, locks=None, groups=None):
        self.s.server.revoke(key, locks=list(locks) if locks else None, groups=list(groups) if groups else None)
        return StepResult()

    def block(self, key):
        self.s.server.block(key)
        return StepResult()

    def unblock(self, key):
        self.s.server.unblock(key)
        return StepResult()

    def validate(self, key, phone=None, online=True):
        code = self.s.validate(key, phone=phone, online=online)
        return StepResult() if code is None else StepResult(result="error", code=code)

    def battery_report(self):
        server = self.s.server
        return StepResult(keys=list(server.battery_report()), at_risk={r.key: r.fails_on.isoformat() for r in server.battery_at_risk()})

    # --- device actions -----------------------------------------------------------------

    def _opening(self, key, opening):
        if opening.outcome == Outcome.DENIED and opening.reason == Denial.NOT_VALIDATED and self.s.server.key_info(key).state != "approved":
            reason = "not_activated"  # it has no credential because its life cycle is incomplete
        else:
            reason = opening.reason.name.lower()
        self.energy_J.append(opening.energy_J)
        details = {"energy_J": round(opening.energy_J, 5), "soc": round(self.s.keys[key].soc, 4), "time": iso_time(int(self.s.now_s))}
        if opening.outcome == Outcome.GRANTED:
            return StepResult(result="granted", details=details)
        return StepResult(result="denied", reason=reason, details=details)

    def open(self, key, lock, hold_s=None):
        return self._opening(key, self.s.open(key, lock, hold_s=hold_s))

    def insert(self, key, lock):
        return self._opening(key, self.s.insert(key, lock))

    def remove(self, key, lock=None):
        self.s.remove(key)
        return StepResult()

    def advance(self, seconds):
        self.s.advance(seconds)
        return StepResult(details={f"soc_{k}": round(state.soc, 4) for k, state in self.s.keys.items()})

    def pair(self, key, phone):
        code = self.s.pair(key, phone)
        return StepResult() if code is None else StepResult(result="error", code=code)

    def unpair(self, key, phone):
        code = self.s.unpair(key, phone)
        return StepResult() if code is None else StepResult(result="error", code=code)

    def remove_battery(self, key, for_s):
        self.s.remove_battery(key, for_s)
        return StepResult()

    def set_temperature(self, celsius, key=None, lock=None, part=None):
        self.s.set_temperature(celsius, key=key, lock=lock, part=part)
        return StepResult()

    def set_battery(self, key, soc):
        self.s.set_battery(key, soc)
        return StepResult()

    def status(self, key=None, lock=None):
        if key is not None:
            st = self.s.key_status(key)
            fields = {
                "battery_low": bool(st["flags"] & KeyFlag.BATTERY_LOW),
                "soc": st["soc_permille"] / 1000,
                "validated": bool(st["flags"] & KeyFlag.VALIDATED),
                "valid_until": iso_time(st["valid_until"]) if st["valid_until"] else None,
                "paired_phone": self.s.server.phone_name(st["paired_phone"]) if st["paired_phone"] else None,
                "clock_set": bool(st["flags"] & KeyFlag.CLOCK_SET),
            }
        else:
            st = self.s.lock_status(lock)
            fields = {
                "blocklist_version": st["blocklist_version"],
                "blocklist_size": st["blocklist_size"],
                "events": st["events"],
                "temperature_C": st["temperature_dC"] / 10,
            }
        return StepResult(fields=fields)

    def audit(self, key=None, lock=None, last=None):
        records = self.s.key_audit(key) if key is not None else self.s.lock_audit(lock)
        if last:
            records = records[-last:]
        events = []
        for r in records:
            name = self._key_name(r["key_id"])
            if r["outcome"] == Outcome.GRANTED:
                events.append(ScenarioEvent(key=name, result="granted"))
            else:
                events.append(ScenarioEvent(key=name, result="denied", reason=Denial(r["reason"]).name.lower()))
        return StepResult(events=events)

    def _key_name(self, key_id):
        try:
            return self.s.server.key_name(key_id)
        except ValueError:  # a foreign key: only its id is known
            return str(key_id)

    def summary(self):
        site = self.s
        return {
            "battery_soc": {k: round(state.soc, 4) for k, state in site.keys.items()},
            "energy_per_opening_J": round(sum(self.energy_J) / len(self.energy_J), 5) if self.energy_J else None,
            "virtual_time": iso_time(int(site.now_s)),
        }

    def close(self):
        if self.site is not None:
            self.site.close()
            self.site = None
