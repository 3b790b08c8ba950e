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
    # known at once from the refusal, not after mpremote's retries as "busy"
    assert cli.main(["flash", "--port", f"socket://127.0.0.1:{port}", "--role", "key"]) == 1
    err = capsys.readouterr().err
    assert err == f"keylock: socket://127.0.0.1:{port}: cannot connect: connection refused (nothing is listening there)\n"


@pytest.mark.parametrize("url", ["socket://127.0.0.1", "socket://127.0.0.1:99999", "bogus://x"])
def test_a_malformed_url_is_bad_input(capsys, url):
    assert cli.main(["flash", "--port", url, "--role", "key"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"keylock: {url}: ") and err.count("\n") == 1


def test_bad_role_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["flash", "--port", "/dev/null", "--role", "door"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("keylock: flash: argument --role: invalid choice: 'door'") and err.count("\n") == 1
