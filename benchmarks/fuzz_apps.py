"""App-level fuzzing campaign: the key and lock firmware under mutated frames on both links, in every transaction state, on CPython or on real MicroPython.

    python -m keylock.benchmarks.fuzz_apps [--frames N] [--seed S] [--chunk C]
                                           [--runtime cpython|micropython] [--json]

The work is benchmarks/fuzz_apps_core.py (runtime neutral), run in chunks of --chunk frames;
chunk k uses fuzz_apps_core.chunk_seed(seed, k), on either runtime, so a campaign is the same
sequence of frames on CPython and on MicroPython. Progress goes to stderr after each chunk.
An example in the summary reproduces with fuzz_apps_core.run(frames=example["frame"],
seed=example["seed"]). Exit status 1 when an app raised, the motor moved without a valid
grant (a credential the server signed for the lock's compartment), a lock accepted a bad
proof or a blocklist not signed for its compartment, an audit batch was bad evidence (a
record without its lock's MAC, a key's batch without the key's, a burst of bad proofs
written or not counted) or a reply was malformed; else 0.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from . import fuzz_apps_core

_COUNTS = (
    "frames",
    "contact_frames",
    "host_frames",
    "begins",
    "transactions",
    "escaped",
    "pulses",
    "authorised_pulses",
    "unauthorised_pulses",
    "accepted_bad_proofs",
    "accepted_bad_blocklists",
    "bad_evidence",
    "malformed_replies",
)
_TABLES = ("escaped_by", "coverage")
_LISTS = ("examples", "unauthorised_examples", "malformed_examples")
MAX_EXAMPLES = 10

# Run on MicroPython: the core is mounted next to this script, which runs one chunk.
_MP_SCRIPT = """
import json, sys
sys.path.append("/kl_bench")
import fuzz_apps_core
print(json.dumps(fuzz_apps_core.run(frames={frames}, seed={seed}, max_examples={examples})))
"""


def run_chunk_micropython(frames: int, seed: int) -> dict:
    from ..host.runtime.micropython import run_script

    with tempfile.TemporaryDirectory(prefix="kl_fuzz_mp_") as folder:
        script = Path(folder) / "fuzz_chunk.py"
        script.write_text(_MP_SCRIPT.format(frames=frames, seed=seed, examples=MAX_EXAMPLES))
        core_dir = Path(fuzz_apps_core.__file__).resolve().parent
        out = run_script(script, mounts={core_dir: "/kl_bench"}, timeout_s=max(300.0, frames / 50))
    return json.loads(out.strip().splitlines()[-1])


def run_chunk(runtime: str, frames: int, seed: int) -> dict:
    if runtime == "micropython":
        return run_chunk_micropython(frames, seed)
    return fuzz_apps_core.run(frames=frames, seed=seed, max_examples=MAX_EXAMPLES)


def merge(total: dict | None, part: dict) -> dict:
    """Campaign totals: counts and tables summed, the first examples kept."""
    if total is None:
        total = {k: 0 for k in _COUNTS}
        total.update({k: {} for k in _TABLES})
        total.update({k: [] for k in _LISTS})
        total["seconds"] = 0.0
        total["chunks"] = 0
    for k in _COUNTS:
        total[k] += part.get(k, 0)
    for k in _TABLES:
        for name, n in part.get(k, {}).items():
            total[k][name] = total[k].get(name, 0) + n
    for k in _LISTS:
        total[k] = (total[k] + part.get(k, []))[:MAX_EXAMPLES]
    total["seconds"] = round(total["seconds"] + part.get("seconds", 0), 3)
    total["chunks"] += 1
    total["runtime"] = part.get("runtime")
    total["frames_per_s"] = round(total["frames"] / total["seconds"], 1) if total["seconds"] else 0
    return total


def campaign(frames: int, seed: int, runtime: str = "cpython", chunk: int = 20000, progress=None) -> dict:
    total = None
    done = 0
    index = 0
    t0 = time.monotonic()
    while done < frames:
        n = min(chunk, frames - done)
        part = run_chunk(runtime, n, fuzz_apps_core.chunk_seed(seed, index))
        total = merge(total, part)
        done = total["frames"]
        index += 1
        if progress is not None:
            progress(
                f"{runtime}: {done:,}/{frames:,} frames, {total['transactions']:,} transactions, "
                f"{total['frames_per_s']:,.0f} frames/s; escaped {total['escaped']}, "
                f"unauthorised pulses {total['unauthorised_pulses']} of {total['pulses']}"
            )
    assert total is not None
    total["seed"] = seed
    total["chunk"] = chunk
    total["wall_seconds"] = round(time.monotonic() - t0, 3)
    return total


def findings(r: dict) -> int:
    return (
        r["escaped"]
        + r["unauthorised_pulses"]
        + r["accepted_bad_proofs"]
        + r["accepted_bad_blocklists"]
        + r["bad_evidence"]
        + r["malformed_replies"]
    )


def report(r: dict) -> str:
    lines = [
        f"runtime          {r['runtime']} (seed {r['seed']}, {r['chunks']} chunks of up to {r['chunk']:,} frames)",
        f"frames           {r['frames']:,} ({r['contact_frames']:,} contact, {r['host_frames']:,} host), {r['transactions']:,} transactions",
        f"speed            {r['frames_per_s']:,.0f} frames/s ({r['seconds']:.1f} s fuzzing, {r['wall_seconds']:.1f} s wall)",
        f"motor pulses     {r['pulses']:,}: {r['authorised_pulses']:,} authorised, {r['unauthorised_pulses']} without a valid grant",
        f"bad proofs accepted {r['accepted_bad_proofs']}, bad blocklists adopted {r['accepted_bad_blocklists']}, "
        f"bad evidence {r['bad_evidence']}, malformed replies {r['malformed_replies']}",
        f"escaped          {r['escaped']}",
    ]
    for kind, n in sorted(r["escaped_by"].items()):
        lines.append(f"  {n:>8}  {kind}")
    for e in r["examples"]:
        lines.append(f"  e.g. {e['where']} [{e['state']}] {e['type']}: {e['message']} at {e['at']}")
        lines.append(f"       input {e['input']} (seed {e['seed']}, frame {e['frame']})")
    for e in r["unauthorised_examples"]:
        lines.append(f"  violation on {e['device']} [{e['state']}]: {e['why']}; input {e['input']} (seed {e['seed']}, frame {e['frame']})")
    for e in r["malformed_examples"]:
        lines.append(f"  malformed reply from {e['where']}: {e['reply']} to {e['input']}")
    lines.append("coverage (frames per entry point and state)")
    for label, n in sorted(r["coverage"].items()):
        lines.append(f"  {n:>10,}  {label}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1_000_000, help="frames to deliver in all (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (default 1)")
    parser.add_argument("--chunk", type=int, default=20_000, help="frames per chunk (default 20,000)")
    parser.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.chunk < 1:
        parser.error("--frames and --chunk must be positive")
    result = campaign(args.frames, args.seed, args.runtime, args.chunk, progress=lambda msg: print(msg, file=sys.stderr))
    print(json.dumps(result) if args.json else report(result))
    return 1 if findings(result) else 0


if __name__ == "__main__":
    sys.exit(main())
