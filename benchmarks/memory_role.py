# One device of a key-lock transaction, alone in its MicroPython process (benchmarks/memory.py
# starts one per role, each with its own capped heap, and carries the frames between them).
#
#     micropython -X heapsize=64wK -m memory_role ROLE FOLDER KEY_TIME_S RESULT_FILE
#
# The device boots from FOLDER/ROLE.flash and FOLDER/ROLE.secure (prepared on CPython by the
# host), then serves its contact link on stdin/stdout as raw frames: each read whole into one
# preallocated buffer (a board's UART receive buffer) by its length field and handed to the app
# as a memoryview of it. The key sends its
# HELLO first and exits when its transaction is over; the lock answers until stdin closes.
# A lock that has no answer writes one 0x00 byte (never a frame's start).
# RESULT_FILE gets `name value` lines: heap figures by gc.mem_alloc() (after gc.collect(), so
# live objects only, relative to the heap before the firmware was imported) and what the
# device did. Plain MicroPython: it runs only there (no json: its import would be counted).
import gc
import sys

_MAX_FRAME = 3 + 16384 + 4  # start, length, body up to codec.MAX_LENGTH, CRC


def _live():
    gc.collect()
    return gc.mem_alloc()  # pyright: ignore[reportAttributeAccessIssue]


def _read_frame(stdin, mv):
    """Length of the next frame read into mv, or 0 at end of input."""
    if _read_exact(stdin, mv, 0, 3) < 3:
        return 0
    n = 3 + (mv[1] | mv[2] << 8) + 4
    if n > len(mv) or _read_exact(stdin, mv, 3, n) < n:
        return 0
    return n


def _read_exact(stdin, mv, start, end):
    while start < end:
        got = stdin.readinto(mv[start:end])
        if not got:
            return start
        start += got
    return start


def main(argv):
    role, folder, key_time_s, result_path = argv[0], argv[1], int(argv[2]), argv[3]
    base = _live()
    from keylock_fw import device, flash, secure  # pyright: ignore[reportMissingImports]

    if role == "key":
        from keylock_fw import key_app as app_module  # pyright: ignore[reportMissingImports]
    else:
        from keylock_fw import lock_app as app_module  # pyright: ignore[reportMissingImports]
    imports = _live() - base
    stem = folder + "/" + role
    dev = device.Device(flash.FileFlash(stem + ".flash", app_module.FLASH_SECTORS), secure.FileSecureStorage(stem + ".secure"))
    if role == "key":
        dev.set_clock(key_time_s)  # the key's RTC, kept by its backup domain
        app = app_module.KeyApp(dev)
    else:
        app = app_module.LockApp(dev)
    booted = _live() - base
    buf = bytearray(_MAX_FRAME)
    mv = memoryview(buf)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    peak = booted
    frames = 0
    biggest = 0
    out = app.begin() if role == "key" else None
    if out is not None:
        stdout.write(out)
    while role == "lock" or out is not None:
        n = _read_frame(stdin, mv)
        if not n:
            if role == "key":
                app.link_lost()
            break
        frames += 1
        biggest = max(biggest, n)
        out = None
        # The frame where it was received, as a zero-copy receiver hands it over.
        out = app.on_lock_frame(mv[:n]) if role == "key" else app.on_key_frame(mv[:n])
        live = _live() - base
        peak = max(peak, live)
        if out is not None:
            stdout.write(out)
        elif role == "lock":
            stdout.write(b"\x00")
    out = None
    with open(result_path, "w") as f:
        f.write("imports %d\nbooted %d\npeak_live %d\nafter %d\n" % (imports, booted, peak, _live() - base))
        f.write("frames_in %d\nbiggest_frame %d\n" % (frames, biggest))
        f.write("modules %s\n" % ",".join(sorted(k for k in sys.modules if k.startswith("keylock_fw"))))
        if role == "key":
            outcome = app.outcome or (-1, -1)
            f.write("outcome %d\nreason %d\ncarried %d\n" % (outcome[0], outcome[1], app.carried.next_seq))
        else:
            f.write("blocklist_version %d\ncopy_from %d\n" % (app.status()["blocklist_version"], app.copy_from))


main(sys.argv[1:])
