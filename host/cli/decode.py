"""Decode frames given in hex and print their fields.

The hex comes from the argument or, without one, from stdin; spaces, colons and a 0x prefix
are allowed. By default the input must be exactly one frame and anything else is reported
with the reason (bad_start, bad_length, truncated, bad_check, unknown_type, bad_payload).
With --stream the input is searched for frames as a device's receiver would, skipping noise;
stdin may then also be a binary capture (the raw bytes of a serial line, e.g. from
`cat /dev/ttyACM0 > capture.bin`): input that is not hex is taken as bytes (--binary says so).

  keylock decode a5090001...
  keylock decode --stream < capture.bin
"""

import json
import re
import sys

from ...firmware.frame import Receiver
from ...protocol import frame
from ..errors import KeylockError, UsageError
from ..render import field_lines, jsonable


def add_arguments(parser):
    parser.add_argument("hex", nargs="?", help="the frame in hex (default: read stdin)")
    parser.add_argument("--stream", action="store_true", help="find every frame in noisy input instead of exactly one")
    parser.add_argument(
        "--binary", action="store_true", help="stdin is raw bytes, not hex (with --stream; found by itself when the input is not hex)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per frame, one per line")


def parse_hex(text: str) -> bytes:
    cleaned = re.sub(r"0x|[\s:]", "", text.strip(), flags=re.IGNORECASE)
    if not cleaned:
        raise UsageError("no hex given: pass it as an argument or on stdin")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        bad = re.search(r"[^0-9a-fA-F]", cleaned)
        where = f"character {bad.group()!r}" if bad else "an odd number of hex digits"
        raise UsageError(f"not hex: {where} in the input") from None


def as_json(decoded: frame.Decoded) -> dict:
    return {
        "type": decoded.type.name,
        "type_code": int(decoded.type),
        "seq": decoded.seq,
        "secured": decoded.secured,
        "mac": decoded.mac.hex() if decoded.mac else None,
        "length_bytes": len(decoded.raw),
        "fields": jsonable(decoded.fields),
    }


def as_text(decoded: frame.Decoded) -> str:
    secured = f"  secured, mac {decoded.mac.hex()}" if decoded.mac else ""
    head = f"{decoded.type.name} (0x{int(decoded.type):02x})  seq {decoded.seq}  {len(decoded.raw)} bytes{secured}"
    return "\n".join([head, *field_lines(decoded.fields)])


def read_input(args) -> bytes:
    """The bytes to decode: the argument's hex; or stdin, as hex or (with --stream) raw bytes."""
    if args.binary and (not args.stream or args.hex is not None):
        raise UsageError("--binary is for a capture on stdin with --stream")
    if args.hex is not None:
        return parse_hex(args.hex)
    stdin = getattr(sys.stdin, "buffer", None)  # a text stream without one (a test's) holds text
    data = stdin.read() if stdin is not None else sys.stdin.read().encode("latin-1")
    if args.binary:
        return data
    try:
        return parse_hex(data.decode("ascii"))
    except (UnicodeDecodeError, UsageError) as exc:
        if args.stream and data.strip():
            return data  # a binary capture
        if isinstance(exc, UsageError):
            raise
        raise UsageError("stdin is not hex: for a binary capture, use --stream") from None


def run(args) -> int:
    data = read_input(args)
    if args.stream:
        receiver = Receiver()
        raws = receiver.feed(data) + receiver.idle()
        if not raws:
            raise KeylockError(f"no valid frame in {len(data)} bytes")
    else:
        raws = [data]
    for raw in raws:
        try:
            decoded = frame.decode_frame(raw)
        except frame.FrameError as exc:
            raise KeylockError(f"not a valid frame ({exc.reason}): {exc}") from None
        print(json.dumps(as_json(decoded)) if args.json else as_text(decoded))
    return 0
