"""The power-cut campaign (benchmarks/powercut.py): every write of every flow cut with each tear
model on CPython, second cuts in the retries, a sample on MicroPython, and negative controls:
storage built the classic wrong ways, which the campaign must flag, each by its invariant.
Speeds go to benchmarks/RESULTS.md, never asserted here."""

import json

import pytest

from keylock.benchmarks import powercut
from keylock.benchmarks.powercut_flows import FLOWS
from keylock.firmware import flash, storage
from keylock.firmware.flash import TEARS

ALL_HELD = ("corrupted_stores", "unrecorded_motor_runs", "lost_acknowledged_events", "site_broken", "missed_cuts")


def assert_all_held(r):
    assert powercut.findings(r) == 0, powercut.report(r)
    assert all(r[k] == 0 for k in ALL_HELD) and r["baseline_findings"] == []


def test_main_runs_a_tiny_campaign_and_prints_json(capsys):
    rc = powercut.main(["--cuts", "6", "--depth", "1", "--flow", "opening_granted", "--tear", "bits", "--seed", "3", "--json"])
    captured = capsys.readouterr()
    r = json.loads(captured.out)
    assert rc == 0 and r["cuts"] == 6 and r["runs"] == 6 and r["runtime"] == "cpython"
    assert r["cuts_by_tear"] == {"bits": 6} and set(r["cuts_by_flow"]) == {"opening_granted"}
    assert set(r["cuts_by_flow_device"]) == {"opening_granted/lock", "opening_granted/key"}  # interleaved: both sampled
    assert r["writes"]["opening_granted"]["L1"] >= 3 and r["writes"]["opening_granted"]["K1"] >= 2
    assert_all_held(r)
    assert "cpython: 6 cuts in 6 runs" in captured.err  # the progress line, on stderr


def test_the_report_names_the_figures(capsys):
    assert powercut.main(["--cuts", "2", "--depth", "1", "--flow", "validation", "--tear", "clean"]) == 0
    out = capsys.readouterr().out
    for words in ("corrupted stores 0", "unrecorded motor runs 0", "lost acknowledged events 0", "site broken 0", "validation/key"):
        assert words in out


def test_bad_arguments_are_refused():
    for argv in (["--cuts", "0"], ["--tear", "melted"], ["--flow", "nothing"], ["--depth", "3"]):
        with pytest.raises(SystemExit) as e:
            powercut.main(argv)
        assert e.value.code == 2


def test_only_deterministic_tears_stop_when_all_were_made():
    r = powercut.campaign(cuts=10_000, tears=("clean",), depth=1, flows=("validation",))
    assert r["cuts"] == r["writes"]["validation"]["K1"] and r["rounds"] == 1  # no round repeats them
    assert_all_held(r)


@pytest.mark.slow
def test_every_write_of_every_flow_with_every_tear_on_cpython():
    r = powercut.campaign(cuts=100_000, depth=1, rounds=1)
    assert_all_held(r)
    assert set(r["writes"]) == set(FLOWS)
    for flow, writes in r["writes"].items():
        for device, n in writes.items():
            assert n > 0, (flow, device)
            role = "lock" if device == "L1" else "key"
            assert r["cuts_by_flow_device"][f"{flow}/{role}"] == n * len(TEARS), (flow, device)
    assert r["cuts_by_tear"] == {t: r["cuts"] // 4 for t in TEARS}
    assert r["runs_by_kind"] == {"single": r["cuts"]}


@pytest.mark.slow
def test_second_cuts_in_the_retry_reach_the_recovery_writes():
    r = powercut.campaign(cuts=400, depth=2, rounds=1, flows=("blocklist_adoption", "audit_copy"))
    assert_all_held(r)
    assert r["runs_by_kind"]["retry"] > 0 and r["runs_by_kind"]["double"] > 0
    assert r["cuts"] >= 400


@pytest.mark.micropython
@pytest.mark.slow
def test_a_sample_on_micropython_holds_and_counts_the_writes_cpython_counts():
    mp = powercut.campaign(cuts=24, runtime="micropython", depth=1, rounds=1)
    assert_all_held(mp)
    assert mp["runtime"] == "micropython" and mp["cuts"] == 24
    assert len(mp["cuts_by_flow_device"]) == 9  # every flow on every device
    cp = powercut.campaign(cuts=1, depth=1, rounds=1)
    assert mp["writes"] == cp["writes"]  # the same firmware, the same flash writes


# --- negative controls: storage built the classic wrong ways ---------------------------------


class NaiveStore:
    """A store done the obvious way: each update erases the region and writes every value
    again, with no second half and no CRC. A cut between the erase and the rewrite loses
    them all."""

    def __init__(self, flash, first_sector, n_sectors):
        self._flash = flash
        self._addr = first_sector * flash.sector_size
        self._first = first_sector
        self._sectors = n_sectors
        self.mount()

    def mount(self):
        raw = self._flash.read(self._addr, self._sectors * self._flash.sector_size)
        self._values = {}
        pos = 0
        while pos + 3 <= len(raw) and raw[pos] != 0xFF:
            n = raw[pos]
            name = bytes(raw[pos + 1 : pos + 1 + n])
            size = int.from_bytes(raw[pos + 1 + n : pos + 3 + n], "little")
            self._values[name] = bytes(raw[pos + 3 + n : pos + 3 + n + size])
            pos += 3 + n + size
        self._used = pos

    def get(self, name):
        return self._values.get(name.encode() if isinstance(name, str) else bytes(name))

    def names(self):
        return list(self._values)

    def length(self, name):
        value = self.get(name)
        return None if value is None else len(value)

    def readinto(self, name, offset, buf):
        value = self.get(name)
        if value is None or offset + len(buf) > len(value):
            return False
        buf[:] = value[offset : offset + len(buf)]
        return True

    def put(self, name, value):
        self._values[name.encode() if isinstance(name, str) else bytes(name)] = bytes(value)
        self._rewrite()

    def delete(self, name):
        self._values.pop(name.encode() if isinstance(name, str) else bytes(name), None)
        self._rewrite()

    def _rewrite(self):
        blob = b"".join(bytes([len(k)]) + k + len(v).to_bytes(2, "little") + v for k, v in self._values.items())
        size = self._flash.sector_size
        for s in range((max(len(blob), self._used, 1) + size - 1) // size):
            self._flash.erase(self._first + s)
        self._flash.program(self._addr, blob)
        self._used = len(blob)


class NaiveLog:
    """A log done the obvious way: a count and the records from the first sector, and each
    append erases that sector and writes them all again. A cut between the erase and the
    rewrite loses every record it held, acknowledged or not."""

    def __init__(self, flash, first_sector, n_sectors, record_size):
        self._flash = flash
        self._sector = first_sector
        self.record_size = record_size
        self.capacity = (flash.sector_size - 4) // record_size
        self.mount()

    def mount(self):
        addr = self._sector * self._flash.sector_size
        n = int.from_bytes(self._flash.read(addr, 4), "little")
        n = 0 if n == 0xFFFFFFFF else min(n, self.capacity)  # erased: empty
        rs = self.record_size
        raw = self._flash.read(addr + 4, n * rs)
        self._records = [raw[i * rs : (i + 1) * rs] for i in range(n)]
        self.first_seq = 0
        self.next_seq = n

    def append(self, record):
        self._records.append(bytes(record))
        blob = len(self._records).to_bytes(4, "little") + b"".join(self._records)
        self._flash.erase(self._sector)
        self._flash.program(self._sector * self._flash.sector_size, blob)
        self.next_seq = len(self._records)
        return self.next_seq - 1

    def read(self, from_seq, max_count):
        return [(i, self._records[i]) for i in range(max(from_seq, 0), min(len(self._records), from_seq + max_count))]

    def readinto(self, from_seq, max_count, buf, pos):
        records = self.read(from_seq, max_count)
        for i, (_seq, record) in enumerate(records):
            buf[pos + i * self.record_size : pos + (i + 1) * self.record_size] = record
        return len(records), records[-1][0] + 1 if records else from_seq


class WriteBackFlash(flash.FaultyFlash):
    """The power-cut flash behind a write-back cache: a program is acknowledged at once and
    reaches the flash only with the next write (reads see it meanwhile). A power cut, or the
    power simply going, loses the program still in the cache: the lock's record of a grant is
    not on the flash when the motor runs."""

    _pending = None  # (addr, data): acknowledged, not yet on the flash

    def program(self, addr, data):
        if self._fails():
            self.failed = ("program", addr, len(data))
            raise flash.PowerCut()  # the cache dies with the power
        self._flush()
        self._pending = (addr, bytes(data))

    def erase(self, sector):
        if self._fails():
            self.failed = ("erase", sector, self.sector_size)
            raise flash.PowerCut()
        self._flush()
        self.flash.erase(sector)

    def _flush(self):
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.flash.program(*pending)

    def read(self, addr, n):
        data = bytearray(self.flash.read(addr, n))
        if self._pending is not None:
            at, cached = self._pending
            for i in range(max(at, addr), min(at + len(cached), addr + n)):
                data[i - addr] &= cached[i - at]
        return bytes(data)

    def readinto(self, addr, buf):
        buf[:] = self.read(addr, len(buf))


def broken(monkeypatch, module, **classes):
    # The apps build their storage as storage.Store / storage.Log, the emulator's devices
    # an armed device's flash as flash.FaultyFlash: replaced for this test only.
    for name, cls in classes.items():
        monkeypatch.setattr(module, name, cls)


def test_a_store_rewritten_in_place_is_flagged_as_corrupted(monkeypatch):
    broken(monkeypatch, storage, Store=NaiveStore)
    r = powercut.campaign(cuts=10_000, depth=1, rounds=1, flows=("opening_granted",), tears=("clean",))
    assert r["baseline_findings"] == []  # uncut, the naive store works: only a cut shows it
    assert r["corrupted_stores"] > 0 and powercut.findings(r) > 0
    assert any(e["invariant"] == "corrupted_store" for e in r["examples"])


def test_a_flash_behind_a_write_back_cache_is_flagged_for_unrecorded_motor_runs(monkeypatch):
    broken(monkeypatch, flash, FaultyFlash=WriteBackFlash)
    r = powercut.campaign(cuts=10_000, depth=1, rounds=1, flows=("opening_granted",), tears=("clean",))
    assert r["unrecorded_motor_runs"] > 0 and powercut.findings(r) > 0


def test_a_log_rewritten_in_place_is_flagged_for_lost_acknowledged_events(monkeypatch):
    broken(monkeypatch, storage, Log=NaiveLog)
    r = powercut.campaign(cuts=10_000, depth=1, rounds=1, flows=("opening_granted",), tears=("clean",))
    assert r["baseline_findings"] == []
    assert r["lost_acknowledged_events"] > 0 and powercut.findings(r) > 0
