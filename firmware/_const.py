# `const` for every runtime. MicroPython's compiler folds `X = const(1)` wherever the name
# `const` is called, so importing it from here costs nothing on a board; CPython (the
# emulator, host tools) gets the identity function.


def _identity(expr):
    return expr


try:
    from micropython import const
except ImportError:
    const = _identity
