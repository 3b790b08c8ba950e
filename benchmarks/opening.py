"""The whole opening's CPU on CPython: one key-lock transaction from insertion to the last
frame (handshake, credential, decision, audit read and acknowledgement, the lock's flash
writes), the real firmware apps on file flash, no physics and no wire time.

    python -m keylock.benchmarks.opening [--json] [--openings N] [--firmware DIR]

--firmware DIR times another checkout's firmware/ folder (e.g. an older commit in a git
worktree), so a change is measured against its baseline with the same harness. Medians of
5 runs of N openings, each run on freshly provisioned devices.

Devices are provisioned as the checkout's protocol wants: with compartments (protocol 4: a
lock holds its compartment's secret and its own, a key its own and, wrapped into the signed
VALIDATE, its secret for the lock's compartment; a credential carries a MAC per compartment),
or with one site secret (protocol 3 and before, with or without the secure-storage service).
"""

import argparse
import importlib
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SITE = bytes(range(32))  # protocol 3 and before: the site secret; protocol 4: the compartment's secret
KEY_OWN, LOCK_OWN = bytes(range(32, 64)), bytes(range(64, 96))  # protocol 4: the devices' own secrets
KEY_ID, LOCK_ID, GROUP = 1001, 101, 7
START_S = 1_767_600_000  # 2026-01-05, a Monday
NOT_SIGNED = 72  # ErrorCode.NOT_SIGNED: a firmware that takes security commands only signed


def load_firmware(folder: Path):
    """firmware/ of any checkout, imported as its own package (relative imports only)."""
    name = f"fw_under_test_{abs(hash(str(folder.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    # Any: each module's names are known only at run time (and `secure` may be missing).
    fw: dict[str, Any] = {
        m: importlib.import_module(f"{name}.{m}") for m in ("codec", "crypto", "device", "flash", "frame", "key_app", "lock_app", "signed")
    }
    fw["secure"] = importlib.import_module(f"{name}.secure") if (folder / "secure.py").exists() else None
    return fw


def _device(fw, path, sectors):
    chip = fw["flash"].FileFlash(str(path), sectors)
    if fw["secure"] is None:  # a checkout from before the secure-storage service
        return fw["device"].Device(chip)
    return fw["device"].Device(chip, fw["secure"].FileSecureStorage(str(path) + ".secure"))


def has_compartments(fw) -> bool:
    """The checkout's protocol has compartments (protocol 4: secrets wrapped for keys)."""
    return hasattr(fw["crypto"], "wrap_stream")


class Pair:
    """A provisioned, validated key and a provisioned lock on file flash in `folder`."""

    def __init__(self, fw, folder: Path):
        self.fw = fw
        codec, crypto, signed = fw["codec"], fw["crypto"], fw["signed"]
        self.key = fw["key_app"].KeyApp(_device(fw, folder / "key.flash", fw["key_app"].FLASH_SECTORS))
        self.lock = fw["lock_app"].LockApp(_device(fw, folder / "lock.flash", fw["lock_app"].FLASH_SECTORS))
        self.key.dev.set_clock(START_S)
        right = {"target": GROUP, "kind": codec.TARGET_GROUP, "days": codec.DAY_ALL, "from_min": 0, "to_min": 1440}
        cred = {
            "key_id": KEY_ID,
            "issued_at": START_S,
            "not_before": 0,
            "not_after": 0xFFFFFFFF,
            "valid_until": START_S + 10 * 86400,
            "offset_change_at": 0,
            "offset_change_min": 0,
            "blocklist_version": 0,
            "warn_permille": 0,
            "rights": [right],
        }
        if has_compartments(fw):
            compartment = {"kind": codec.TARGET_GROUP, "target": GROUP}  # the lock's lowest group
            self.key_own = crypto.HmacKey(KEY_OWN)
            key = {"role": codec.ROLE_KEY, "device_id": KEY_ID, "groups": [], "compartment": {"kind": 0, "target": 0}, "epoch": 0}
            self._host(self.key, codec.T_PROVISION, dict(key, secret=KEY_OWN, compartment_secret=bytes(32)))
            lock = {"role": codec.ROLE_LOCK, "device_id": LOCK_ID, "groups": [GROUP], "compartment": compartment, "epoch": 1}
            self._host(self.lock, codec.T_PROVISION, dict(lock, secret=LOCK_OWN, compartment_secret=SITE))
            server = crypto.server_key(crypto.HmacKey(SITE))
            cred = signed.sign_credential([(codec.TARGET_GROUP, GROUP, server)], dict(cred, macs=[]))
            mine = crypto.key_secret(crypto.HmacKey(SITE), KEY_ID)

            def validate(nonce):
                def stream(n, context):
                    return crypto.wrap_stream(self.key_own, n, context)

                wrapped = signed.wrap_secret(stream, nonce, codec.TARGET_GROUP, GROUP, mine)
                secrets = [{"kind": codec.TARGET_GROUP, "target": GROUP, "wrapped": wrapped}]
                return {"server_time": START_S, "credential": cred, "secrets": secrets, "uploaded_to": 0}

        else:  # one site secret: the lock holds it, the key's is diversified from it
            key_secret = crypto.key_secret(crypto.HmacKey(SITE), KEY_ID)
            self.key_own = key_secret  # what the checkout's command_key takes
            self._host(self.key, codec.T_PROVISION, {"role": codec.ROLE_KEY, "device_id": KEY_ID, "groups": [], "secret": key_secret})
            self._host(self.lock, codec.T_PROVISION, {"role": codec.ROLE_LOCK, "device_id": LOCK_ID, "groups": [GROUP], "secret": SITE})
            cred = signed.sign_credential(crypto.server_key(crypto.HmacKey(SITE)), dict(cred, mac=bytes(16)))

            def validate(nonce):
                return {"server_time": START_S, "credential": cred}

        self._host(self.key, codec.T_VALIDATE, validate(bytes(16)), signed_fields=validate)

    def _host(self, app, t, fields, signed_fields=None):
        """A host command; when the app takes it only signed (NOT_SIGNED), again signed by the
        server for the key's nonce, with `signed_fields(nonce)`."""
        codec, frame = self.fw["codec"], self.fw["frame"]
        _t, _seq, answer, _mac = frame.decode(app.on_host_frame(frame.encode_message(t, 1, fields)))
        if signed_fields is not None and answer.get("code") == NOT_SIGNED:
            _t, _seq, challenge, _mac = frame.decode(app.on_host_frame(frame.encode_message(codec.T_KEY_CHALLENGE_REQUEST, 2, {})))
            body = codec.encode(t, signed_fields(challenge["nonce"]))
            mac = self.fw["signed"].command_mac(self.fw["crypto"].command_key(self.key_own), KEY_ID, challenge["nonce"], t, body)
            command = {"command": t, "body": body, "mac": mac}
            _t, _seq, answer, _mac = frame.decode(app.on_host_frame(frame.encode_message(codec.T_SIGNED_COMMAND, 3, command)))
        assert answer.get("code", 0) == 0, (t, answer)

    def open(self) -> None:
        """One insertion: the lock boots from flash (as on the key's power), the whole exchange."""
        lock = self.fw["lock_app"].LockApp(self.lock.dev)
        raw = self.key.begin()
        while raw is not None:
            reply = lock.on_key_frame(raw)
            if reply is None:
                break
            raw = self.key.on_lock_frame(reply)
        assert self.key.outcome is not None and self.key.outcome[0] == 0, self.key.outcome  # granted


def measure(firmware: Path, openings: int = 200, runs: int = 5) -> dict:
    fw = load_firmware(firmware)
    per_opening_us = []
    for _ in range(runs):  # each run from fresh devices: the audit rings grow with every opening
        with tempfile.TemporaryDirectory(prefix="keylock-opening-") as tmp:
            pair = Pair(fw, Path(tmp))
            t0 = time.perf_counter()
            for _ in range(openings):
                pair.key.dev.set_clock(pair.key.dev.now_s() + 60)
                pair.open()
            per_opening_us.append((time.perf_counter() - t0) / openings * 1e6)
    return {
        "firmware": str(firmware),
        "protocol": "compartments" if has_compartments(fw) else "site secret",
        "openings_per_run": openings,
        "median_us": round(statistics.median(per_opening_us), 1),
        "runs_us": [round(t, 1) for t in per_opening_us],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="keylock bench opening", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--firmware", type=Path, default=Path(__file__).resolve().parent.parent / "firmware", help="the firmware folder to time"
    )
    parser.add_argument("--openings", type=int, default=200, help="openings per run (default 200)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.openings < 1 or not (args.firmware / "key_app.py").is_file():
        parser.error("--openings takes 1 or more, --firmware a folder holding key_app.py")
    r = measure(args.firmware, args.openings)
    print(
        json.dumps(r)
        if args.json
        else f"one opening: median {r['median_us']} us on CPython ({r['runs_us']} us per run; {r['firmware']}, {r['protocol']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
