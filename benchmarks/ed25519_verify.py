# Ed25519 signature verification (RFC 8032 section 5.1.7) in plain Python that runs unchanged
# on CPython and on MicroPython (arbitrary-precision ints; nothing but hashlib, and not even
# that for SHA-512). It verifies only: a lock holds the server's public key, never a secret.
#
# MicroPython's hashlib has no SHA-512 (the unix port and the boards offer sha256, sha1 and
# md5 at most), so SHA-512 is here in Python too and is used wherever hashlib lacks it, as a
# board would have to. Points are in extended coordinates (X:Y:Z:T, x = X/Z, y = Y/Z,
# xy = T/Z; RFC 8032 5.1.4), the double-scalar product [S]B - [k]A by Straus's method with
# width-5 NAFs of both scalars sharing one chain of doublings (256 doublings, a third of them
# with T, and about 96 additions per verify), all of it big-int arithmetic modulo
# p = 2^255 - 19; two modular exponentiations (decoding A, encoding the result).

from array import array

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # the order of the base point
D = 37095705934669439343138083508754565189542113879843219016388785533085940283555  # -121665/121666
D2 = 2 * D % P
SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752  # 2^((p-1)/4)
_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960  # 4/5
_W = 5  # NAF width: tables of the odd multiples 1, 3, ..., 15

# --- SHA-512 (FIPS 180-4) ----------------------------------------------------------------

_M64 = 0xFFFFFFFFFFFFFFFF
_H0 = (0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
       0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179)  # fmt: skip
_K = (
    0x428A2F98D728AE22, 0x7137449123EF65CD, 0xB5C0FBCFEC4D3B2F, 0xE9B5DBA58189DBBC, 0x3956C25BF348B538,
    0x59F111F1B605D019, 0x923F82A4AF194F9B, 0xAB1C5ED5DA6D8118, 0xD807AA98A3030242, 0x12835B0145706FBE,
    0x243185BE4EE4B28C, 0x550C7DC3D5FFB4E2, 0x72BE5D74F27B896F, 0x80DEB1FE3B1696B1, 0x9BDC06A725C71235,
    0xC19BF174CF692694, 0xE49B69C19EF14AD2, 0xEFBE4786384F25E3, 0x0FC19DC68B8CD5B5, 0x240CA1CC77AC9C65,
    0x2DE92C6F592B0275, 0x4A7484AA6EA6E483, 0x5CB0A9DCBD41FBD4, 0x76F988DA831153B5, 0x983E5152EE66DFAB,
    0xA831C66D2DB43210, 0xB00327C898FB213F, 0xBF597FC7BEEF0EE4, 0xC6E00BF33DA88FC2, 0xD5A79147930AA725,
    0x06CA6351E003826F, 0x142929670A0E6E70, 0x27B70A8546D22FFC, 0x2E1B21385C26C926, 0x4D2C6DFC5AC42AED,
    0x53380D139D95B3DF, 0x650A73548BAF63DE, 0x766A0ABB3C77B2A8, 0x81C2C92E47EDAEE6, 0x92722C851482353B,
    0xA2BFE8A14CF10364, 0xA81A664BBC423001, 0xC24B8B70D0F89791, 0xC76C51A30654BE30, 0xD192E819D6EF5218,
    0xD69906245565A910, 0xF40E35855771202A, 0x106AA07032BBD1B8, 0x19A4C116B8D2D0C8, 0x1E376C085141AB53,
    0x2748774CDF8EEB99, 0x34B0BCB5E19B48A8, 0x391C0CB3C5C95A63, 0x4ED8AA4AE3418ACB, 0x5B9CCA4F7763E373,
    0x682E6FF3D6B2B8A3, 0x748F82EE5DEFB2FC, 0x78A5636F43172F60, 0x84C87814A1F0AB72, 0x8CC702081A6439EC,
    0x90BEFFFA23631E28, 0xA4506CEBDE82BDE9, 0xBEF9A3F7B2C67915, 0xC67178F2E372532B, 0xCA273ECEEA26619C,
    0xD186B8C721C0C207, 0xEADA7DD6CDE0EB1E, 0xF57D4F7FEE6ED178, 0x06F067AA72176FBA, 0x0A637DC5A2C898A6,
    0x113F9804BEF90DAE, 0x1B710B35131C471B, 0x28DB77F523047D84, 0x32CAAB7B40C72493, 0x3C9EBE0A15C9BEBC,
    0x431D67C49C100D4C, 0x4CC5D4BECB3E42B6, 0x597F299CFC657E2A, 0x5FCB6FAB3AD6FAEC, 0x6C44198C4A475817,
)  # fmt: skip


def sha512_python(data):
    """SHA-512 of `data` (bytes) in plain Python: what a MicroPython board has to run."""
    n = len(data)
    data = bytes(data) + b"\x80" + bytes((111 - n) % 128) + (8 * n).to_bytes(16, "big")
    h = list(_H0)
    for i in range(0, len(data), 128):
        w = [int.from_bytes(data[j : j + 8], "big") for j in range(i, i + 128, 8)]
        for t in range(16, 80):
            x, y = w[t - 15], w[t - 2]
            s0 = ((x >> 1 | x << 63) ^ (x >> 8 | x << 56) ^ x >> 7) & _M64
            s1 = ((y >> 19 | y << 45) ^ (y >> 61 | y << 3) ^ y >> 6) & _M64
            w.append((w[t - 16] + s0 + w[t - 7] + s1) & _M64)
        a, b, c, d, e, f, g, hh = h
        for t in range(80):
            s1 = ((e >> 14 | e << 50) ^ (e >> 18 | e << 46) ^ (e >> 41 | e << 23)) & _M64
            t1 = hh + s1 + (g ^ (e & (f ^ g))) + _K[t] + w[t]
            s0 = ((a >> 28 | a << 36) ^ (a >> 34 | a << 30) ^ (a >> 39 | a << 25)) & _M64
            hh, g, f, e = g, f, e, (d + t1) & _M64
            d, c, b, a = c, b, a, (t1 + s0 + ((a & b) | (c & (a | b)))) & _M64
        h = [(u + v) & _M64 for u, v in zip(h, (a, b, c, d, e, f, g, hh))]  # noqa: B905  (MicroPython's zip has no strict)
    return b"".join(u.to_bytes(8, "big") for u in h)


try:
    from hashlib import sha512 as _hashlib_sha512

    def sha512(data):
        return _hashlib_sha512(data).digest()

    SHA512 = "hashlib"
except ImportError:  # MicroPython
    sha512 = sha512_python
    SHA512 = "python"

# --- the curve: -x^2 + y^2 = 1 + d x^2 y^2 over GF(p) ------------------------------------
# A table entry is a point "cached" for addition as (Y - X, Y + X, 2Z, 2dT).


def _add(p, q):
    """p + q: p extended, q cached (RFC 8032 5.1.4 with q's factors precomputed: 8M)."""
    x1, y1, z1, t1 = p
    a = (y1 - x1) * q[0] % P
    b = (y1 + x1) * q[1] % P
    c = t1 * q[3] % P
    d = z1 * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _sub(p, q):
    """p - q (-q swaps Y - X with Y + X and negates T)."""
    x1, y1, z1, t1 = p
    a = (y1 - x1) * q[1] % P
    b = (y1 + x1) * q[0] % P
    c = -t1 * q[3] % P
    d = z1 * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p, with_t=True):
    """2p (RFC 8032 5.1.4); T only when an addition follows (4S + 3M, +1M for T)."""
    x1, y1, z1, _ = p
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % P
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P if with_t else None)


def _cached(p):
    x, y, z, t = p
    return ((y - x) % P, (y + x) % P, 2 * z % P, t * D2 % P)


def _odd_multiples(p):
    """[p, 3p, 5p, ..., 15p], cached."""
    two_p = _cached(_double(p))
    table = [_cached(p)]
    for _ in range(1, 1 << (_W - 2)):
        p = _add(p, two_p)
        table.append(_cached(p))
    return table


def _naf(k):
    """The width-5 NAF of 0 <= k < 2^255, least significant digit first: 256 digits, odd or
    zero, in -15..15, as signed bytes (a list would take a word per digit of a small heap)."""
    digits = array("b", bytes(256))
    i = 0
    while k:
        if k & 1:
            d = k & 31
            if d > 16:
                d -= 32
            k -= d
            digits[i] = d
        k >>= 1
        i += 1
    return digits


def _decode_point(s):
    """RFC 8032 5.1.3: 32 bytes to an extended point, or None when they encode none."""
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    yy = y * y % P
    u, v = yy - 1, (D * yy + 1) % P
    v3 = v * v % P * v % P
    x = u * v3 % P * pow(u * v3 % P * v3 % P * v % P, (P - 5) // 8, P) % P
    vxx = v * x % P * x % P
    if vxx != u % P:
        if vxx != -u % P:
            return None
        x = x * SQRT_M1 % P
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def _encode_point(p):
    x, y, z, _ = p
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


_B_TABLE = _odd_multiples((_BX, _BY, 1, _BX * _BY % P))


def verify(public_key, message, signature):
    """True when `signature` (64 bytes) is an Ed25519 signature of `message` (bytes) under
    `public_key` (32 bytes): RFC 8032 5.1.7, checking [S]B = R + [k]A (cofactorless, as the
    RFC's own reference code does). S must be canonical (S < L); R must decode, which holds
    exactly when it equals the canonical encoding of [S]B - [k]A, so that is what is compared."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decode_point(public_key)
    if a is None:
        return False
    r, s = signature[:32], int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(sha512(bytes(r) + bytes(public_key) + bytes(message)), "little") % L
    a_table, ns, nk = _odd_multiples(a), _naf(s), _naf(k)
    q = (0, 1, 1, 0)  # the neutral point
    for i in range(255, -1, -1):
        ds, dk = ns[i], nk[i]
        q = _double(q, bool(ds or dk))
        if ds > 0:
            q = _add(q, _B_TABLE[ds >> 1])
        elif ds < 0:
            q = _sub(q, _B_TABLE[-ds >> 1])
        if dk > 0:
            q = _sub(q, a_table[dk >> 1])
        elif dk < 0:
            q = _add(q, a_table[-dk >> 1])
    return _encode_point(q) == bytes(r)
