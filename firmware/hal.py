# Hardware services the firmware asks for, as module attributes a port or a test can swap.
# Randomness comes from the platform's CSPRNG: os.urandom on CPython and on boards (the
# hardware RNG), Node's crypto through the `kl_host` JS module in the WebAssembly port.
# Never `random`.
try:
    from os import urandom as _urandom
except ImportError:
    _urandom = None

if _urandom is None:
    try:
        from kl_host import urandom as _js_urandom  # the WebAssembly runner (host/runtime/mp_runner.mjs)
    except ImportError:
        _js_urandom = None


def urandom(n):
    if _urandom is not None:
        return _urandom(n)
    if _js_urandom is None:
        raise OSError("no secure random source on this port")
    return bytes(_js_urandom(n))
