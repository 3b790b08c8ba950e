"""Generate firmware/codec.py, the firmware's struct-based codec, from the construct catalogue.

    python -m keylock.protocol.gen_codec --write   # regenerate
    python -m keylock.protocol.gen_codec --check   # exit 1 if firmware/codec.py is stale

MicroPython has no construct, so the firmware carries this translation. It understands exactly
the building blocks messages.py uses and refuses anything else, so a new kind of field cannot
silently produce a codec that disagrees with construct.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from construct import Bytes, FormatField, Renamed, Struct

from . import codes, frame
from .adapters import CodeEnum, Counted, VarBytes
from .messages import MAX_BLOCKLIST, MESSAGES, STRUCTS

FIRMWARE_CODEC = Path(__file__).resolve().parent.parent / "firmware" / "codec.py"

_INT_RANGES = {
    "B": (0, 0xFF),
    "b": (-0x80, 0x7F),
    "H": (0, 0xFFFF),
    "h": (-0x8000, 0x7FFF),
    "I": (0, 0xFFFFFFFF),
    "i": (-0x80000000, 0x7FFFFFFF),
    "L": (0, 0xFFFFFFFF),  # construct's Int32ul; MicroPython's struct has it too
    "l": (-0x80000000, 0x7FFFFFFF),
}


@dataclass
class Fixed:
    name: str
    fmt: str  # one struct format item: "I", "16s"
    check: str  # the expression that checks and returns the value, with {v} for it


@dataclass
class Items:
    name: str
    count_fmt: str
    max_count: int
    item: object  # a Fixed (unnamed scalar) or the name of a sub-structure


@dataclass
class Blob:
    name: str
    len_fmt: str
    max_len: int


@dataclass
class Sub:
    name: str
    struct_name: str


def _fmt_char(field: FormatField) -> str:
    if field.fmtstr[0] != "<" or field.fmtstr[1:] not in _INT_RANGES:
        raise TypeError(f"unsupported format {field.fmtstr!r}: little-endian integers only")
    return field.fmtstr[1:]


def _scalar(name: str, con) -> Fixed:
    if isinstance(con, FormatField):
        char = _fmt_char(con)
        lo, hi = _INT_RANGES[char]
        return Fixed(name, char, f"_int({{v}}, {lo}, {hi})")
    if isinstance(con, CodeEnum):
        char = _fmt_char(con.subcon)
        return Fixed(name, char, f"_code({{v}}, _V_{con.enum.__name__.upper()})")
    if isinstance(con, Bytes) and isinstance(con.length, int):
        return Fixed(name, f"{con.length}s", f"_bytes({{v}}, {con.length})")
    raise TypeError(f"field {name!r}: unsupported construct {type(con).__name__}")


def _struct_name(con) -> str | None:
    for name, candidate in STRUCTS.items():
        if candidate is con:
            return name
    return None


def describe(struct: Struct) -> list:
    items: list = []
    for sub in struct.subcons:
        if not isinstance(sub, Renamed):
            raise TypeError(f"unnamed field {sub!r}")
        name, con = sub.name, sub.subcon
        if isinstance(con, Counted):
            count_fmt = _fmt_char(con.countfield)
            max_count = con.max_count if con.max_count is not None else _INT_RANGES[count_fmt][1]
            inner = _struct_name(con.subcon) or _scalar("", con.subcon)
            items.append(Items(name, count_fmt, max_count, inner))
        elif isinstance(con, VarBytes):
            len_fmt = _fmt_char(con.lengthfield)
            max_len = con.max_length if con.max_length is not None else _INT_RANGES[len_fmt][1]
            items.append(Blob(name, len_fmt, max_len))
        elif isinstance(con, Struct):
            struct_name = _struct_name(con)
            if struct_name is None:
                raise TypeError(f"field {name!r}: nested structs must be named in STRUCTS")
            items.append(Sub(name, struct_name))
        else:
            items.append(_scalar(name, con))
    return items


def _runs(items: list) -> list:
    """Consecutive fixed fields merged into one pack/unpack call."""
    runs: list = []
    for item in items:
        if isinstance(item, Fixed) and runs and isinstance(runs[-1], list):
            runs[-1].append(item)
        elif isinstance(item, Fixed):
            runs.append([item])
        else:
            runs.append(item)
    return runs


def _gen_pair(fn: str, items: list) -> list[str]:
    enc = [f"def _e_{fn}(m, out):"]
    dec = [f"def _d_{fn}(b, o):", "    m = {}"]
    for run in _runs(items):
        if isinstance(run, list):
            fmt = "<" + "".join(f.fmt for f in run)
            args = ", ".join(f.check.format(v=f"m[{f.name!r}]") for f in run)
            enc.append(f"    out.append(pack({fmt!r}, {args}))")
            size = _calcsize(fmt)
            dec.append(f"    v = unpack_from({fmt!r}, b, o)")
            for i, f in enumerate(run):
                # unpacked integers are in range by construction: only codes need a check
                if f.check.startswith("_code"):
                    dec.append(f"    m[{f.name!r}] = " + f.check.format(v=f"v[{i}]"))
                else:
                    dec.append(f"    m[{f.name!r}] = v[{i}]")
            dec.append(f"    o += {size}")
        elif isinstance(run, Items):
            enc.append(f"    v = m[{run.name!r}]")
            enc.append(f"    out.append(pack('<{run.count_fmt}', _int(len(v), 0, {run.max_count})))")
            dec.append(f"    n = _int(unpack_from('<{run.count_fmt}', b, o)[0], 0, {run.max_count})")
            dec.append(f"    o += {_calcsize('<' + run.count_fmt)}")
            dec.append("    v = []")
            if isinstance(run.item, str):
                enc.append(f"    for x in v:\n        _e_{run.item}(x, out)")
                dec.append(f"    for _ in range(n):\n        x, o = _d_{run.item}(b, o)\n        v.append(x)")
            else:
                item = run.item
                enc.append(f"    for x in v:\n        out.append(pack('<{item.fmt}', {item.check.format(v='x')}))")
                size = _calcsize("<" + item.fmt)
                dec.append(f"    for _ in range(n):\n        v.append(unpack_from('<{item.fmt}', b, o)[0])\n        o += {size}")
            dec.append(f"    m[{run.name!r}] = v")
        elif isinstance(run, Blob):
            enc.append(f"    v = bytes(m[{run.name!r}])")
            enc.append(f"    out.append(pack('<{run.len_fmt}', _int(len(v), 0, {run.max_len})))")
            enc.append("    out.append(v)")
            dec.append(f"    n = _int(unpack_from('<{run.len_fmt}', b, o)[0], 0, {run.max_len})")
            dec.append(f"    o += {_calcsize('<' + run.len_fmt)}")
            dec.append(f"    m[{run.name!r}] = unpack_from('<%ds' % n, b, o)[0]")
            dec.append("    o += n")
        elif isinstance(run, Sub):
            enc.append(f"    _e_{run.struct_name}(m[{run.name!r}], out)")
            dec.append(f"    m[{run.name!r}], o = _d_{run.struct_name}(b, o)")
    if len(enc) == 1:
        enc.append("    pass")
    dec.append("    return m, o")
    return enc + [""] + dec


def _calcsize(fmt: str) -> int:
    import struct

    return struct.calcsize(fmt)


_HEADER = """\
# Generated by `python -m keylock.protocol.gen_codec --write` from protocol/messages.py,
# protocol/codes.py and protocol/frame.py. Do not edit: change the construct definitions
# and regenerate (tests fail while this file is stale).
#
# Messages are dicts with the field names of the construct definitions; nested structures
# are dicts, lists are lists, byte fields are bytes. encode(t, m) -> bytes and
# decode(t, payload) -> dict raise CodecError for anything construct would refuse.
from struct import pack, unpack_from

from ._const import const

try:
    from struct import error as _StructError
except ImportError:  # MicroPython's struct raises ValueError
    _StructError = ValueError


class CodecError(ValueError):
    reason = "bad_payload"


def _int(v, lo, hi):
    if not isinstance(v, int) or v < lo or v > hi:
        raise CodecError("integer out of range")
    return v


def _code(v, values):
    if v not in values:
        raise CodecError("unknown code")
    return v


def _bytes(v, n):
    if len(v) != n:
        raise CodecError("wrong byte length")
    return v
"""


def generate() -> str:
    out = [_HEADER, "", "# --- frame layer (protocol/frame.py)"]
    for name in ("START", "SECURED", "MAC_LEN", "MIN_LENGTH", "MAX_LENGTH", "CRC_LEN", "OVERHEAD"):
        out.append(f"{name} = const({getattr(frame, name)})")
    out += ["", "# --- shared figures (protocol/codes.py)"]
    for name in codes.EXPORTED_FIGURES:
        out.append(f"{name} = const({getattr(codes, name)})")
    out.append(f"SIGNED_COMMANDS = ({', '.join(str(int(t)) for t in codes.SIGNED_COMMANDS)})")
    out.append(f"MAX_BLOCKLIST = const({MAX_BLOCKLIST})")  # a BLOCKLIST_UPDATE's most key ids
    for prefix, enum in codes.EXPORTED.items():
        out += ["", f"# --- {enum.__name__} (protocol/codes.py)"]
        for member in enum:
            if member.name is not None and (enum is not codes.Weekday or member.name != "ALL"):
                out.append(f"{prefix}_{member.name} = const({int(member)})")
        if enum is codes.Weekday:
            out.append(f"DAY_ALL = const({int(codes.Weekday.ALL)})")
        if not issubclass(enum, codes.IntFlag):  # flags are bit sets, not lists of codes
            values = ", ".join(str(int(member)) for member in enum)
            out.append(f"_V_{enum.__name__.upper()} = ({values})")
    out += ["", "", "# --- structures (protocol/messages.py STRUCTS)", ""]
    for name, struct in STRUCTS.items():
        out += _gen_pair(name, describe(struct)) + ["", ""]
    out += ["# --- messages (protocol/messages.py MESSAGES)", ""]
    for msg_type, struct in MESSAGES.items():
        out += _gen_pair("msg_" + msg_type.name.lower(), describe(struct)) + ["", ""]
    out.append("_ENC = {")
    out += [f"    {int(t)}: _e_msg_{t.name.lower()}," for t in MESSAGES]
    out.append("}")
    out.append("_DEC = {")
    out += [f"    {int(t)}: _d_msg_{t.name.lower()}," for t in MESSAGES]
    out.append("}")
    out.append("NAMES = {")
    out += [f"    {int(t)}: {t.name.lower()!r}," for t in MESSAGES]
    out.append("}")
    out.append("""

def encode(t, m):
    f = _ENC.get(t)
    if f is None:
        raise CodecError("unknown message type")
    out = []
    try:
        f(m, out)
    except (KeyError, TypeError, _StructError) as e:
        raise CodecError("missing or mistyped field: %s" % e)
    return b"".join(out)


def decode(t, payload):
    f = _DEC.get(t)
    if f is None:
        raise CodecError("unknown message type")
    try:
        m, o = f(payload, 0)
    except CodecError:
        raise
    except (ValueError, IndexError, TypeError, _StructError):
        raise CodecError("truncated message")
    if o != len(payload):
        raise CodecError("trailing bytes")
    return m
""")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="regenerate firmware/codec.py")
    group.add_argument("--check", action="store_true", help="exit 1 if firmware/codec.py is stale")
    args = parser.parse_args(argv)
    text = generate()
    if args.write:
        FIRMWARE_CODEC.write_text(text)
        print(f"wrote {FIRMWARE_CODEC}")
        return 0
    if FIRMWARE_CODEC.read_text() != text:
        print(f"{FIRMWARE_CODEC} is stale: run `make codec`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
