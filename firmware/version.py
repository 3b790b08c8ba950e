# The firmware's version, one for key and lock (they are flashed from the same tree), and the
# INFO answer both give on the host link. `keylock flash` checks a board against it. It is the
# one version of the project: pyproject.toml reads the package's version from FW_VERSION.
from .codec import PROTOCOL_VERSION

FW_VERSION = (0, 1, 0)


def info(role, device_id, board):
    major, minor, patch = FW_VERSION
    return {
        "role": role,
        "device_id": device_id,
        "fw_major": major,
        "fw_minor": minor,
        "fw_patch": patch,
        "protocol_version": PROTOCOL_VERSION,
        "board": board,
    }
