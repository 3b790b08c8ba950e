"""Power-cut campaign: power cut at every flash write of every flow, on the lock and on the key, with every tear model, on CPython or on real MicroPython; after each reboot the invariants must hold.

    keylock bench powercut [--cuts N] [--runtime cpython|micropython]
                           [--tear all|clean|half|prefix|bits] [--seed S] [--depth 1|2]
                           [--flow NAME] [--json]

The flows (benchmarks/powercut_flows.py): an opening granted, an opening denied (outside its
schedule), a lock adopting the newer blocklist a key carries, the audit copy lock -> key with
an event left uncopied by a brown-out, and a key's validation. Each flow's flash writes are
first counted on each device (an uncut run, whose invariants must hold too); then every run
builds the site afresh, cuts power at write k of one device with a tear model, powers it back
(a key's cut also resets the lock it powers) and checks the invariants
(benchmarks/powercut_invariants.py: corrupted stores, unrecorded motor runs, lost
acknowledged events, a site that no longer works).

Depth 1 cuts every write of every flow with each tear model. Depth 2 then retries each cut
flow, as a user tries again once power is back: first uncut (counting the retry's writes,
which now include the recovery of what the cut left: compactions, erases), then cut at each
of the retry's writes with each tear model. Once all that is done the campaign goes round
again with new seeds, for the pseudo-random tears only (clean and half would repeat). It
stops after --cuts power cuts. Progress goes to stderr; exit status 1 when an invariant
failed or an armed cut never happened, else 0.
"""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..firmware.flash import TEARS, PowerCut
from ..host.emulator.site import EmulatedSite
from ..hw_models import power
from .powercut_flows import FLOWS, LOCK, Flow, build_site
from .powercut_invariants import Check, Snapshot, check_invariants, snapshot

RANDOM_TEARS = ("prefix", "bits")  # the tears a new seed changes
COUNTS = {  # result field -> invariant: runs in which it failed
    "corrupted_stores": "corrupted_store",
    "unrecorded_motor_runs": "unrecorded_motor_run",
    "lost_acknowledged_events": "lost_acknowledged_event",
    "site_broken": "site_broken",
}
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Cut:
    k: int  # the device's k-th flash write (program or erase) since it powered up, 1-based
    tear: str
    seed: int


@dataclass
class Baseline:
    """A flow run uncut: its writes per device, the site before and after, its result."""

    flow: Flow
    writes: dict[str, int]
    before: Snapshot
    uncut: Snapshot
    result: Any
    findings: list[tuple[str, str]]


def cut_seed(*parts: Any) -> int:
    """The tear's seed for one cut, from the campaign seed and where the cut is: the same
    number on every run and runtime."""
    return zlib.crc32(":".join(str(p) for p in parts).encode())


def _motor_runs(site: EmulatedSite, flow: Flow) -> int:
    """The motor runs of the flow just run: the lock's outputs since its last boot (the
    insertion), read before anything reboots it."""
    if LOCK not in flow.devices:
        return 0
    return sum(1 for what in site.devices.get(LOCK, "outputs") if tuple(what) == ("motor", 1))


def _run_flow(site: EmulatedSite, flow: Flow) -> int:
    """Run the flow, whatever power cut ends it; its motor runs."""
    try:
        flow.run(site)
    except PowerCut:
        site.remove(flow.key)  # the key is pulled: it came back to life only in the user's hand
    return _motor_runs(site, flow)


def _power_back(site: EmulatedSite, flow: Flow, device: str, check: Check) -> None:
    """The cut device boots from its flash; a key's cut also cut the lock it powers."""
    for name in flow.devices:
        site.devices.disarm(name)
    for name in [device] + ([LOCK] if device != LOCK and LOCK in flow.devices else []):
        try:
            site.devices.boot(name)
        except Exception as exc:  # the app's mount raised: a store that no longer reads
            check.fail("corrupted_store", f"{name} does not boot: {exc!r}")


def baseline(flow: Flow, runtime: str, folder: Path) -> Baseline:
    site = build_site(runtime, folder)
    try:
        flow.prepare(site)
        before = snapshot(site)
        for name in flow.devices:
            site.devices.arm_power_cut(name, 0)  # count only
            site.devices.boot(name)
        result = flow.run(site)
        motor = _motor_runs(site, flow)
        writes = {name: site.devices.flash_writes(name) for name in flow.devices}
        for name in flow.devices:
            site.devices.disarm(name)
        uncut = snapshot(site)
        # The checks must hold on the uncut flow, or they would flag every cut.
        findings = check_invariants(site, Check(flow, before, uncut, result, motor_runs=motor))
        return Baseline(flow, writes, before, uncut, result, findings)
    finally:
        site.close()


@dataclass
class Run:
    """One run: a fresh site, the flow cut at `cuts` in turn (each followed by a reboot),
    with `retry` an uncut retry after them; invariants checked after every reboot."""

    flow: str
    device: str
    cuts: tuple[Cut, ...]
    retry: bool = False
    fired: list[list | None] = field(default_factory=list)  # the write each cut interrupted
    findings: list[tuple[str, str]] = field(default_factory=list)
    retry_writes: int = 0

    @property
    def kind(self) -> str:
        return "retry" if self.retry else ("double" if len(self.cuts) == 2 else "single")


def execute(run: Run, base: Baseline, runtime: str, folder: Path) -> Run:
    flow = base.flow
    site = build_site(runtime, folder)
    try:
        flow.prepare(site)
        check = Check(flow, base.before, base.uncut, base.result)
        for i, cut in enumerate(run.cuts):
            site.devices.arm_power_cut(run.device, cut.k, cut.tear, cut.seed)
            site.devices.boot(run.device)
            check.motor_runs += _run_flow(site, flow)
            run.fired.append(site.devices.power_cut(run.device))
            if run.fired[-1] is None:
                break  # the flow had fewer writes: reported as a missed cut
            _power_back(site, flow, run.device, check)
            last = i == len(run.cuts) - 1 and not run.retry
            if check_invariants(site, check, full=last):
                break
        if run.retry and run.fired[-1] is not None and not check.findings:
            site.devices.arm_power_cut(run.device, 0)  # count the retry's writes
            site.devices.boot(run.device)
            check.motor_runs += _run_flow(site, flow)
            run.retry_writes = site.devices.flash_writes(run.device)
            for name in flow.devices:
                site.devices.disarm(name)
            check_invariants(site, check)
        run.findings = check.findings
        return run
    finally:
        site.close()


@dataclass
class Tally:
    runtime: str
    seed: int
    tears: list[str]
    depth: int
    cuts: int = 0
    runs: int = 0
    missed_cuts: int = 0
    by_flow: dict[str, int] = field(default_factory=dict)  # cuts per flow
    by_device: dict[str, int] = field(default_factory=dict)  # cuts per flow/device role
    by_tear: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)  # runs per kind
    by_operation: dict[str, int] = field(default_factory=dict)  # cuts per interrupted operation: program, erase
    failed: dict[str, int] = field(default_factory=lambda: {k: 0 for k in COUNTS})
    examples: list[dict] = field(default_factory=list)

    def add(self, run: Run) -> None:
        self.runs += 1
        self.by_kind[run.kind] = self.by_kind.get(run.kind, 0) + 1
        role = "lock" if run.device == LOCK else "key"
        for cut, fired in zip(run.cuts, run.fired, strict=False):
            if fired is None:
                self.missed_cuts += 1
                self._example(run, "missed_cut", f"write {cut.k} never happened")
                continue
            self.cuts += 1
            self.by_flow[run.flow] = self.by_flow.get(run.flow, 0) + 1
            self.by_device[f"{run.flow}/{role}"] = self.by_device.get(f"{run.flow}/{role}", 0) + 1
            self.by_tear[cut.tear] = self.by_tear.get(cut.tear, 0) + 1
            self.by_operation[fired[0]] = self.by_operation.get(fired[0], 0) + 1
        for result_field, invariant in COUNTS.items():
            if any(i == invariant for i, _ in run.findings):
                self.failed[result_field] += 1
        for invariant, detail in run.findings:
            self._example(run, invariant, detail)

    def _example(self, run: Run, invariant: str, detail: str) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            cuts = [[c.k, c.tear, c.seed, f] for c, f in zip(run.cuts, run.fired + [None] * 2, strict=False)]
            self.examples.append(
                {"flow": run.flow, "device": run.device, "kind": run.kind, "cuts": cuts, "invariant": invariant, "detail": detail}
            )


@contextmanager
def _physics_remembered(limit: int = 4000):
    """hw_models.power.simulate_opening is a pure function of the cell, its charge and its
    temperature, and the campaign's most expensive call (an opening's supply at 1 ms steps).
    Every run rebuilds the same site, so the same openings recur run after run: remembered
    while the campaign runs. Only time changes: the site reads the result, never writes it."""
    original = power.simulate_opening
    memo: dict[tuple, tuple] = {}

    def remembered(battery, soc, temperature_C, *args, **kwargs):
        if args or kwargs or np.ndim(soc) or np.ndim(temperature_C):  # arrays (the server's warning threshold): not remembered
            return original(battery, soc, temperature_C, *args, **kwargs)
        key = (id(battery), float(soc), float(temperature_C))
        hit = memo.get(key)
        if hit is None or hit[0] is not battery:  # the battery is kept: its id cannot be reused
            if len(memo) >= limit:
                memo.clear()
            hit = memo[key] = (battery, original(battery, soc, temperature_C))
        return hit[1]

    power.simulate_opening = remembered
    try:
        yield
    finally:
        power.simulate_opening = original


def _memory_folder() -> str | None:
    # Sites in memory where the system has a tmpfs: a run's database commits (synchronous=FULL)
    # and flash writes would otherwise wait for the disk, and nothing of a run is kept.
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _interleave(groups: list[list]) -> list:
    """Round-robin over the groups, so a campaign stopped early has sampled every one."""
    out = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out


def campaign(
    cuts: int = 10_000,
    runtime: str = "cpython",
    tears: tuple[str, ...] = TEARS,
    seed: int = 1,
    depth: int = 2,
    flows: tuple[str, ...] | None = None,
    rounds: int | None = None,
    progress=None,
    progress_every_s: float = 5.0,
) -> dict:
    """Run until `cuts` power cuts were made (or `rounds` rounds, or nothing new is left to
    cut); the counts as a dict (findings() sums what must be 0)."""
    campaign = Campaign(cuts, runtime, Tally(runtime, seed, list(tears), depth), progress, progress_every_s)
    with _physics_remembered():
        try:
            bases = {name: baseline(FLOWS[name], runtime, campaign.folder()) for name in (flows or tuple(FLOWS))}
            r = 0
            while not campaign.done() and (rounds is None or r < rounds):
                use = tuple(t for t in tears if r == 0 or t in RANDOM_TEARS)
                if not use:
                    break  # only deterministic tears, all made: another round would repeat them
                campaign.round(list(bases.values()), use, seed, r, depth)
                r += 1
        finally:
            shutil.rmtree(campaign.root, ignore_errors=True)
    t = campaign.tally
    seconds = time.monotonic() - campaign.t0
    if progress is not None:
        progress(_progress_line(t, seconds, "done"))
    return {
        "runtime": runtime,
        "seed": seed,
        "tears": list(tears),
        "depth": depth,
        "rounds": r,
        "cuts": t.cuts,
        "runs": t.runs,
        **{k: t.failed[k] for k in COUNTS},
        "missed_cuts": t.missed_cuts,
        "baseline_findings": [[name, i, d] for name, b in bases.items() for i, d in b.findings],
        "writes": {name: b.writes for name, b in bases.items()},
        "cuts_by_flow": t.by_flow,
        "cuts_by_flow_device": t.by_device,
        "cuts_by_tear": t.by_tear,
        "cuts_by_operation": t.by_operation,
        "runs_by_kind": t.by_kind,
        "examples": t.examples,
        "seconds": round(seconds, 1),
        "cuts_per_s": round(t.cuts / seconds, 2) if seconds else 0.0,
    }


class Campaign:
    """The runs of a campaign, each on a fresh site in its own folder, counted in a Tally."""

    def __init__(self, cuts: int, runtime: str, tally: Tally, progress, progress_every_s: float):
        self.cuts = cuts
        self.runtime = runtime
        self.tally = tally
        self.progress = progress
        self.progress_every_s = progress_every_s
        self.root = Path(tempfile.mkdtemp(prefix="keylock-powercut-", dir=_memory_folder()))
        self.t0 = self._last = time.monotonic()
        self._n = 0

    def folder(self) -> Path:
        self._n += 1
        return self.root / f"site{self._n}"

    def done(self) -> bool:
        return self.tally.cuts >= self.cuts

    def do(self, run: Run, base: Baseline) -> Run:
        path = self.folder()
        execute(run, base, self.runtime, path)
        shutil.rmtree(path, ignore_errors=True)
        self.tally.add(run)
        now = time.monotonic()
        if self.progress is not None and now - self._last >= self.progress_every_s:
            self._last = now
            where = f"{run.kind} {run.flow}/{'lock' if run.device == LOCK else 'key'}"
            self.progress(_progress_line(self.tally, now - self.t0, where))
        return run

    def round(self, bases: list[Baseline], tears: tuple[str, ...], seed: int, r: int, depth: int) -> None:
        """Every write of every flow and device cut with each tear; at depth 2 each of those
        cuts again followed by its retry, uncut and then cut at each of the retry's writes.
        Interleaved across flows and devices, so a campaign stopped early sampled them all."""
        rng = random.Random(cut_seed(seed, r, "order"))
        firsts = []
        for b in bases:
            for device in b.flow.devices:
                group = [
                    (b, device, Cut(k, t, cut_seed(seed, r, b.flow.name, device, k, t)))
                    for k in range(1, b.writes[device] + 1)
                    for t in tears
                ]
                rng.shuffle(group)
                firsts.append(group)
        for b, device, cut in _interleave(firsts):
            if self.done():
                return
            self.do(Run(b.flow.name, device, (cut,)), b)
        if depth < 2:
            return
        for b, device, first in _interleave(firsts):
            if self.done():
                return
            retry = self.do(Run(b.flow.name, device, (first,), retry=True), b)
            k1 = (first.k, first.tear)
            seconds = [
                Cut(k, t, cut_seed(seed, r, b.flow.name, device, *k1, k, t)) for k in range(1, retry.retry_writes + 1) for t in tears
            ]
            rng.shuffle(seconds)
            for second in seconds:
                if self.done():
                    return
                self.do(Run(b.flow.name, device, (first, second)), b)


def _progress_line(t: Tally, seconds: float, where: str) -> str:
    return (
        f"{t.runtime}: {t.cuts:,} cuts in {t.runs:,} runs, {seconds:,.0f} s ({where}); "
        f"corrupted stores {t.failed['corrupted_stores']}, unrecorded motor runs {t.failed['unrecorded_motor_runs']}, "
        f"lost acknowledged events {t.failed['lost_acknowledged_events']}, site broken {t.failed['site_broken']}, missed cuts {t.missed_cuts}"
    )


def findings(r: dict) -> int:
    """Everything that must be 0."""
    return sum(r[k] for k in COUNTS) + r["missed_cuts"] + len(r["baseline_findings"])


def report(r: dict) -> str:
    lines = [
        f"runtime          {r['runtime']} (seed {r['seed']}, depth {r['depth']}, tears {', '.join(r['tears'])}, {r['rounds']} rounds)",
        f"cuts             {r['cuts']:,} in {r['runs']:,} runs ({', '.join(f'{k} {v:,}' for k, v in sorted(r['runs_by_kind'].items()))}), "
        f"{r['seconds']:,.0f} s, {r['cuts_per_s']} cuts/s",
        f"corrupted stores {r['corrupted_stores']}, unrecorded motor runs {r['unrecorded_motor_runs']}, "
        f"lost acknowledged events {r['lost_acknowledged_events']}, site broken {r['site_broken']}",
        f"missed cuts {r['missed_cuts']}, findings on uncut flows {len(r['baseline_findings'])}",
        "flash writes of each flow (uncut): " + "; ".join(f"{f} {w}" for f, w in r["writes"].items()),
        "cuts by flow and device:",
    ]
    lines += [f"  {n:>8,}  {k}" for k, n in sorted(r["cuts_by_flow_device"].items())]
    lines.append("cuts by tear: " + ", ".join(f"{k} {n:,}" for k, n in sorted(r["cuts_by_tear"].items())))
    lines.append("cuts by interrupted operation: " + ", ".join(f"{k} {n:,}" for k, n in sorted(r["cuts_by_operation"].items())))
    for e in r["examples"]:
        lines.append(f"  {e['invariant']}: {e['flow']} on {e['device']} ({e['kind']}, cuts {e['cuts']}): {e['detail']}")
    for name, invariant, detail in r["baseline_findings"]:
        lines.append(f"  uncut {name}: {invariant}: {detail}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="keylock bench powercut", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cuts", type=int, default=10_000, help="power cuts to make (default 10,000)")
    parser.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython")
    parser.add_argument("--tear", choices=("all", *TEARS), default="all", help="tear model of the cut write (default all)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed: the order of the runs and the pseudo-random tears (default 1)")
    parser.add_argument("--depth", type=int, choices=(1, 2), default=2, help="1: single cuts; 2: also a second cut in the retry (default)")
    parser.add_argument("--flow", choices=("all", *FLOWS), default="all", help="one flow only (default all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.cuts < 1:
        parser.error("--cuts must be positive")
    result = campaign(
        cuts=args.cuts,
        runtime=args.runtime,
        tears=TEARS if args.tear == "all" else (args.tear,),
        seed=args.seed,
        depth=args.depth,
        flows=None if args.flow == "all" else (args.flow,),
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(json.dumps(result) if args.json else report(result))
    return 1 if findings(result) else 0


if __name__ == "__main__":
    sys.exit(main())
