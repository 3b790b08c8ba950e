"""Hypothesis strategies for valid messages, derived from the construct definitions themselves."""

from construct import Bytes, FormatField, Renamed, Struct
from hypothesis import strategies as st

from keylock.protocol.adapters import CodeEnum, Counted, VarBytes
from keylock.protocol.codes import MsgType
from keylock.protocol.frame import MAC_LEN
from keylock.protocol.messages import MESSAGES

_BITS = {"B": (8, False), "b": (8, True), "H": (16, False), "h": (16, True), "L": (32, False), "l": (32, True)}


def for_construct(con, max_items=6):
    if isinstance(con, FormatField):
        bits, signed = _BITS[con.fmtstr[1:]]
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        return st.integers(lo, hi)
    if isinstance(con, CodeEnum):
        return st.sampled_from([int(m) for m in con.enum])
    if isinstance(con, Bytes):
        return st.binary(min_size=con.length, max_size=con.length)
    if isinstance(con, Counted):
        return st.lists(for_construct(con.subcon), max_size=min(con.max_count, max_items))
    if isinstance(con, VarBytes):
        return st.binary(max_size=con.max_length)
    if isinstance(con, Struct):
        return st.fixed_dictionaries({sub.name: for_construct(sub.subcon) for sub in con.subcons if isinstance(sub, Renamed)})
    raise TypeError(f"no strategy for {type(con).__name__}")


@st.composite
def frames(draw):
    """(type, seq, fields, mac or None) of a random valid frame."""
    msg_type = draw(st.sampled_from(list(MsgType)))
    fields = draw(for_construct(MESSAGES[msg_type]))
    seq = draw(st.integers(0, 255))
    mac = draw(st.none() | st.binary(min_size=MAC_LEN, max_size=MAC_LEN))
    return msg_type, seq, fields, mac
