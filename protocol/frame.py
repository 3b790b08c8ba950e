"""The frame layer, and the reference encode/decode functions built on it.

    start   length   header        seq   message ...   [mac]    crc
    0xA5    u16 le   secured|type  u8    (by type)     8 bytes  u32 le, CRC-32 of length..mac

`length` counts header, seq, message and mac. The header's top bit marks a frame inside a
secure session, which carries an 8-byte session MAC after its message (see the handshake).
"""

import zlib
from dataclasses import dataclass, field
from typing import Any

from construct import (
    BitsInteger,
    BitStruct,
    Bytes,
    Checksum,
    ChecksumError,
    Const,
    ConstError,
    ConstructError,
    ExprValidator,
    Flag,
    GreedyBytes,
    If,
    Int8ul,
    Int16ul,
    Int32ul,
    Prefixed,
    RawCopy,
    StreamError,
    Struct,
    Switch,
    Terminated,
    ValidationError,
    this,
)

from .adapters import CodeEnum
from .codes import MsgType
from .messages import MESSAGES

START = 0xA5
SECURED = 0x80
MAC_LEN = 8
MIN_LENGTH = 2  # header and seq
MAX_LENGTH = 16384
CRC_LEN = 4
OVERHEAD = 1 + 2 + 2 + CRC_LEN  # start, length, header, seq, crc: bytes a frame adds to its message


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


Length = ExprValidator(Int16ul, lambda length, ctx: MIN_LENGTH <= length <= MAX_LENGTH)

Body = Struct(
    "header" / BitStruct("secured" / Flag, "type" / CodeEnum(BitsInteger(7), MsgType)),
    "seq" / Int8ul,
    "message" / Switch(this.header.type, MESSAGES),
    "mac" / If(this.header.secured, Bytes(MAC_LEN)),
    Terminated,
)

Frame = Struct(
    "start" / Const(bytes([START])),
    "body" / RawCopy(Prefixed(Length, Body)),
    "crc" / Checksum(Int32ul, crc32, this.body.data),
)

# The same frame with its body left as bytes: checks start, length and CRC only.
RawFrame = Struct(
    "start" / Const(bytes([START])),
    "body" / RawCopy(Prefixed(Length, GreedyBytes)),
    "crc" / Checksum(Int32ul, crc32, this.body.data),
)


class FrameError(ValueError):
    """A byte string that is not a valid frame. `reason` is shared with the firmware codec."""

    reason = "bad_frame"


class BadStart(FrameError):
    reason = "bad_start"


class BadLength(FrameError):
    reason = "bad_length"


class Truncated(FrameError):
    reason = "truncated"


class BadChecksum(FrameError):
    reason = "bad_check"


class UnknownType(FrameError):
    reason = "unknown_type"


class BadPayload(FrameError):
    reason = "bad_payload"


@dataclass(frozen=True)
class Decoded:
    type: MsgType
    seq: int
    fields: dict[str, Any]
    secured: bool = False
    mac: bytes | None = None
    raw: bytes = field(default=b"", repr=False)


def plain(value: Any) -> Any:
    """construct's Containers and ListContainers as plain dicts and lists (no private keys)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def encode_message(msg_type: MsgType, fields: dict[str, Any]) -> bytes:
    try:
        return MESSAGES[MsgType(msg_type)].build(fields)
    except (ConstructError, KeyError, TypeError, ValueError) as exc:
        raise BadPayload(f"cannot build {MsgType(msg_type).name}: {exc}") from exc


def decode_message(msg_type: MsgType, payload: bytes) -> dict[str, Any]:
    try:
        return plain(Struct("m" / MESSAGES[MsgType(msg_type)], Terminated).parse(payload).m)
    except ConstructError as exc:
        raise BadPayload(f"{MsgType(msg_type).name}: {exc}") from exc


def encode_frame(msg_type: MsgType, fields: dict[str, Any], seq: int = 0, mac: bytes | None = None) -> bytes:
    body = {
        "header": {"secured": mac is not None, "type": MsgType(msg_type)},
        "seq": seq,
        "message": fields,
        "mac": mac,
    }
    try:
        return Frame.build({"body": {"value": body}})
    except (ConstructError, KeyError, TypeError) as exc:
        raise BadPayload(f"cannot build {MsgType(msg_type).name}: {exc}") from exc


def split_frame(data: bytes) -> bytes:
    """Check start, length and CRC; return the body (header, seq, message, mac)."""
    data = bytes(data)
    if not data:
        raise Truncated("empty input")
    try:
        raw = RawFrame.parse(data)
    except ConstError:
        raise BadStart(f"first byte is 0x{data[0]:02x}, a frame starts with 0x{START:02x}") from None
    except ValidationError:
        length = int.from_bytes(data[1:3], "little")
        raise BadLength(f"length field {length} is outside {MIN_LENGTH}..{MAX_LENGTH}") from None
    except StreamError:
        if len(data) < 3:
            raise Truncated(f"{len(data)} bytes, too short for a frame header") from None
        length = int.from_bytes(data[1:3], "little")
        need = 3 + length + CRC_LEN
        raise Truncated(f"frame needs {need} bytes, got {len(data)}") from None
    except ChecksumError:
        raise BadChecksum("CRC-32 does not match the frame's contents") from None
    end = 3 + len(raw.body.value) + CRC_LEN
    if len(data) != end:
        raise BadLength(f"{len(data) - end} bytes after the end of a {end}-byte frame")
    return raw.body.value


_TYPE_CODES = {int(t) for t in MsgType}


def decode_frame(data: bytes) -> Decoded:
    body_bytes = split_frame(data)
    if body_bytes[0] & 0x7F not in _TYPE_CODES:
        raise UnknownType(f"unknown message type 0x{body_bytes[0] & 0x7F:02x}")
    try:
        body = Frame.parse(bytes(data)).body.value
    except ConstructError as exc:
        raise BadPayload(f"message does not decode: {exc}") from None
    return Decoded(
        type=body.header.type,
        seq=body.seq,
        fields=plain(body.message),
        secured=body.header.secured,
        mac=body.mac,
        raw=bytes(data),
    )
