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


def _code_name(f: Fixed) -> str | None:
    """The name of a code field's tuple of values (_V_...), or None for a plain field."""
    return f.check.split(", ")[1].rstrip(")") if f.check.startswith("_code") else None


class _Tables:
    """What the layouts refer to by index: field names, code tuples, structures."""

    def __init__(self):
        self.names: list[str] = []
        self.codes: list[str] = []
        self.structs = list(STRUCTS)

    def index(self, table: list, value) -> int:
        if value not in table:
            table.append(value)
        i = table.index(value)
        if i > 0xFF:
            raise TypeError("more than 256 field names, code sets or structures: the layouts index them in one byte")
        return i


def _u16(n: int) -> bytes:
    return bytes((n & 0xFF, n >> 8))


def _layout(items: list, tables: _Tables) -> bytes:
    """One structure as a program for the codec's interpreter (_enc, _dec): see _HEADER."""
    out = b""
    for item in items:
        if isinstance(item, Fixed):
            name = tables.index(tables.names, item.name)
            codes = _code_name(item)
            if item.fmt.endswith("s"):
                out += b"s" + bytes((name, int(item.fmt[:-1])))
            elif codes is not None:
                out += b"c" + item.fmt.encode() + bytes((name, tables.index(tables.codes, codes)))
            else:
                out += b"i" + item.fmt.encode() + bytes((name,))
        elif isinstance(item, Items):
            name = tables.index(tables.names, item.name)
            head = item.count_fmt.encode() + bytes((name,)) + _u16(item.max_count)
            if isinstance(item.item, str):
                out += b"M" + head + bytes((tables.structs.index(item.item),))
            else:
                if item.item.fmt not in _INT_RANGES or _code_name(item.item) is not None:
                    raise TypeError(f"field {item.name!r}: a list of {item.item.fmt!r}: lists of plain integers or structures only")
                out += b"N" + head + item.item.fmt.encode()
        elif isinstance(item, Blob):
            out += b"v" + item.len_fmt.encode() + bytes((tables.index(tables.names, item.name),)) + _u16(item.max_len)
        elif isinstance(item, Sub):
            out += b"t" + bytes((tables.index(tables.names, item.name), tables.structs.index(item.struct_name)))
    return out


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


# A structure is a layout: a bytes program that _enc and _dec interpret (one table, not two
# functions per message: the generated functions took twice the heap on a board). Fields in
# order, each an op byte and its arguments (names, code sets and structures by index into
# _NAMES, _CODES and _STRUCTS; C: a struct format character; max: u16 little-endian):
#   i C name                an integer (its range from C)
#   c C name codes          an integer that is one of _CODES[codes]
#   s name length           bytes of a fixed length
#   N C name max C2         a list (count C, at most max) of integers C2
#   M C name max struct     a list (count C, at most max) of structures
#   v C name max            bytes counted by C, at most max
#   t name struct           a nested structure
_RANGES = {RANGES}
_FMT = {FMT}
_SIZES = {SIZES}


def _enc(layout, m, out):
    i = 0
    while i < len(layout):
        op = layout[i]
        if op == 115:  # s
            n = layout[i + 2]
            out.append(pack("<%ds" % n, _bytes(m[_NAMES[layout[i + 1]]], n)))
            i += 3
            continue
        if op == 116:  # t
            _enc(_STRUCTS[layout[i + 2]], m[_NAMES[layout[i + 1]]], out)
            i += 3
            continue
        c, v = layout[i + 1], m[_NAMES[layout[i + 2]]]
        if op == 105:  # i
            lo, hi = _RANGES[c]
            out.append(pack(_FMT[c], _int(v, lo, hi)))
            i += 3
        elif op == 99:  # c
            out.append(pack(_FMT[c], _code(v, _CODES[layout[i + 3]])))
            i += 4
        else:  # a count and what it counts
            if op == 118:  # v
                v = bytes(v)
            out.append(pack(_FMT[c], _int(len(v), 0, layout[i + 3] | layout[i + 4] << 8)))
            if op == 118:
                out.append(v)
            elif op == 78:  # N
                c = layout[i + 5]
                lo, hi = _RANGES[c]
                for x in v:
                    out.append(pack(_FMT[c], _int(x, lo, hi)))
            else:  # M
                sub = _STRUCTS[layout[i + 5]]
                for x in v:
                    _enc(sub, x, out)
            i += 5 if op == 118 else 6


def _dec(layout, b, o):
    m = {}
    i = 0
    while i < len(layout):
        op = layout[i]
        if op == 115:  # s
            n = layout[i + 2]
            m[_NAMES[layout[i + 1]]] = unpack_from("<%ds" % n, b, o)[0]
            o += n
            i += 3
            continue
        if op == 116:  # t
            m[_NAMES[layout[i + 1]]], o = _dec(_STRUCTS[layout[i + 2]], b, o)
            i += 3
            continue
        c, name = layout[i + 1], _NAMES[layout[i + 2]]
        v = unpack_from(_FMT[c], b, o)[0]
        o += _SIZES[c]
        if op == 105:  # i: in range by construction
            m[name] = v
            i += 3
        elif op == 99:  # c
            m[name] = _code(v, _CODES[layout[i + 3]])
            i += 4
        else:
            n = _int(v, 0, layout[i + 3] | layout[i + 4] << 8)
            if op == 118:  # v
                m[name] = unpack_from("<%ds" % n, b, o)[0]
                o += n
                i += 5
                continue
            v = []
            if op == 78:  # N
                c = layout[i + 5]
                for _ in range(n):
                    v.append(unpack_from(_FMT[c], b, o)[0])
                    o += _SIZES[c]
            else:  # M
                sub = _STRUCTS[layout[i + 5]]
                for _ in range(n):
                    x, o = _dec(sub, b, o)
                    v.append(x)
            m[name] = v
            i += 6
    return m, o
"""

_FOOTER = """

def encode(t, m):
    layout = _LAYOUTS.get(t)
    if layout is None:
        raise CodecError("unknown message type")
    out = []
    try:
        _enc(layout, m, out)
    except (KeyError, TypeError, _StructError) as e:
        raise CodecError("missing or mistyped field: %s" % e)
    return b"".join(out)


def decode(t, payload):
    layout = _LAYOUTS.get(t)
    if layout is None:
        raise CodecError("unknown message type")
    try:
        m, o = _dec(layout, payload, 0)
    except CodecError:
        raise
    except (ValueError, IndexError, TypeError, _StructError):
        raise CodecError("truncated message")
    if o != len(payload):
        raise CodecError("trailing bytes")
    return m
"""


def generate() -> str:
    ranges = {ord(char): r for char, r in _INT_RANGES.items()}
    fmts = {ord(char): "<" + char for char in _INT_RANGES}
    sizes = {ord(char): _calcsize("<" + char) for char in _INT_RANGES}
    header = _HEADER.replace("{RANGES}", repr(ranges)).replace("{FMT}", repr(fmts)).replace("{SIZES}", repr(sizes))
    out = [header, "", "# --- frame layer (protocol/frame.py)"]
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
    tables = _Tables()
    structs = [_layout(describe(struct), tables) for struct in STRUCTS.values()]
    messages = {t: _layout(describe(struct), tables) for t, struct in MESSAGES.items()}
    out += ["", "", "# --- layouts (protocol/messages.py STRUCTS and MESSAGES)", ""]
    out.append(f"_NAMES = ({''.join(repr(n) + ', ' for n in tables.names).rstrip()})")
    out.append(f"_CODES = ({''.join(c + ', ' for c in tables.codes).rstrip()})")
    out.append("_STRUCTS = (")
    out += [f"    {layout!r},  # {name}" for name, layout in zip(STRUCTS, structs, strict=True)]
    out.append(")")
    out.append("_LAYOUTS = {")
    out += [f"    {int(t)}: {layout!r},  # {t.name.lower()}" for t, layout in messages.items()]
    out.append("}")
    out.append("NAMES = {")
    out += [f"    {int(t)}: {t.name.lower()!r}," for t in MESSAGES]
    out.append("}")
    out.append(_FOOTER)
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
