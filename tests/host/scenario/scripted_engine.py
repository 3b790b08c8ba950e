"""An Engine that answers from a table instead of emulating: for testing the runner, the CLI
and the plugin before (and independently of) the emulator.

TABLES maps a scenario name to {step index: StepResult}; a step not in the table succeeds
(granted for open/insert, ok otherwise). `make` is the factory, "scripted_engine:make".
"""

from keylock.host.scenario.engine import Engine, StepResult

TABLES: dict[str, dict[int, StepResult]] = {}
CREATED: list["ScriptedEngine"] = []  # every engine made, to check runtime and calls


def make(runtime, scenario):
    engine = ScriptedEngine(runtime, TABLES.get(scenario.name if scenario else "", {}))
    CREATED.append(engine)
    return engine


class ScriptedEngine(Engine):
    def __init__(self, runtime="cpython", table=None):
        self.runtime = runtime
        self.table = table or {}
        self.calls: list[tuple[str, dict]] = []
        self.scenario = None
        self.closed = False

    def answer(self, action, args):
        self.calls.append((action, args))
        outcome = self.table.get(len(self.calls))
        if outcome is not None:
            return outcome
        return StepResult(result="granted" if action in ("open", "insert") else "ok")

    def setup(self, scenario):
        self.scenario = scenario

    def summary(self):
        return {"battery_soc": {"K1": 0.5}}

    def close(self):
        self.closed = True

    def grant(self, **args):
        return self.answer("grant", args)

    def revoke(self, **args):
        return self.answer("revoke", args)

    def validate(self, **args):
        return self.answer("validate", args)

    def open(self, **args):
        return self.answer("open", args)

    def insert(self, **args):
        return self.answer("insert", args)

    def remove(self, **args):
        return self.answer("remove", args)

    def advance(self, **args):
        return self.answer("advance", args)

    def block(self, **args):
        return self.answer("block", args)

    def unblock(self, **args):
        return self.answer("unblock", args)

    def pair(self, **args):
        return self.answer("pair", args)

    def unpair(self, **args):
        return self.answer("unpair", args)

    def remove_battery(self, **args):
        return self.answer("remove_battery", args)

    def set_temperature(self, **args):
        return self.answer("set_temperature", args)

    def set_battery(self, **args):
        return self.answer("set_battery", args)

    def status(self, **args):
        return self.answer("status", args)

    def battery_report(self, **args):
        return self.answer("battery_report", args)

    def audit(self, **args):
        return self.answer("audit", args)
