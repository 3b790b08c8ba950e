"""The handshake across runtimes (CPython <-> real MicroPython), nonce freshness across
fresh processes, and the structure of the handshake path (no per-byte loops, secrets
compared only in constant time)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from keylock.firmware import codec, crypto, handshake
from keylock.host.runtime.micropython import MicroPython

SITE = bytes(range(32))  # the lock's compartment secret
COMPARTMENT = (1, 7)
KEY_ID = 4242
# A key's secret_for on MicroPython: its secret for COMPARTMENT only.
MP_SECRET_FOR = "def secret_for(kind, target):\n    return crypto.HmacKey(SECRET) if (kind, target) == (1, 7) else None\n"
FIRMWARE = Path(handshake.__file__).resolve().parent


@pytest.fixture(scope="module")
def mp():
    with MicroPython() as m:
        m.exec("from keylock_fw import handshake, crypto, codec\n" + MP_SECRET_FOR)
        yield m


def key_secret():
    return crypto.key_secret(crypto.HmacKey(SITE), KEY_ID)


def secret_for(kind, target):
    return crypto.HmacKey(key_secret()) if (kind, target) == COMPARTMENT else None


def new_lock(secret=SITE):
    return handshake.LockResponder(crypto.HmacKey(secret), COMPARTMENT)


def test_key_on_cpython_lock_on_micropython(mp):
    mp.exec(f"L = handshake.LockResponder(crypto.HmacKey(bytes.fromhex({SITE.hex()!r})), (1, 7))")
    k = handshake.KeyInitiator(KEY_ID, secret_for)
    challenge = bytes.fromhex(mp.eval(f"L.on_hello(bytes.fromhex({k.hello().hex()!r})).hex()"))
    proof = k.on_challenge(challenge)
    accept = bytes.fromhex(mp.eval(f"L.on_proof(bytes.fromhex({proof.hex()!r})).hex()"))
    session = k.on_accept(accept)
    assert mp.eval("L.key_id") == KEY_ID
    sealed = session.seal(codec.T_AUDIT_ACK, 1, {"lock_id": 7, "up_to_seq": 99})
    assert mp.eval(f"L.session.open(bytes.fromhex({sealed.hex()!r}))[2]['up_to_seq']") == 99
    reply = bytes.fromhex(mp.eval("L.session.seal(codec.T_AUDIT_ACK, 2, {'lock_id': 7, 'up_to_seq': 100}).hex()"))
    assert session.open(reply)[2]["up_to_seq"] == 100


def test_key_on_micropython_lock_on_cpython(mp):
    mp.exec(f"SECRET = bytes.fromhex({key_secret().hex()!r})\nK = handshake.KeyInitiator({KEY_ID}, secret_for)")
    lock = new_lock()
    challenge = lock.on_hello(bytes.fromhex(mp.eval("K.hello().hex()")))
    proof = bytes.fromhex(mp.eval(f"K.on_challenge(bytes.fromhex({challenge.hex()!r})).hex()"))
    accept = lock.on_proof(proof)
    mp.exec(f"S = K.on_accept(bytes.fromhex({accept.hex()!r}))")
    sealed = bytes.fromhex(mp.eval("S.seal(codec.T_AUDIT_ACK, 1, {'lock_id': 3, 'up_to_seq': 5}).hex()"))
    assert lock.session.open(sealed)[2] == {"lock_id": 3, "up_to_seq": 5}


def test_micropython_key_refuses_a_lock_of_another_site(mp):
    mp.exec(f"SECRET = bytes.fromhex({key_secret().hex()!r})\nK = handshake.KeyInitiator({KEY_ID}, secret_for)")
    challenge = new_lock(bytes(32)).on_hello(bytes.fromhex(mp.eval("K.hello().hex()")))
    mp.exec(
        f"_r = None\ntry:\n    K.on_challenge(bytes.fromhex({challenge.hex()!r}))\nexcept handshake.HandshakeError as e:\n    _r = e.reason"
    )
    assert mp.eval("_r") == "bad_proof"


HELLO_NONCE = "from keylock_fw import handshake\nprint(handshake.KeyInitiator(1, None).hello()[9:25].hex())\n"


def test_nonces_differ_across_fresh_processes_on_both_runtimes(tmp_path):
    script = tmp_path / "nonce.py"
    script.write_text(HELLO_NONCE)
    from keylock.host.runtime.micropython import run_script

    nonces = [run_script(script).strip() for _ in range(4)]
    cpython = "from keylock.firmware import handshake\nprint(handshake.KeyInitiator(1, None).hello()[9:25].hex())"
    nonces += [subprocess.run([sys.executable, "-c", cpython], capture_output=True, text=True, check=True).stdout.strip() for _ in range(4)]
    lock_script = tmp_path / "lock_nonce.py"
    lock_script.write_text(
        "from keylock_fw import crypto, handshake\n"
        "h = handshake.KeyInitiator(1, None).hello()\n"
        "print(handshake.LockResponder(crypto.HmacKey(bytes(32)), (1, 7)).on_hello(h)[5:21].hex())\n"
    )
    nonces += [run_script(lock_script).strip() for _ in range(3)]
    assert all(len(n) == 32 for n in nonces)
    assert len(set(nonces)) == len(nonces)


def _functions(path):
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)]


@pytest.mark.parametrize("module", ["handshake.py", "session.py"])
def test_handshake_path_has_no_loops(module):
    for fn in _functions(FIRMWARE / module):
        loops = [n for n in ast.walk(fn) if isinstance(n, (ast.For, ast.While, ast.comprehension))]
        assert not loops, f"{module}:{fn.name} loops at line {loops[0].lineno}"


def test_crypto_loops_only_over_kdf_blocks():
    looping = {
        fn.name
        for fn in _functions(FIRMWARE / "crypto.py")
        if any(isinstance(n, (ast.For, ast.While, ast.comprehension)) for n in ast.walk(fn))
    }
    assert looping == {"kdf_counter"}  # one iteration per 32-byte block, not per byte


@pytest.mark.parametrize("module", ["handshake.py", "session.py"])
def test_proofs_and_macs_are_compared_in_constant_time(module):
    # No == or != anywhere near a proof or MAC: those go through crypto.ct_equal.
    tree = ast.parse((FIRMWARE / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            text = ast.unparse(node)
            assert "proof" not in text and "mac" not in text.lower(), f"{module}:{node.lineno}: {text}"
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) in ("crypto.ct_equal", "_ct_equal")]
    assert calls
    if "_ct_equal(" in (FIRMWARE / module).read_text():
        assert "_ct_equal = crypto.ct_equal" in (FIRMWARE / module).read_text()
