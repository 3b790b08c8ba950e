"""Golden vectors: one or more frames per message type, in vectors/messages.json.

Each vector has `id`, `type` (a MsgType name), `seq`, `mac` (hex or null: a secured frame),
`fields` and `hex`, the whole frame. In `fields` every JSON string is a byte string in hex
(the protocol has no text fields); numbers and lists are themselves. The file is read by
both codecs on both runtimes.

    python -m keylock.protocol.vectors --fill   # compute `hex` for vectors that lack it

--fill never changes an existing `hex`: a vector that no longer matches is a test failure
to look at, not something to overwrite.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .codes import MsgType
from .frame import encode_frame

VECTORS_FILE = Path(__file__).resolve().parent / "vectors" / "messages.json"


def from_json(value: Any) -> Any:
    if isinstance(value, str):
        return bytes.fromhex(value)
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    return value


def to_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return int(value) if isinstance(value, int) else value


def load(path: Path = VECTORS_FILE) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["vectors"]


def build(vector: dict[str, Any]) -> bytes:
    mac = bytes.fromhex(vector["mac"]) if vector.get("mac") else None
    return encode_frame(MsgType[vector["type"]], from_json(vector["fields"]), vector["seq"], mac)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fill", action="store_true", required=True, help="add `hex` where missing")
    parser.parse_args(argv)
    data = json.loads(VECTORS_FILE.read_text())
    filled = 0
    for vector in data["vectors"]:
        if not vector.get("hex"):
            vector["hex"] = build(vector).hex()
            filled += 1
    VECTORS_FILE.write_text(json.dumps(data, indent=1) + "\n")
    missing = set(MsgType) - {MsgType[v["type"]] for v in data["vectors"]}
    print(f"filled {filled} vectors; types without a vector: {sorted(t.name for t in missing) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
