# Imports for tests that run unchanged on CPython (collected by pytest) and on MicroPython
# (run by tests/test_on_micropython.py inside the WebAssembly port). Plain asserts only.
import json
import sys

try:
    import os

    from keylock_fw import (  # MicroPython: mounted as on a board
        audit,
        codec,
        crypto,
        device,
        flash,
        frame,
        hal,
        handshake,
        key_app,
        secure,
        session,
        signed,
        storage,
    )

    # The WebAssembly port has the vectors mounted at /vectors; the unix port reads them where
    # they are, named by the test that starts it (tests/firmware/test_on_micropython.py).
    DATA_DIR = (getattr(os, "getenv", None) and os.getenv("KEYLOCK_VECTORS")) or "/vectors"
except ImportError:
    from keylock.firmware import audit, codec, crypto, device, flash, frame, hal, handshake, key_app, secure, session, signed, storage  # noqa: F401
    from keylock.protocol.vectors import VECTORS_FILE

    DATA_DIR = str(VECTORS_FILE.parent)

TEST_DIR = __file__.rsplit("/", 1)[0]
ON_MICROPYTHON = sys.implementation.name == "micropython"

TYPE_CODES = {name.upper(): code for code, name in codec.NAMES.items()}


def load_file(path):
    with open(path) as f:
        return json.load(f)


def load(name, key, folder=None):
    return load_file((folder or DATA_DIR) + "/" + name)[key]


def from_json(value):
    """Vector fields: every JSON string is bytes in hex."""
    if isinstance(value, str):
        return bytes.fromhex(value)
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    return value


def to_json(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def roundtrip(t, seq, fields_json, mac_hex, frame_hex):
    """Encode the fields and decode the frame on this runtime; JSON-able results."""
    mac = bytes.fromhex(mac_hex) if mac_hex else None
    encoded = frame.encode_message(t, seq, from_json(fields_json), mac).hex()
    t2, seq2, fields2, mac2 = frame.decode(bytes.fromhex(frame_hex))
    return [encoded, t2, seq2, to_json(fields2), mac2.hex() if mac2 else None]


def receive(stream_hex, chunk_sizes):
    r = frame.Receiver()
    data = bytes.fromhex(stream_hex)
    got = []
    i = 0
    for n in chunk_sizes:
        got += r.feed(data[i : i + n])
        i += n
    got += r.feed(data[i:])
    got += r.idle()
    return [bytes(f).hex() for f in got]


_temp = {}


def new_path(prefix, name):
    """A fresh file path in a folder of this run (/tmp in the WebAssembly port's memory)."""
    folder = _temp.get(prefix)
    if folder is None:
        if ON_MICROPYTHON:
            import os

            # /tmp is the WebAssembly port's memory, or the unix port's real /tmp shared by
            # every run: a random name keeps concurrent runs apart.
            folder = "/tmp/" + prefix + "_" + hal.urandom(4).hex()
            try:
                os.mkdir(folder)
            except OSError:
                pass
        else:
            import atexit
            import shutil
            import tempfile

            folder = tempfile.mkdtemp(prefix=prefix + "_")
            atexit.register(shutil.rmtree, folder, True)
        _temp[prefix] = folder
    _temp[prefix + "#"] = _temp.get(prefix + "#", 0) + 1
    path = folder + "/" + name + str(_temp[prefix + "#"])
    try:
        import os

        os.remove(path)
    except OSError:
        pass
    return path
