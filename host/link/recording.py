"""Recorded sessions (`keylock --record FILE ...`, written by the Transport's Recorder) read
back, sent again, and their answers compared field by field (`keylock replay`).

A recording is JSON lines {"t", "dir": "tx"|"rx", "hex"}, each session (one run of
`keylock`, appended by default) opened by a {"session", "url"} line. Each request counts once
(a resent request is a retry); its answer is the recorded frame of the same session that came
back with the same seq.
Answers are compared by type and decoded fields, by path (`paired_phone`, `records.time`);
DEFAULT_IGNORED are the fields the physical world moves between two sessions.
"""

import json
import re
from pathlib import Path

from ...protocol.frame import FrameError, decode_frame
from ..errors import UsageError
from ..render import jsonable
from .device import frame_seq
from .transport import NoAnswer, Transport

DEFAULT_IGNORED = ("time", "unix_s", "battery_mV", "soc_permille", "temperature_dC")


def load_requests(path: str | Path) -> list[tuple[bytes, bytes | None]]:
    """[(request, recorded answer or None)] from one recording."""
    requests: list[list] = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the recording: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if isinstance(entry, dict) and "session" in entry:
                if requests and requests[-1][1] is None:
                    requests[-1] = [requests[-1][0], False]  # unanswered, and no later frame is its answer
                continue
            direction, raw = entry["dir"], bytes.fromhex(entry["hex"])
            if direction not in ("tx", "rx"):
                raise ValueError(direction)
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{path}:{number}: not a recorded frame (JSON with dir tx|rx and hex)") from None
        pending = requests[-1] if requests and requests[-1][1] is None else None
        if direction == "tx":
            if pending is not None and pending[0] == raw:
                continue  # a retry of the request still waiting for its answer
            try:
                frame_seq(raw)
            except FrameError as exc:
                raise UsageError(f"{path}:{number}: the recorded request is not a frame ({exc.reason})") from None
            requests.append([raw, None])
        elif pending is not None and len(raw) > 4 and raw[4] == pending[0][4]:
            pending[1] = raw
    return [(tx, rx or None) for tx, rx in requests]


def flatten(value, path="") -> dict:
    """{path: leaf}; list items keep their index in the path shown, not in the one ignored."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else k))
        return out
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        out[f"{path}#count"] = len(value)
        return out
    return {path: value}


def _unindexed(path: str) -> str:
    return re.sub(r"\[\d+\]", "", path).replace("#count", "")


def describe(raw: bytes | None) -> tuple[str, dict]:
    if raw is None:
        return "no answer", {}
    try:
        d = decode_frame(raw)
    except FrameError as exc:
        return f"undecodable ({exc.reason})", {}
    return d.type.name, flatten(jsonable(d.fields))


def compare(recorded: bytes | None, replayed: bytes | None, ignored: set[str]) -> list[dict]:
    """The differences between two answers: [{field, recorded, replayed}]."""
    r_type, r_fields = describe(recorded)
    n_type, n_fields = describe(replayed)
    if r_type != n_type:
        return [{"field": "(type)", "recorded": r_type, "replayed": n_type}]
    return [
        {"field": path, "recorded": r_fields.get(path), "replayed": n_fields.get(path)}
        for path in dict.fromkeys([*r_fields, *n_fields])
        if _unindexed(path) not in ignored and r_fields.get(path) != n_fields.get(path)
    ]


def replay(transport: Transport, sessions: list[tuple[str, list[tuple[bytes, bytes | None]]]], ignored: set[str]) -> list[dict]:
    """Send every recorded request of every session once, in order; one result per request
    with the differences of its answer from the recorded one."""
    results = []
    for path, requests in sessions:
        for index, (request, recorded) in enumerate(requests, 1):
            try:
                replayed = transport.exchange(request, request[4])
            except NoAnswer:
                replayed = None
            differences = compare(recorded, replayed, ignored)
            results.append(
                {
                    "file": str(path),
                    "index": index,
                    "request": describe(request)[0],
                    "seq": request[4],
                    "answer": describe(replayed)[0],
                    "differences": differences,
                }
            )
    return results
