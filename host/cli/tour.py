"""A tour of the protocol: one of every message (the golden vectors), built with construct,
encoded again by the firmware codec on CPython and on real MicroPython, decoded back, and
shown as an annotated hex dump. Any disagreement between the codecs is an error."""

import json

from ...firmware import frame as fw_frame
from ...protocol.codes import MsgType
from ...protocol.frame import MAC_LEN, decode_frame
from ...protocol.messages import MESSAGES
from ...protocol.vectors import build, from_json, load
from ..errors import KeylockError
from ..render import scalar_text
from ..runtime.micropython import MicroPython, RuntimeMissing

DIRECTION = {
    **dict.fromkeys([MsgType.HS_HELLO, MsgType.HS_PROOF, MsgType.CREDENTIAL, MsgType.BLOCKLIST_UPDATE, MsgType.AUDIT_ACK], "key -> lock"),
    **dict.fromkeys([MsgType.HS_CHALLENGE, MsgType.HS_ACCEPT, MsgType.DECISION], "lock -> key"),
    MsgType.AUDIT_BATCH: "lock -> key, device -> host",
    **dict.fromkeys([MsgType.INFO, MsgType.KEY_STATUS, MsgType.LOCK_STATUS, MsgType.TIME, MsgType.RESULT], "device -> host"),
}
BYTES_PER_LINE = 12


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="one JSON object per message and a summary")
    parser.add_argument("--no-micropython", action="store_true", help="skip the MicroPython run")


def hex_lines(data: bytes, note: str) -> list[str]:
    chunks = [data[i : i + BYTES_PER_LINE] for i in range(0, len(data), BYTES_PER_LINE)] or [b""]
    lines = []
    for i, chunk in enumerate(chunks):
        left = " ".join(f"{b:02x}" for b in chunk).ljust(BYTES_PER_LINE * 3)
        lines.append(f"    {left} {note if i == 0 else ''}".rstrip())
    return lines


def annotate(raw: bytes) -> list[str]:
    decoded = decode_frame(raw)
    lines = hex_lines(raw[:1], "start")
    lines += hex_lines(raw[1:3], f"length {int.from_bytes(raw[1:3], 'little')}")
    secured = "secured | " if decoded.secured else ""
    lines += hex_lines(raw[3:4], f"header: {secured}type {decoded.type.name}")
    lines += hex_lines(raw[4:5], f"seq {decoded.seq}")
    at = 5
    for sub in MESSAGES[decoded.type].subcons:
        value = decoded.fields[sub.name]
        span = sub.subcon.build(value)
        shown = f"{len(value)} item(s)" if isinstance(value, list) else ("..." if isinstance(value, dict) else scalar_text(sub.name, value))
        lines += hex_lines(raw[at : at + len(span)], f"{sub.name} = {shown}")
        at += len(span)
    if decoded.secured:
        lines += hex_lines(raw[at : at + MAC_LEN], "session MAC")
        at += MAC_LEN
    lines += hex_lines(raw[at:], "CRC-32")
    return lines


def micropython_results(vectors) -> dict[str, str] | None:
    """Each vector's frame as encoded by the firmware codec inside MicroPython."""
    try:
        mp = MicroPython()
    except RuntimeMissing:
        return None
    with mp:
        mp.exec("from keylock_fw import frame, codec\nimport json")
        mp.exec(
            "def _b(v):\n"
            "    if isinstance(v, str): return bytes.fromhex(v)\n"
            "    if isinstance(v, list): return [_b(x) for x in v]\n"
            "    if isinstance(v, dict): return {k: _b(x) for k, x in v.items()}\n"
            "    return v\n"
        )
        out = {}
        for v in vectors:
            mac = f"bytes.fromhex({v['mac']!r})" if v["mac"] else "None"
            out[v["id"]] = mp.eval(
                f"frame.encode_message({int(MsgType[v['type']])}, {v['seq']}, _b(json.loads({json.dumps(v['fields'])!r})), {mac}).hex()"
            )
        return out


def run(args) -> int:
    vectors = load()
    on_mp = None if args.no_micropython else micropython_results(vectors)
    total = 0
    for v in vectors:
        built = build(v)
        fields = from_json(v["fields"])
        mac = bytes.fromhex(v["mac"]) if v["mac"] else None
        firmware = fw_frame.encode_message(int(MsgType[v["type"]]), v["seq"], fields, mac)
        checks = {"construct": built.hex() == v["hex"], "firmware_cpython": firmware == built}
        checks["construct_decode"] = decode_frame(built).fields == fields
        checks["firmware_decode"] = fw_frame.decode(built)[2] == fields
        if on_mp is not None:
            checks["firmware_micropython"] = on_mp[v["id"]] == built.hex()
        if not all(checks.values()):
            raise KeylockError(f"codecs disagree on {v['id']}: {checks}")
        total += len(built)
        msg_type = MsgType[v["type"]]
        if args.json:
            print(json.dumps({"id": v["id"], "type": v["type"], "bytes": len(built), "hex": built.hex(), "checks": checks}))
            continue
        where = DIRECTION.get(msg_type, "host -> device")
        print(f"{v['id']}: {msg_type.name} (0x{int(msg_type):02x}), {where}, {len(built)} bytes")
        print("\n".join(annotate(built)))
        print()
    handshake = sum(len(build(v)) for v in vectors if v["id"] in ("hs_hello", "hs_challenge", "hs_proof", "hs_accept"))
    runtimes = "construct, firmware codec on CPython" + ("" if on_mp is None else " and on MicroPython (WebAssembly)")
    summary = {
        "messages": len(vectors),
        "types": len({v["type"] for v in vectors}),
        "total_bytes": total,
        "handshake_bytes": handshake,
        "agree": runtimes,
    }
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        print(f"{summary['messages']} frames of {summary['types']} message types, {total} bytes in all; identical in {runtimes}.")
        print(f"The handshake (HELLO, CHALLENGE, PROOF, ACCEPT) takes {handshake} bytes on the wire, framing included.")
        if on_mp is None:
            print("(MicroPython runtime not installed: run `make setup` to include it.)")
    return 0
