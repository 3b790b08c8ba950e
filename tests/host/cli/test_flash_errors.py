"""`keylock flash`: errors a tester can act on."""

import socket

import pytest

from keylock.host import cli
from keylock.host.runtime import deploy

FIRMWARE = deploy.FIRMWARE_DIR


def test_no_such_port(capsys):
    assert cli.main(["flash", "--port", "/dev/keylock-no-such-port", "--role", "lock"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("keylock: no such port: /dev/keylock-no-such-port")
    assert "plugged in" in err
    assert "Traceback" not in err


def test_port_that_refuses_a_connection(capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert cli.main(["flash", "--port", f"socket://127.0.0.1:{port}", "--role", "key"]) == 1
    err = capsys.readouterr().err
    assert f"cannot open socket://127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_bad_role_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["flash", "--port", "/dev/null", "--role", "door"])
    assert exc.value.code == 2
    assert "invalid choice: 'door'" in capsys.readouterr().err
