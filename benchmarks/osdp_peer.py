"""The commercial anchor measured in the same run: OSDP's secure-channel set-up in libosdp
(the C library, through its PyPI binding), control panel and peripheral device in one
process on an in-memory line, driven by calling their refresh() alternately with no sleeps,
so the time measured is CPU, not timer waits.

The set-up is osdp_CHLNG -> osdp_CCRYPT, osdp_SCRYPT -> osdp_RMAC_I (security block types
0x11-0x14): those four packets are counted, bytes and round trips, and timed from the moment
CHLNG is written until the control panel reports the channel active.
"""

import statistics
import time

import osdp

SOM = 0x53
SCS_CHLNG, SCS_RMAC_I = 0x11, 0x14


class Line(osdp.Channel):
    """One end of an in-memory serial line; remembers every write."""

    def __init__(self, rx: bytearray, tx: bytearray, log: list):
        super().__init__()
        self.rx, self.tx, self.log = rx, tx, log

    def read(self, max_bytes: int) -> bytes:
        data = bytes(self.rx[:max_bytes])
        del self.rx[:max_bytes]
        return data

    def write(self, buf: bytes) -> int:
        self.tx += buf
        self.log.append((time.perf_counter_ns(), bytes(buf)))
        return len(buf)

    def flush(self) -> None:
        pass


def packets(data: bytes):
    """Split OSDP packets (a 0xFF mark byte may precede SOM); yields (packet, scb_type or None)."""
    i = 0
    while i < len(data):
        if data[i] != SOM:
            i += 1
            continue
        length = data[i + 2] | data[i + 3] << 8
        packet = data[i : i + length]
        ctrl = packet[4]
        scb_type = packet[6] if ctrl & 0x08 else None
        yield packet, scb_type
        i += length


def one_setup(max_refreshes: int = 200_000) -> dict:
    a2b, b2a = bytearray(), bytearray()
    log: list = []
    scbk = bytes(range(16))
    flags = [osdp.LibFlag.EnforceSecure]
    cp = osdp.ControlPanel([osdp.PDInfo(101, Line(b2a, a2b, log), scbk=scbk, flags=flags)], log_level=osdp.LogLevel.Emergency)
    pd = osdp.PeripheralDevice(
        osdp.PDInfo(101, Line(a2b, b2a, log), scbk=scbk, flags=flags),
        osdp.PDCapabilities([(osdp.Capability.CommunicationSecurity, 1, 1)]),
        log_level=osdp.LogLevel.Emergency,
    )
    cp_ctx, pd_ctx = cp.ctx, pd.ctx
    assert cp_ctx is not None and pd_ctx is not None, "libosdp did not set up its contexts"
    for _ in range(max_refreshes):
        cp_ctx.refresh()
        pd_ctx.refresh()
        if cp_ctx.sc_status() & 1:
            break
    else:
        raise RuntimeError("libosdp did not establish a secure channel")
    done_ns = time.perf_counter_ns()
    sc = [(t, p, s) for t, buf in log for p, s in packets(buf) if s is not None and SCS_CHLNG <= s <= SCS_RMAC_I]
    start_ns = next(t for t, _, s in sc if s == SCS_CHLNG)
    wire_bytes = sum(len(p) for _, p, _ in sc)
    return {"wire_bytes": wire_bytes, "packets": len(sc), "round_trips": len(sc) // 2, "handshake_us": (done_ns - start_ns) / 1000}


def run(rounds: int = 15) -> dict:
    runs = [one_setup() for _ in range(rounds)]
    return {
        "round_trips": runs[0]["round_trips"],
        "wire_bytes": runs[0]["wire_bytes"],
        "handshake_us": statistics.median(r["handshake_us"] for r in runs),
        "rounds": rounds,
        "library": "libosdp " + getattr(osdp, "__version__", "3.2.9"),
    }


if __name__ == "__main__":
    print(run())
