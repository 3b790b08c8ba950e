"""Turning decoded protocol values into text and JSON for people and machines."""

import datetime as dt
from enum import IntEnum, IntFlag
from typing import Any

# Fields holding UNIX times: shown with their UTC date as well.
TIME_FIELDS = {"time", "issued_at", "not_before", "not_after", "valid_until", "unix_s", "server_time", "key_time", "highest_time"}


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
        return bytes(value).hex() if value else "(empty)"
    if isinstance(value, IntEnum):
        return f"{value.name.lower()} ({int(value)})"
    if name in TIME_FIELDS and isinstance(value, int) and value:
        return f"{value}  ({iso_time(value)})"
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
            lines.append(f"{indent}{name}: {len(value)} item(s)")
            for i, item in enumerate(value):
                lines.append(f"{indent}  [{i}]")
                lines += field_lines(item, indent + "    ")
        elif isinstance(value, list):
            lines.append(f"{indent}{name.ljust(width)}  [{', '.join(str(v) for v in value)}]")
        else:
            lines.append(f"{indent}{name.ljust(width)}  {scalar_text(name, value)}")
    return lines
