# Both firmware apps fuzzed on both links in every transaction state (benchmarks/fuzz_apps_core.py):
# nothing raises, every reply is a frame, the motor moves only for a credential the server signed
# for the lock's compartment, a lock adopts only blocklists signed for its compartment, and every
# audit batch is good evidence. A short run here; `keylock bench fuzz_apps` is the campaign. Runs
# on CPython and on MicroPython.
import sys

try:
    from keylock.benchmarks import fuzz_apps_core as core
except ImportError:  # MicroPython: tests/firmware/test_on_micropython.py puts benchmarks/ on the path
    sys.path.append("/kl_bench")  # the WebAssembly port's mount; the unix port's path is set already
    import fuzz_apps_core as core

try:
    from keylock_fw import codec, crypto, key_app, lock_app, signed
except ImportError:
    from keylock.firmware import codec, crypto, key_app, lock_app, signed

FRAMES = 3000  # about 1 s on CPython, 5 s on MicroPython (WebAssembly)
SEED = 1
_RUN = {}


def campaign():
    if "r" not in _RUN:
        _RUN["r"] = core.run(frames=FRAMES, seed=SEED)
    return _RUN["r"]


def show(examples):
    return "\n".join(str(e) for e in examples)


def test_both_apps_never_raise_on_any_input_in_any_state():
    r = campaign()
    assert r["frames"] >= FRAMES
    assert r["escaped"] == 0, "%s\n%s" % (r["escaped_by"], show(r["examples"]))


def test_the_motor_moves_only_for_a_valid_grant():
    r = campaign()
    assert r["unauthorised_pulses"] == 0, show(r["unauthorised_examples"])
    assert r["accepted_bad_proofs"] == 0, show(r["unauthorised_examples"])
    assert r["authorised_pulses"] > 0 and r["pulses"] == r["authorised_pulses"]  # grants happened: the oracle was asked


def test_a_lock_adopts_only_blocklists_signed_for_its_compartment():
    r = campaign()
    assert r["accepted_bad_blocklists"] == 0, show(r["unauthorised_examples"])
    assert r["coverage"].get("lock.blocklist:this_compartment", 0) > 0  # adoptions happened: the oracle was asked


def test_every_audit_batch_is_good_evidence():
    r = campaign()
    assert r["bad_evidence"] == 0, show(r["unauthorised_examples"])


def test_every_reply_is_one_well_formed_frame():
    r = campaign()
    assert r["malformed_replies"] == 0, show(r["malformed_examples"])


def test_every_state_of_both_apps_on_both_links_was_fuzzed():
    cov = campaign()["coverage"]
    wanted = ["key.on_lock_frame:" + s for s in core.KEY_STATES]
    wanted += ["lock.on_key_frame:" + s for s in core.LOCK_STATES + ("unprovisioned",)]
    wanted += ["key.begin:idle"]
    wanted += [role + ".on_host_frame:" + s for role in ("key", "lock") for s in ("provisioned", "unprovisioned")]
    missing = [label for label in wanted if cov.get(label, 0) < 3]
    assert not missing, (missing, cov)


def test_the_new_inputs_reached_the_apps():
    cov = campaign()["coverage"]
    wanted = [
        "lock.credential:other_compartment",  # signed for another compartment (this site's or another's), or relabelled
        "lock.credential:this_compartment",
        "lock.blocklist:other_compartment",
        "key.on_lock_frame:no_compartment",  # a key of another compartment: no PROOF sent
        "lock.proof_burst",
        "lock.on_key_frame:audit_read_max_count_0",
        "key.on_host_frame:audit_read_max_count_0",
        "lock.on_host_frame:audit_read_max_count_0",
    ]
    missing = [label for label in wanted if cov.get(label, 0) < 2]
    assert not missing, (missing, cov)


def test_a_seed_is_a_whole_run():
    a = core.run(frames=400, seed=5)
    b = core.run(frames=400, seed=5)
    for k in ("seconds", "frames_per_s"):
        a.pop(k)
        b.pop(k)
    assert a == b


# --- the oracle has teeth: sabotaged apps are caught -----------------------------------------


class PulsingLock(lock_app.LockApp):
    """Moves the motor on every HELLO and every host frame."""

    def on_key_frame(self, raw):
        if len(raw) > 3 and raw[3] == codec.T_HS_HELLO:
            self.dev.motor_pulse()
        return lock_app.LockApp.on_key_frame(self, raw)

    def on_host_frame(self, raw):
        self.dev.motor_pulse()
        return lock_app.LockApp.on_host_frame(self, raw)


class CredulousLock(lock_app.LockApp):
    """Decides as the real lock does, but forgets to check the server's MAC on the credential."""

    def _check(self, key_time, cred):
        if cred["key_id"] != self._key_id:
            return codec.DENIAL_AUTH_FAILED
        return codec.DENIAL_NONE


class SiteWideLock(lock_app.LockApp):
    """Decides as the real lock does, but takes a credential the server signed for any
    compartment of the site, as a lock holding the server's master secret would."""

    def _check(self, key_time, cred):
        for compartment in (core.MAIN, core.SOLO):
            server = crypto.server_key(crypto.HmacKey(core.compartment_secret(core.MASTER, compartment)))
            if signed.credential_ok(server, compartment, cred):
                mine = self._server, self.compartment
                self._server, self.compartment = server, compartment
                try:
                    return lock_app.LockApp._check(self, key_time, cred)
                finally:
                    self._server, self.compartment = mine
        return lock_app.LockApp._check(self, key_time, cred)


class ListlessLock(lock_app.LockApp):
    """Adopts any newer blocklist without checking the server's MAC."""

    def _adopt_blocklist(self, payload):
        version, count, _macs = signed.blocklist_layout(payload)
        if version <= self.blocklist_version:
            return codec.ERR_STALE
        self.store.put("blocklist", payload)
        self.blocklist_version, self.blocklist_size = version, count
        return codec.ERR_OK


class CarelessLock(lock_app.LockApp):
    """MACs its audit records under its compartment's secret instead of its own."""

    def _load(self):
        lock_app.LockApp._load(self)
        if self.cfg:
            self._own = self.dev.secure.key(b"compartment")


class ForgetfulLock(lock_app.LockApp):
    """Never turns the failed PROOFs it counted into a record."""

    def _report_failures(self):
        pass


class TattlingKey(key_app.KeyApp):
    """Hands out what it carries without its own MAC on the batch."""

    def _carried_batch(self, from_seq, max_count):
        batch = key_app.KeyApp._carried_batch(self, from_seq, max_count)
        batch["mac"] = bytes(8)
        return batch


class FragileKey(key_app.KeyApp):
    """Raises on every ACCEPT it is given."""

    def on_lock_frame(self, raw):
        if len(raw) > 3 and raw[3] == codec.T_HS_ACCEPT:
            raise ValueError("fragile")
        return key_app.KeyApp.on_lock_frame(self, raw)


def test_a_pulse_without_a_session_or_outside_the_key_link_is_caught():
    r = core.run(frames=800, seed=SEED, lock_cls=PulsingLock)
    whys = [e["why"] for e in r["unauthorised_examples"]]
    assert r["unauthorised_pulses"] > 0
    assert "no authenticated session carried the frame" in whys, whys
    assert "motor pulse outside the key link" in whys, whys


NOT_FOR_THIS_COMPARTMENT = "no server MAC for the lock's compartment holds on the credential"


def test_a_grant_on_a_credential_the_server_did_not_sign_is_caught():
    assert hasattr(lock_app.LockApp, "_check")  # CredulousLock overrides it
    r = core.run(frames=FRAMES, seed=SEED, lock_cls=CredulousLock)
    whys = [e["why"] for e in r["unauthorised_examples"]]
    assert r["unauthorised_pulses"] > 0
    assert NOT_FOR_THIS_COMPARTMENT in whys, whys


def test_a_grant_on_a_credential_signed_for_another_compartment_is_caught():
    r = core.run(frames=FRAMES, seed=SEED, lock_cls=SiteWideLock)
    whys = [e["why"] for e in r["unauthorised_examples"]]
    assert r["unauthorised_pulses"] > 0
    assert set(whys) == {NOT_FOR_THIS_COMPARTMENT}, whys


def test_a_lock_that_adopts_an_unsigned_blocklist_is_caught():
    assert hasattr(lock_app.LockApp, "_adopt_blocklist")  # ListlessLock overrides it
    r = core.run(frames=FRAMES, seed=SEED, lock_cls=ListlessLock)
    whys = [e["why"] for e in r["unauthorised_examples"]]
    assert r["accepted_bad_blocklists"] > 0
    assert "the lock adopted a blocklist not signed for its compartment" in whys, whys


def test_records_without_their_locks_mac_are_caught():
    r = core.run(frames=1500, seed=SEED, lock_cls=CarelessLock)
    whys = [e["why"] for e in r["unauthorised_examples"]]
    assert r["bad_evidence"] > 0 and r["unauthorised_pulses"] == 0
    assert "a record without its lock's MAC" in whys, whys


def test_failed_proofs_that_never_reach_a_record_are_caught():
    assert hasattr(lock_app.LockApp, "_report_failures")  # ForgetfulLock overrides it
    r = core.run(frames=FRAMES, seed=SEED, lock_cls=ForgetfulLock)
    whys = [e["why"] for e in r["unauthorised_examples"]]
    assert r["bad_evidence"] > 0
    assert any(" failed PROOFs, then a decision whose first record is " in w for w in whys), whys


def test_a_key_batch_without_the_keys_mac_is_caught():
    assert hasattr(key_app.KeyApp, "_carried_batch")  # TattlingKey overrides it
    r = core.run(frames=1500, seed=SEED, key_cls=TattlingKey)
    whys = [e["why"] for e in r["unauthorised_examples"]]
    assert r["bad_evidence"] > 0
    assert "a key's batch without its MAC" in whys, whys


def test_an_exception_is_caught_counted_and_reported_with_its_input():
    r = core.run(frames=800, seed=SEED, key_cls=FragileKey)
    assert r["frames"] >= 800  # the run went on
    assert r["escaped"] > 0
    assert r["escaped_by"].get("key.on_lock_frame proof ValueError", 0) > 0, r["escaped_by"]  # where an ACCEPT is due
    for e in r["examples"]:
        assert (e["where"], e["type"], e["message"]) == ("key.on_lock_frame", "ValueError", "fragile"), e
        assert bytes.fromhex(e["input"])[3] == codec.T_HS_ACCEPT  # the input that raised, to replay
        assert "on_lock_frame" in e["at"] and e["seed"] == SEED and 0 < e["frame"] <= r["frames"]
