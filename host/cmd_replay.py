"""Send the host side of recorded sessions (`keylock --record FILE ...`) to a device again and
report every answer that differs from the recorded one, field by field. Exit 0 when all
answers match, 1 when any differs (or does not come).

  keylock --port socket://127.0.0.1:40001 --record s.jsonl status
  keylock replay s.jsonl --port socket://127.0.0.1:40001

What is replayed: each request once, in order, with its recorded seq (a request the
recording shows sent again, a retry, is one request); its answer is the recorded frame that
came back with the same seq. A recorded request that got no answer is sent too: an answer
now is a difference.

What is compared: the answer's type and its decoded fields, by path (`paired_phone`,
`records.time`, `credential.valid_until`). Fields the physical world moves between two
sessions are ignored by default: a key's clock (`time`, TIME's `unix_s`), its battery
(`battery_mV`, `soc_permille`) and the temperatures (`temperature_dC`). --ignore FIELD adds a
path, --strict compares everything. Audit events' times are facts, so they are compared.
"""

import json
import re
from pathlib import Path

from ..protocol.frame import FrameError, decode_frame
from .client import frame_seq
from .errors import UsageError
from .show import jsonable
from .transport import NoAnswer, Transport

needs_port = True
DEFAULT_IGNORED = ("time", "unix_s", "battery_mV", "soc_permille", "temperature_dC")


def add_arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="recordings (JSON lines from --record), replayed in order")
    parser.add_argument("--ignore", action="append", default=[], metavar="FIELD", help="also ignore this field path (repeatable)")
    parser.add_argument("--strict", action="store_true", help=f"compare every field (default ignores {', '.join(DEFAULT_IGNORED)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


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
    return [(tx, rx) for tx, rx in requests]


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


def run(args) -> int:
    ignored = set() if args.strict else set(DEFAULT_IGNORED)
    ignored.update(args.ignore)
    sessions = [(f, load_requests(f)) for f in args.files]
    if not any(requests for _f, requests in sessions):
        raise UsageError(f"no requests recorded in {', '.join(args.files)}")
    timeout_ms = 1000 if args.timeout_ms is None else args.timeout_ms
    retries = 2 if args.retries is None else args.retries
    results = []
    with Transport(args.port, timeout_ms=timeout_ms, retries=retries, record=args.record) as transport:
        for path, requests in sessions:
            for index, (request, recorded) in enumerate(requests, 1):
                try:
                    replayed = transport.exchange(request, request[4])
                except NoAnswer:
                    replayed = None
                differences = compare(recorded, replayed, ignored)
                results.append({"file": str(path), "index": index, "request": describe(request)[0], "seq": request[4], "answer": describe(replayed)[0], "differences": differences})
    differing = [r for r in results if r["differences"]]
    if args.json:
        print(json.dumps({"requests": len(results), "differing": len(differing), "ignored": sorted(ignored), "results": results}))
    else:
        for r in differing:
            print(f"{r['file']} #{r['index']} {r['request']} seq {r['seq']}: answer differs")
            for d in r["differences"]:
                print(f"    {d['field']}: recorded {d['recorded']!r}, now {d['replayed']!r}")
        verdict = f"{len(differing)} differ" if differing else "all answers match"
        print(f"replayed {len(results)} request(s) to {args.port}: {verdict}" + (f" (ignoring {', '.join(sorted(ignored))})" if ignored else ""))
    return 1 if differing else 0

