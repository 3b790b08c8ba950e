"""Real MicroPython from Python: a Node.js process running the WebAssembly port (mp_runner.mjs).

    with MicroPython() as mp:                     # the firmware is mounted as `keylock_fw`
        mp.exec("from keylock_fw import codec")
        mp.eval("codec.T_HS_HELLO")               # -> 1

Values cross as JSON; bytes are best passed as hex strings.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ... import firmware

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "mp_runner.mjs"
FIRMWARE_DIR = Path(firmware.__file__).resolve().parent
# The firmware's package name on a board and in the WebAssembly filesystem (/lib is on sys.path).
FIRMWARE_PACKAGE = "keylock_fw"
_NPM_PACKAGE = Path("node_modules") / "@micropython" / "micropython-webassembly-pyscript"


class MicroPythonError(RuntimeError):
    """Python code raised inside MicroPython; `type` is the exception's class name."""

    def __init__(self, message: str, exc_type: str, output: str = ""):
        super().__init__(message)
        self.type = exc_type
        self.output = output


class RuntimeMissing(RuntimeError):
    pass


def node_modules() -> Path:
    """The node_modules holding the pinned MicroPython package (`make setup` installs it)."""
    for base in (HERE, *HERE.parents, Path.cwd(), *Path.cwd().parents):
        if (base / _NPM_PACKAGE / "micropython.mjs").is_file():
            return base / "node_modules"
    raise RuntimeMissing("MicroPython's WebAssembly port is not installed: run `make setup` (npm ci)")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeMissing("node (Node.js) is not on PATH")
    return node


def mount_args(mounts: dict[Path, str] | None) -> list[str]:
    all_mounts = {FIRMWARE_DIR: f"/lib/{FIRMWARE_PACKAGE}", **(mounts or {})}
    args: list[str] = []
    for host_dir, mp_dir in all_mounts.items():
        args += ["--mount", f"{host_dir}:{mp_dir}"]
    return args


def run_script(script: Path, mounts: dict[Path, str] | None = None, timeout_s: float = 120) -> str:
    """Run a script file on MicroPython; its printed output, or MicroPythonError."""
    env = dict(os.environ, KEYLOCK_NODE_MODULES=str(node_modules()))
    proc = subprocess.run(
        [_node(), str(RUNNER), *mount_args(mounts), str(script)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
    )
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise MicroPythonError(proc.stderr, last[0].split(":")[0], proc.stdout)
    return proc.stdout


def stop_process(proc: subprocess.Popen) -> None:
    """End a served interpreter: its stdin closed (the end of its requests), then killed if it
    has not exited within 5 s."""
    if proc.poll() is None:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Interpreter:
    """What drives a MicroPython interpreter, whichever port: statements and expressions in,
    printed text and JSON values out (`_call` carries one request; `close` ends it)."""

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def exec(self, code: str) -> str:
        """Run statements; return what they printed."""
        return self._call({"exec": code})["out"]

    def eval(self, expr: str) -> Any:
        """Evaluate an expression whose value MicroPython's json can dump."""
        return self._call({"eval": expr})["value"]

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MicroPython(Interpreter):
    """One long-lived MicroPython interpreter (the WebAssembly port), driven line by line."""

    def __init__(self, mounts: dict[Path, str] | None = None, heap_bytes: int = 8 * 1024 * 1024):
        env = dict(os.environ, KEYLOCK_NODE_MODULES=str(node_modules()))
        self._proc = subprocess.Popen(
            [_node(), str(RUNNER), *mount_args(mounts), "--heap", str(heap_bytes), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._next_id = 0

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._next_id += 1
        request["id"] = self._next_id
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            err = self._proc.stderr.read() if self._proc.stderr else ""
            raise RuntimeMissing(f"the MicroPython runner exited: {err.strip()}")
        answer = json.loads(line)
        if "error" in answer:
            raise MicroPythonError(answer["error"], answer.get("type", "Error"), answer.get("out", ""))
        return answer

    def close(self) -> None:
        stop_process(self._proc)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream:
                stream.close()
