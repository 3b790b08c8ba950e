# `const` for every runtime. MicroPython's compiler folds `X = const(1)` wherever the name
# `const` is called, so importing it from here costs nothing on a board; CPython (the
# emulator, host tools) gets the identity function.
try:
    from micropython import const
except ImportError:

    def const(expr):  # type: ignore[no-redef]
        return expr
