"""Line noise: every byte on keylock://...?noise=RATE&seed=N is dropped or has a bit flipped
with that probability. Commands still succeed through retries, or fail with a clear
`keylock: ...` (no answer, or the device's status for a damaged request): never a hang,
never a traceback. Each run is a real `keylock` process, bounded by a timeout."""

import json
import subprocess
import sys

import pytest

BOUND_S = 60  # far above the worst case: 1 + retries attempts of timeout_ms each, per request
COMMANDS = [
    ["info"],
    ["status"],
    ["time"],
    ["audit"],
    ["pair", "--phone", "9001"],
    ["unpair", "--phone", "9001", "--key", "K1", "--server"],
]


def keylock(*argv):
    run = subprocess.run([sys.executable, "-m", "keylock.host.cli", *argv], capture_output=True, text=True, timeout=BOUND_S)
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode in (0, 1), (run.returncode, run.stderr)
    if run.returncode:
        if "--json" in argv:  # the error as JSON on stdout, its exit code kept
            assert run.stderr == "" and json.loads(run.stdout)["exit_code"] == run.returncode, run.stdout
            message = json.loads(run.stdout)["error"]
        else:
            assert run.stderr.startswith("keylock: ") and run.stderr.count("\n") == 1, run.stderr
            message = run.stderr
        assert "no answer within" in message or "with status" in message or "expected" in message, message
    return run


def server_of(command, served):
    return [served.server] if command[-1] == "--server" else []


def noisy(served, rate, seed):
    return f"{served.devices['K1']['url']}?noise={rate}&seed={seed}"


@pytest.mark.parametrize("seed", [1])
def test_light_noise_is_ridden_out_by_retries(served, seed):
    runs = [
        keylock(
            "--port", noisy(served, 0.01, seed * 100 + i), "--timeout-ms", "200", "--retries", "6", *command, *server_of(command, served)
        )
        for i, command in enumerate(COMMANDS)
    ]
    # pair/unpair may legitimately fail when a retry repeats a command that had already
    # taken effect; the reads must get through
    assert sum(run.returncode == 0 for run in runs) >= 4, [run.stderr for run in runs]
    keylock("--port", served.devices["K1"]["socket"], *COMMANDS[-1], served.server)  # whatever happened, clean


def test_heavy_noise_fails_with_no_answer_in_bounded_time(served):
    run = keylock("--port", noisy(served, 0.5, 7), "--timeout-ms", "100", "--retries", "3", "status")
    assert run.returncode == 1 and "no answer within 100 ms (4 attempts)" in run.stderr


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_any_outcome_is_clear(served, rate):
    for seed in range(2):
        keylock("--port", noisy(served, rate, seed), "--timeout-ms", "100", "--retries", "2", "audit", "--json")
