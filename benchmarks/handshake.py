"""The key-lock handshake benchmark: wire size and time, CPU on CPython and on real
MicroPython against the same crypto calls timed alone, and libosdp's secure-channel set-up
measured in the same run as a peer.

    python -m keylock.benchmarks.handshake [--json]     (also: keylock bench handshake)
"""

import importlib.metadata
import json
import sys
from pathlib import Path

from . import handshake_core

BAUD_RATES = (9600, 57600, 115200, 1_000_000)
BITS_PER_BYTE = 10  # UART 8N1: start, 8 data, stop


def wire_time_ms(wire_bytes: int) -> dict[str, float]:
    return {str(baud): round(wire_bytes * BITS_PER_BYTE / baud * 1000, 3) for baud in BAUD_RATES}


def micropython(progress=print) -> dict:
    from ..host.runtime.micropython import run_script

    progress("MicroPython (WebAssembly): 11 x 200 handshakes ...")
    return json.loads(run_script(Path(handshake_core.__file__)))


def measure(progress=print, cpython_rounds: int = 3000, with_micropython: bool = True) -> dict:
    progress(f"CPython: {cpython_rounds} handshakes ...")
    cp = handshake_core.run(cpython_rounds)
    result = {
        "round_trips": 2,
        "wire_bytes": sum(cp["frames"]),
        "frames_bytes": cp["frames"],
        "wire_time_ms": wire_time_ms(sum(cp["frames"])),
        "cpython": {k: round(cp[k], 3) for k in ("handshake_us", "crypto_us", "ratio")},
    }
    if with_micropython:
        mp = micropython(progress)
        result["micropython"] = {k: round(mp[k], 3) for k in ("handshake_us", "crypto_us", "ratio")}
    progress("libosdp: 15 secure-channel set-ups ...")
    from . import osdp_peer

    peer = osdp_peer.run()
    result["peers"] = {
        "libosdp": {
            "round_trips": peer["round_trips"],
            "wire_bytes": peer["wire_bytes"],
            "handshake_us": round(peer["handshake_us"], 3),
            "version": importlib.metadata.version("libosdp"),
        }
    }
    result["cpython_vs_libosdp"] = round(result["cpython"]["handshake_us"] / peer["handshake_us"], 3)
    return result


def report(r: dict) -> str:
    lines = [
        f"round trips      {r['round_trips']}",
        f"wire bytes       {r['wire_bytes']}  (frames {' + '.join(map(str, r['frames_bytes']))}, framing included)",
        "wire time        " + ", ".join(f"{ms} ms @ {baud}" for baud, ms in r["wire_time_ms"].items()),
    ]
    for runtime in ("cpython", "micropython"):
        if runtime in r:
            x = r[runtime]
            lines.append(f"{runtime:<16} handshake {x['handshake_us']} us, its crypto alone {x['crypto_us']} us, ratio {x['ratio']:.2f}")
    p = r["peers"]["libosdp"]
    lines.append(f"libosdp {p['version']:<8} {p['round_trips']} round trips, {p['wire_bytes']} bytes, {p['handshake_us']} us (C, AES-128)")
    lines.append(f"CPython / libosdp {r['cpython_vs_libosdp']:.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-micropython", action="store_true", help="skip the MicroPython run")
    args = parser.parse_args(argv)
    progress = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    result = measure(progress, with_micropython=not args.no_micropython)
    print(json.dumps(result) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
