# Times the firmware's Receiver on one 16 KB frame (a 4,000-id BLOCKLIST_UPDATE) fed one byte
# at a time, as the board loop feeds it, and in one piece. Runtime neutral: imported by
# benchmarks/receive.py on CPython, run by a generated script on MicroPython (WebAssembly and
# unix ports), where the firmware is package `keylock_fw` or another name given to run().
import gc
import sys
import time

if hasattr(time, "ticks_us"):

    def now_us():  # pyright: ignore[reportRedeclaration]  (one of two definitions, by runtime)
        return time.ticks_us()  # pyright: ignore[reportAttributeAccessIssue]

    def elapsed_us(t0):  # pyright: ignore[reportRedeclaration]
        return time.ticks_diff(time.ticks_us(), t0)  # pyright: ignore[reportAttributeAccessIssue]

else:

    def now_us():
        return time.perf_counter_ns() / 1000

    def elapsed_us(t0):
        return time.perf_counter_ns() / 1000 - t0


IDS = 4000  # protocol/messages.py's MAX_BLOCKLIST: the longest blocklist, about 16 KB framed
WARM_UP = 3  # uncounted runs first: Node compiles the WebAssembly port's interpreter in tiers, in the background
BULK_BATCH = 10  # whole-frame feeds per sample: one is below the WebAssembly port's clock step


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def blocklist_frame(codec, frame):
    m = {"version": 2, "key_ids": list(range(100_000, 100_000 + IDS)), "macs": []}
    return frame.encode_message(codec.T_BLOCKLIST_UPDATE, 1, m)


def byte_by_byte(frame, raw):
    """Microseconds to feed `raw` one byte at a time into a new Receiver; the frames found."""
    r = frame.Receiver()
    got = []
    feed_byte = getattr(r, "feed_byte", None)
    t0 = now_us()
    if feed_byte is not None:
        for c in raw:
            if feed_byte(c):
                got += r.take()
    else:  # a receiver from before feed_byte, fed as that board loop fed it
        for i in range(len(raw)):
            got += r.feed(raw[i : i + 1])
    return elapsed_us(t0), got


def whole(frame, raw):
    """Microseconds per feed of `raw` in one call (a mean over BULK_BATCH receivers)."""
    rs = [frame.Receiver() for _ in range(BULK_BATCH)]
    t0 = now_us()
    for r in rs:
        got = r.feed(raw)
    us = elapsed_us(t0) / BULK_BATCH
    return us, got


def run(runs, frame, codec):
    raw = blocklist_frame(codec, frame)
    for _ in range(WARM_UP):
        byte_by_byte(frame, raw)
        gc.collect()
    byte_us, bulk_us = [], []
    for _ in range(runs):
        gc.collect()  # each run from a collected heap: the former receiver leaves 16 KB copies behind
        us, got = byte_by_byte(frame, raw)
        if got != [raw]:
            raise AssertionError("the byte path did not return the frame")
        byte_us.append(us)
        us, got = whole(frame, raw)
        if got != [raw]:
            raise AssertionError("a whole feed did not return the frame")
        bulk_us.append(us)
        gc.collect()
    return {
        "runtime": sys.implementation.name,
        "frame_bytes": len(raw),
        "runs": runs,
        "api": "feed_byte" if hasattr(frame.Receiver(), "feed_byte") else "feed",
        "byte_ms": [round(us / 1000, 3) for us in byte_us],
        "byte_ms_median": round(median(byte_us) / 1000, 3),
        "whole_ms_median": round(median(bulk_us) / 1000, 3),
    }


def run_package(runs, package="keylock_fw"):
    """run() with the firmware imported as `package` (MicroPython: a mounted or pathed folder)."""
    __import__(package + ".codec")
    __import__(package + ".frame")
    return run(runs, sys.modules[package + ".frame"], sys.modules[package + ".codec"])
