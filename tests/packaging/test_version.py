"""One version: the package's version is the firmware's FW_VERSION (pyproject reads it)."""

import importlib.metadata

from keylock.firmware.version import FW_VERSION


def test_the_package_version_is_the_firmware_version():
    version = ".".join(map(str, FW_VERSION))
    installed = importlib.metadata.version("keylock")
    # The installed metadata is written at install time: after changing FW_VERSION, reinstall
    # (`.venv/bin/pip install -e .`, or `touch pyproject.toml && make setup`).
    assert installed == version, f"installed keylock says {installed}, firmware/version.py says {version}: reinstall keylock"
