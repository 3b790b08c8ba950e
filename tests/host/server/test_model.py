# Random sequences of operations against a small model of the server: the blocklist version
# counts real changes, validation refuses with the model's code (precedence included), the
# credential names exactly the granted targets, and the battery report matches.
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from server_testkit import DAY_S, START_S, YEAR_S, Clock

from keylock.host.server import AccessServer, ServerError

KEYS = ["K0", "K1", "K2"]
LOCKS = ["L0", "L1"]
GROUPS = ["g0"]


class ServerModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.clock = Clock()
        self.server = AccessServer.create(":memory:", now_s=self.clock, timezone="Europe/Helsinki")
        self.server.add_holder("H0", "C0", START_S + YEAR_S)
        self.server.add_holder("H1", "C1", START_S + 20 * DAY_S)  # expires during the run
        self.holder = {"K0": "H0", "K1": "H1", "K2": "H0"}
        self.state = {"K0": "approved", "K1": "approved", "K2": "issued"}
        for key in KEYS:
            self.server.add_key(key, self.holder[key], state=self.state[key])
        self.server.add_lock("L0", group="g0")
        self.server.add_lock("L1")
        self.blocked, self.version, self.grants, self.soc = set(), 0, {k: set() for k in KEYS}, {}

    def teardown(self):
        self.server.close()

    @rule(key=st.sampled_from(KEYS))
    def block(self, key):
        self.version += key not in self.blocked
        self.blocked.add(key)
        assert self.server.block(key) == self.version

    @rule(key=st.sampled_from(KEYS))
    def unblock(self, key):
        self.version += key in self.blocked
        self.blocked.discard(key)
        assert self.server.unblock(key) == self.version

    @rule(key=st.sampled_from(KEYS), lock=st.sampled_from(LOCKS + GROUPS), scheduled=st.booleans())
    def grant(self, key, lock, scheduled):
        sched = {"days": ["mon", "sun"], "from": "22:00", "to": "02:00"} if scheduled else None
        kw = {"groups": [lock]} if lock in GROUPS else {"locks": [lock]}
        self.server.grant(key, schedule=sched, **kw)
        self.grants[key].add(lock)

    @rule(key=st.sampled_from(KEYS), lock=st.sampled_from(LOCKS + GROUPS))
    def revoke(self, key, lock):
        kw = {"groups": [lock]} if lock in GROUPS else {"locks": [lock]}
        if lock in self.grants[key]:
            self.server.revoke(key, **kw)
            self.grants[key].discard(lock)
        else:
            with pytest.raises(ValueError):
                self.server.revoke(key, **kw)

    @rule(key=st.sampled_from(KEYS))
    def life_cycle(self, key):
        if self.state[key] == "issued":
            self.server.sign_receipt(key)
            self.state[key] = "receipt_signed"
        elif self.state[key] == "receipt_signed":
            self.server.approve(key)
            self.state[key] = "approved"

    @rule(days=st.integers(0, 9))
    def advance(self, days):
        self.clock.advance(days * DAY_S)

    @rule(key=st.sampled_from(KEYS), soc=st.floats(0, 1), online=st.booleans())
    def validate(self, key, soc, online):
        expected = None
        if not online:
            expected = "offline"
        elif key in self.blocked:
            expected = "blocked"
        elif self.holder[key] == "H1" and self.clock.now_s >= START_S + 20 * DAY_S:
            expected = "card_expired"
        elif self.state[key] == "issued":
            expected = "not_activated"
        elif self.state[key] == "receipt_signed":
            expected = "unapproved"
        if online:
            self.soc[key] = soc
        try:
            v = self.server.validate(key, online=online, soc=soc)
        except ServerError as exc:
            assert exc.code == expected
            return
        assert expected is None
        targets = {(r["kind"], r["target"]) for r in v.credential["rights"]}
        names = {("g0" if kind else self.server.lock_name(t)) for kind, t in targets}
        assert names == self.grants[key]
        assert v.credential["blocklist_version"] == self.version

    @invariant()
    def blocklist_and_battery_match(self):
        update = self.server.blocklist()
        assert update["version"] == self.version
        assert sorted(update["key_ids"]) == sorted(self.server.key_id(k) for k in self.blocked)
        assert self.server.battery_report() == sorted(k for k, soc in self.soc.items() if soc <= 0.15)


TestServerModel = ServerModel.TestCase
TestServerModel.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
