"""keylock's own small error hierarchy: the CLI catches KeylockError and prints its message."""


class KeylockError(Exception):
    """An error a user can act on; the message says what went wrong and what to do."""

    exit_code = 1


class UsageError(KeylockError):
    """Bad input on the command line or in a file: nothing was changed."""

    exit_code = 2
