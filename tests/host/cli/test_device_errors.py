"""Clear errors, never a traceback: a missing port, an unknown scheme, a device that is not
there or is busy, a bad keylock:// option, options where they do not belong."""

import fcntl
import os
import signal
import socket
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from keylock.host.cli import main


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", ["info", "status", "replay"])
def test_a_device_command_without_a_port_says_how_to_give_one(capsys, command, tmp_path):
    extra = [str(tmp_path / "x.jsonl")] if command == "replay" else []
    code, _, err = cli(capsys, command, *extra)
    assert code == 2 and err.startswith(f"keylock: {command}: needs a device: keylock --port URL {command}")


@pytest.mark.parametrize(
    "url, exit_code, message",
    [
        ("bogus://somewhere", 2, "bogus://somewhere: invalid URL, protocol 'bogus' not known"),
        ("/dev/no-such-tty", 1, "/dev/no-such-tty: no such port"),
        ("socket://127.0.0.1:{free}", 1, "socket://127.0.0.1:{free}: nothing is listening there (is `keylock emulate` running?)"),
        (
            "socket://127.0.0.1",
            2,
            "socket://127.0.0.1: expected socket://HOST:PORT[?logging=debug|info|warning|error]: the port number is missing",
        ),
        (
            "socket://127.0.0.1:99999",
            2,
            "expected socket://HOST:PORT[?logging=debug|info|warning|error]: the port number must be 1 to 65535",
        ),
        ("socket://127.0.0.1:{free}?logging=loud", 2, "logging='loud' is not one of debug|info|warning|error"),
        ("rfc2217://127.0.0.1:{free}?timeout=0", 2, "expected rfc2217://HOST:PORT[?logging="),
        ("hwgrep://keylock-matches-nothing", 1, "no serial port matches 'keylock-matches-nothing'"),
        ("keylock://127.0.0.1:{hub}/K99", 1, "keylock://127.0.0.1:{hub}/K99: the hub says: unknown device 'K99'; devices: K1, K2"),
        (
            "keylock://127.0.0.1:{hub}/K1?noise=0.1&bogus=1",
            2,
            "unknown option(s) bogus: the form is keylock://HOST:PORT/DEVICE[?noise=RATE][&seed=N][&timeout=SECONDS]",
        ),
        ("keylock://127.0.0.1:{hub}/K1?noise=2", 2, "noise=2.0 must be at least 0 and below 1"),
        ("keylock://127.0.0.1:{hub}/K1?timeout=-1", 2, "timeout=-1 must be a number of seconds above 0"),
        ("keylock://127.0.0.1", 2, "expected a URL of the form keylock://HOST:PORT/DEVICE"),
    ],
    ids=[
        "unknown_scheme",
        "no_such_tty",
        "refused",
        "socket_no_port",
        "socket_port_range",
        "socket_logging",
        "rfc2217_timeout",
        "hwgrep_nothing",
        "unknown_device",
        "unknown_option",
        "bad_noise",
        "bad_timeout",
        "no_device",
    ],
)
def test_a_port_that_cannot_be_opened_is_named_with_the_reason(served, capsys, url, exit_code, message):
    hub = served.devices["K1"]["url"].split("/")[2].split(":")[1]
    values = {"free": free_port(), "hub": hub}
    code, out, err = cli(capsys, "--port", url.format(**values), "info")
    assert code == exit_code and out == ""
    assert err.startswith("keylock: ") and err.count("\n") == 1 and message.format(**values) in err, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root opens a tty even in exclusive mode")
def test_a_busy_port_says_so(served, capsys):
    pty = served.devices["K2"]["pty"]
    fd = os.open(pty, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.ioctl(fd, termios.TIOCEXCL)
        code, _, err = cli(capsys, "--port", pty, "info")
        assert code == 1 and f"keylock: {pty}: the port is busy" in err
    finally:
        os.close(fd)


def test_silence_is_no_answer_within_the_timeout(capsys):
    # a port that takes the request and never answers: a TCP listener that reads nothing
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        code, _, err = cli(capsys, "--port", url, "--timeout-ms", "50", "--retries", "1", "info")
        assert code == 1 and err == f"keylock: {url}: no answer within 50 ms (2 attempts)\n"
        code, _, err = cli(capsys, "--port", url, "--timeout-ms", "50", "--retries", "0", "info")
    assert code == 1 and err == f"keylock: {url}: no answer within 50 ms (1 attempt)\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--bogus", "info"], "unknown option '--bogus' before the command"),
        (["--port"], "--port needs a value"),
        (["--port", "socket://x:1", "decode", "a5"], "--port is for device commands, not `decode`"),
        (["--port", "socket://x:1", "--timeout-ms", "0", "info"], "--timeout-ms must be above 0"),
        (["--port", "socket://x:1", "--retries", "-1", "info"], "--retries must be at least 0"),
    ],
)
def test_bad_options_exit_2_and_change_nothing(capsys, argv, message):
    code, _, err = cli(capsys, *argv)
    assert code == 2 and message in err


def test_bad_sync_arguments_are_refused_before_any_port_is_opened(capsys):
    # a port nobody listens on: the usage error must come first, with exit 2
    assert main(["--port", "socket://127.0.0.1:1", "time", "--sync"]) == 2
    assert capsys.readouterr().err == "keylock: --sync needs --server DB and --key NAME, and no --set\n"


def test_ctrl_c_while_waiting_for_an_answer_is_one_line(tmp_path):
    # a real process asks a listener that never answers; once its request has arrived, Ctrl-C
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        script = Path(sys.executable).with_name("keylock")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "keylock.host.cli"]
        proc = subprocess.Popen([*command, "--port", url, "--timeout-ms", "60000", "info"], stderr=subprocess.PIPE, text=True)
        try:
            conn, _ = server.accept()
            with conn:
                assert conn.recv(64)  # the request: the process is now waiting for the answer
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 1 and err == "keylock: interrupted\n"
