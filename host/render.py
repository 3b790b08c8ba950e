"""Turning decoded protocol values into text and JSON for people and machines.

Text shows a value as a person knows it next to the number on the wire: a time as its UTC
date, a minute of the day as 07:00, a board's name as "keylock-key", a 0 that means
"none" as such. JSON keeps the wire's values (bytes as hex, codes as names)."""

import datetime as dt
from enum import IntEnum, IntFlag
from typing import Any

# Fields holding UNIX times: shown with their UTC date as well; what their 0 means.
TIME_FIELDS = {
    "time": "not set",
    "issued_at": "not set",
    "not_before": "not set",
    "not_after": "not set",
    "valid_until": "not validated",
    "unix_s": "not set",
    "server_time": "not set",
    "key_time": "not set",
    "highest_time": "none yet",
    "offset_change_at": "no change",
}
MINUTE_OF_DAY_FIELDS = {"from_min", "to_min"}  # an access right's daily window, minutes after midnight
TEXT_FIELDS = {"board"}  # bytes that hold a name
ZERO_IS_NONE = {"paired_phone": "not paired", "phone_id": "no phone"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
KEY_FLAGS = ("battery_low", "validated", "clock_set", "paired")  # KEY_STATUS.flags, bit 0 first


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`1 attempt`, `2 attempts`: counts read as a person writes them."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"


def minute_of_day(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def weekdays(bits: int) -> str:
    days = [name for i, name in enumerate(WEEKDAYS) if bits & (1 << i)]
    if bits & 0x7F == 0x7F:
        return "every day"
    if not days:
        return "no day"
    if bits & 0x1F == 0x1F and len(days) == 5:
        return "Mon-Fri"
    return " ".join(days)


def jsonable(value: Any) -> Any:
    """bytes as hex, codes as their lower-case names, containers recursively."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, IntFlag):
        return int(value)
    if isinstance(value, IntEnum):
        return value.name.lower()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def iso_time(unix_s: int) -> str:
    return dt.datetime.fromtimestamp(unix_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scalar_text(name: str, value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        if name in TEXT_FIELDS:
            return '"' + bytes(value).decode(errors="replace") + '"'
        return bytes(value).hex() if value else "(empty)"
    if isinstance(value, IntEnum):
        return f"{value.name.lower()} ({int(value)})"
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    if name in TIME_FIELDS:
        return f"{value}  ({iso_time(value) if value else TIME_FIELDS[name]})"
    if name in MINUTE_OF_DAY_FIELDS:
        return f"{minute_of_day(value)}  ({value} min)"
    if name == "days":
        return f"{weekdays(value)}  ({value})"
    if name == "offset_change_min":
        return f"{value:+d} min"
    if name == "temperature_dC":
        return f"{value / 10:.1f} C"
    if name == "battery_mV":
        return f"{value} mV"
    if name == "soc_permille":
        return f"{value / 10:.1f} %"
    if name == "flags":
        names = [flag for i, flag in enumerate(KEY_FLAGS) if value & (1 << i)]
        return f"{', '.join(names) or 'none'}  ({value})"
    if name in ZERO_IS_NONE and value == 0:
        return f"0  ({ZERO_IS_NONE[name]})"
    return str(value)


def field_lines(fields: dict[str, Any], indent: str = "  ") -> list[str]:
    """One line per field, nested structures and lists indented below their name."""
    lines: list[str] = []
    width = max((len(k) for k in fields), default=0)
    for name, value in fields.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{name}:")
            lines += field_lines(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{indent}{name}: {plural(len(value), 'item')}")
            for i, item in enumerate(value):
                lines.append(f"{indent}  [{i}]")
                lines += field_lines(item, indent + "    ")
        elif isinstance(value, list):
            lines.append(
                f"{indent}{name.ljust(width)}  [{', '.join(str(v) for v in value)}]" if value else f"{indent}{name.ljust(width)}  none"
            )
        else:
            lines.append(f"{indent}{name.ljust(width)}  {scalar_text(name, value)}")
    return lines
