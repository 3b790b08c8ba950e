# The flash HAL and power-fail-safe storage: behaviour, reboots, and a power cut at every
# flash program and erase of a representative workload. Runs on CPython and on MicroPython.
import os

from fwenv import flash, storage
from fwenv import new_path as _new_path


def new_path():
    return _new_path("kl_storage", "dev")


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return True
    raise AssertionError("%s not raised" % exc.__name__)


def record(i):
    return bytes([i & 0xFF]) * 9 + i.to_bytes(9, "big")


# --- flash HAL -------------------------------------------------------------------------


def test_file_flash_is_nor_flash_that_persists():
    path = new_path()
    f = flash.FileFlash(path, 4, sector_size=256)
    assert (f.sectors, f.sector_size) == (4, 256)
    assert f.read(0, 1024) == b"\xff" * 1024  # created erased
    f.program(300, b"\x0f\xf0\xaa")
    f.program(300, b"\x3c\x3c\xff")  # programming only clears bits
    assert f.read(299, 5) == b"\xff\x0c\x30\xaa\xff"
    f.erase(1)
    assert f.read(256, 256) == b"\xff" * 256
    f.program(1023, b"\x00")
    buf = bytearray(2)
    f.readinto(1022, buf)
    assert buf == b"\xff\x00"
    f.close()
    g = flash.FileFlash(path, 4, sector_size=256)
    assert g.read(1022, 2) == b"\xff\x00"
    raises(ValueError, g.read, 1020, 5)
    raises(ValueError, g.program, 1024, b"\x00")
    raises(ValueError, g.erase, 4)
    g.close()
    os.remove(path)


def test_faulty_flash_tears_the_nth_write_then_stays_dead():
    path = new_path()
    f = flash.FaultyFlash(flash.FileFlash(path, 2, sector_size=256), cut_at=3)
    f.program(0, b"\x01\x02")
    f.program(2, b"\x03")
    raises(flash.PowerCut, f.program, 8, b"\x00\x00\x00\x00")
    raises(flash.PowerCut, f.program, 16, b"\x00")
    raises(flash.PowerCut, f.erase, 0)
    assert f.read(0, 20) == b"\x01\x02\x03" + b"\xff" * 5 + b"\x00\x00" + b"\xff" * 10
    f.flash.program(256, bytes(256))
    g = flash.FaultyFlash(f.flash, cut_at=1)
    raises(flash.PowerCut, g.erase, 1)  # a torn erase: only the sector's first half
    assert g.read(256, 256) == b"\xff" * 128 + bytes(128)
    h = flash.FaultyFlash(f.flash, cut_at=1, torn=False)
    raises(flash.PowerCut, h.program, 0, bytes(3))
    assert h.read(0, 3) == b"\x01\x02\x03" and h.ops == 1
    f.flash.close()
    os.remove(path)


# --- Store -----------------------------------------------------------------------------


def test_store_put_get_delete_and_reboot():
    path = new_path()
    f = flash.FileFlash(path, 8, sector_size=512)
    s = storage.Store(f, 2, 4)
    assert s.get("state") is None and s.names() == []
    s.put("state", b"one")
    s.put(b"empty", b"")
    s.put("state", bytearray(b"two"))
    s.delete("nothing")  # deleting a missing name writes nothing
    assert s.get(b"state") == b"two" and s.get("empty") == b""
    s.put("gone", b"x" * 100)
    s.delete("gone")
    assert s.get("gone") is None
    assert sorted(s.names()) == [b"empty", b"state"]
    raises(ValueError, s.put, "", b"x")
    raises(ValueError, s.put, "n" * 33, b"x")
    raises(ValueError, storage.Store, f, 0, 3)  # halves need an even count
    raises(ValueError, storage.Store, f, 6, 4)  # past the end of the flash
    f.close()
    f = flash.FileFlash(path, 8, sector_size=512)
    s = storage.Store(f, 2, 4)
    assert s.get("state") == b"two" and s.get("empty") == b"" and s.get("gone") is None
    assert f.read(0, 1024) == b"\xff" * 1024 and f.read(3072, 1024) == b"\xff" * 1024  # own sectors only
    f.close()
    os.remove(path)


def test_store_compacts_when_full_and_keeps_every_name():
    path = new_path()
    f = flash.FileFlash(path, 4, sector_size=256)
    s = storage.Store(f, 0, 4)  # two halves of 512 bytes
    want = {}
    for i in range(60):
        s.put("counter", b"%d" % i)
        want["counter"] = b"%d" % i
        s.put("name%d" % (i % 5), bytes([i]) * 40)
        want["name%d" % (i % 5)] = bytes([i]) * 40
        if i % 7 == 0:
            s.delete("name%d" % ((i + 2) % 5))
            want["name%d" % ((i + 2) % 5)] = None
    for name, value in want.items():
        assert s.get(name) == value, name
    assert s._gen > 5  # it compacted many times
    s2 = storage.Store(flash.FileFlash(path, 4, sector_size=256), 0, 4)
    for name, value in want.items():
        assert s2.get(name) == value, name
    f.close()
    os.remove(path)


def test_store_full_raises_and_changes_nothing():
    path = new_path()
    f = flash.FileFlash(path, 2, sector_size=256)
    s = storage.Store(f, 0, 2)  # halves of 256 bytes
    s.put("a", b"1" * 100)
    before = f.read(0, 512)
    raises(storage.StoreFull, s.put, "b", b"2" * 200)
    assert f.read(0, 512) == before and s.get("b") is None
    s.put("a", b"3" * 200)  # the old value of `a` makes way for the new one
    assert s.get("a") == b"3" * 200
    f.close()
    os.remove(path)


def test_store_holds_the_locks_blocklist_of_4000_ids():
    path = new_path()
    f = flash.FileFlash(path, 12)
    s = storage.Store(f, 0, 12)
    ids = b"".join(i.to_bytes(4, "little") for i in range(4000))
    s.put("blocklist", ids)
    s.put("state", b"s" * 40)
    for v in range(3):  # each new version lands in the other half: a compaction
        s.put("blocklist", ids[4:] + v.to_bytes(4, "little"))
    s = storage.Store(flash.FileFlash(path, 12), 0, 12)
    assert s.get("blocklist") == ids[4:] + b"\x02\x00\x00\x00" and s.get("state") == b"s" * 40
    f.close()
    os.remove(path)


def test_store_mounts_garbage_as_empty_and_formats_on_first_write():
    path = new_path()
    f = flash.FileFlash(path, 4, sector_size=256)
    for sector in range(4):
        f.erase(sector)
        f.program(sector * 256, bytes(range(256)))
    s = storage.Store(f, 0, 4)
    assert s.names() == []
    s.put("k", b"v")
    assert storage.Store(f, 0, 4).get("k") == b"v"
    f.close()
    os.remove(path)


# --- Log -------------------------------------------------------------------------------


def test_log_appends_reads_and_wraps_dropping_a_sector_at_a_time():
    path = new_path()
    f = flash.FileFlash(path, 4, sector_size=256)
    log = storage.Log(f, 1, 3, 18)  # 10 slots of 22 bytes per sector
    assert (log.first_seq, log.next_seq, log.capacity) == (0, 0, 20)
    assert log.read(0, 10) == []
    for i in range(25):
        assert log.append(record(i)) == i
    assert log.read(3, 2) == [(3, record(3)), (4, record(4))]
    assert (log.first_seq, log.next_seq) == (0, 25)
    for i in range(25, 31):  # the 31st append reuses the oldest sector
        log.append(record(i))
    assert (log.first_seq, log.next_seq) == (10, 31)
    assert log.read(0, 100) == [(i, record(i)) for i in range(10, 31)]
    assert log.read(30, 100) == [(30, record(30))] and log.read(31, 5) == []
    raises(ValueError, log.append, b"short")
    log = storage.Log(flash.FileFlash(path, 4, sector_size=256), 1, 3, 18)
    assert (log.first_seq, log.next_seq) == (10, 31)
    assert log.read(0, 100) == [(i, record(i)) for i in range(10, 31)]
    assert log.append(record(31)) == 31
    assert f.read(0, 256) == b"\xff" * 256  # sector 0 is not the log's
    f.close()
    os.remove(path)


def test_log_sizes_for_the_locks_audit_trails():
    assert storage.log_sectors(1000, 18) == 7 and storage.log_sectors(100, 18) == 2
    path = new_path()
    f = flash.FileFlash(path, 9)
    own = storage.Log(f, 0, storage.log_sectors(1000, 18), 18)
    foreign = storage.Log(f, 7, storage.log_sectors(100, 18), 18)
    assert own.capacity >= 1000 and foreign.capacity >= 100
    for i in range(1200):
        own.append(record(i))
        if i % 8 == 0:
            foreign.append(record(i))
    own = storage.Log(f, 0, 7, 18)
    got = own.read(0, 2000)
    assert len(got) >= 1000 and got[-1] == (1199, record(1199))
    assert [s for s, _ in got] == list(range(got[0][0], 1200))
    assert storage.Log(f, 7, 2, 18).read(0, 1000)[-1] == (149, record(1192))
    raises(ValueError, storage.Log, f, 0, 1, 18)
    raises(ValueError, storage.Log, f, 0, 2, 5000)
    f.close()
    os.remove(path)


def test_log_skips_a_torn_slot_and_never_reuses_its_seq():
    path = new_path()
    base = flash.FileFlash(path, 2, sector_size=256)
    log = storage.Log(base, 0, 2, 18)
    log.append(record(0))
    raises(flash.PowerCut, storage.Log(flash.FaultyFlash(base, cut_at=1), 0, 2, 18).append, record(1))
    log = storage.Log(base, 0, 2, 18)
    assert log.next_seq == 2 and log.append(record(2)) == 2
    assert log.read(0, 10) == [(0, record(0)), (2, record(2))]
    base.close()
    os.remove(path)


# --- power cuts --------------------------------------------------------------------------
# A device with a Store (sectors 0-7) and a Log (8-10), 256-byte sectors so that a short
# workload compacts the store and wraps the ring. Each workload step is one operation; a
# cut fails one flash operation inside it.

_SECTOR = 256
_SECTORS = 11


def _boot(fl):
    return storage.Store(fl, 0, 8), storage.Log(fl, 8, 3, 18)


def _workload():
    big = bytes(range(256)) * 2 + b"big"  # spans sectors and copy chunks
    steps = []
    for i in range(34):
        steps.append(("append", record(i)))
        if i % 3 == 0:
            steps.append(("put", "state", b"state%d" % i))
        if i % 8 == 1:
            steps.append(("put", "blocklist", big[i:]))
        if i % 8 == 5:
            steps.append(("delete", "state"))
        if i % 11 == 2:
            steps.append(("put", "cfg", b""))
        if i % 9 == 4:  # a write torn at its tail can leave this record's header blank
            steps.append(("put", "a_long_name_of_24_bytes_", b"%d" % i))
        if i == 20:
            steps.append(("delete", "cfg"))
    return steps


def _run(store, log, step, acked):
    if step[0] == "append":
        acked.append((log.append(step[1]), step[1]))
    elif step[0] == "put":
        store.put(step[1], step[2])
    else:
        store.delete(step[1])


def _apply(model, step):
    if step[0] == "put":
        model[step[1]] = step[2]
    elif step[0] == "delete":
        model[step[1]] = None


def _check(store, log, model, acked, step):
    """Everything acknowledged is there; `step`, the interrupted one, is all old or all new."""
    for name, value in model.items():
        got = store.get(name)
        if step is not None and step[0] != "append" and step[1] == name:
            new = step[2] if step[0] == "put" else None
            assert got == value or got == new, (name, got)
        else:
            assert got == value, (name, got)
    names = [n.encode() for n, v in model.items() if v is not None]
    if step is not None and step[0] == "put":
        names.append(step[1].encode())
    assert all(n in names for n in store.names()), store.names()
    got = dict(log.read(0, 10000))
    for seq, rec in acked:
        # the newest `capacity` slots are kept (a cut append wastes its slot)
        if seq >= log.next_seq - log.capacity:
            assert got.get(seq) == rec, seq
        elif seq in got:
            assert got[seq] == rec, seq
    last = acked[-1][0] if acked else -1
    assert log.next_seq > last
    for seq, rec in got.items():
        if seq > last:  # only the interrupted append may show up past the last acknowledged
            assert step is not None and step[0] == "append" and rec == step[1] and seq == log.next_seq - 1


def _settle(store, log, model, acked, step):
    """Take the interrupted step's outcome as the device has it; True if it was an append
    that landed."""
    if step[0] != "append":
        model[step[1]] = store.get(step[1])
        return False
    seq = log.next_seq - 1
    if seq > (acked[-1][0] if acked else -1) and log.read(seq, 1):
        acked.append((seq, step[1]))
        return True
    return False


def _cut_run(path, steps, cut_at, torn):
    """Run `steps` on a fresh device, cutting the power at flash operation `cut_at`; then
    reboot, check, and check that the device still works. Returns the flash ops used."""
    base = flash.FileFlash(path, _SECTORS, sector_size=_SECTOR)
    if torn == "tail":
        fl = TailTornFlash(base, cut_at=cut_at)
    else:
        fl = flash.FaultyFlash(base, cut_at=cut_at, torn=torn)
    store, log = _boot(fl)
    model, acked = {}, []
    interrupted = None
    for step in steps:
        try:
            _run(store, log, step, acked)
        except flash.PowerCut:
            interrupted = step
            break
        _apply(model, step)
    ops = fl.ops
    base.close()
    base = flash.FileFlash(path, _SECTORS, sector_size=_SECTOR)  # the reboot
    store, log = _boot(base)
    _check(store, log, model, acked, interrupted)
    if interrupted is not None:
        _settle(store, log, model, acked, interrupted)
    for step in (("put", "after", b"ok"), ("append", record(200)), ("put", "blocklist", b"B" * 300), ("delete", "after")):
        _run(store, log, step, acked)
        _apply(model, step)
    base.close()
    base = flash.FileFlash(path, _SECTORS, sector_size=_SECTOR)
    store, log = _boot(base)
    _check(store, log, model, acked, None)
    base.close()
    os.remove(path)
    return ops


class TailTornFlash(flash.FaultyFlash):
    """Tears the other way: a cut program lands only its second half, a cut erase clears
    only the sector's second half (the header survives). Real flash may tear either way."""

    def program(self, addr, data):
        if self._fails():
            half = len(data) // 2
            self.flash.program(addr + half, data[half:])
            raise flash.PowerCut()
        self.flash.program(addr, data)

    def erase(self, sector):
        if self._fails():
            half = self.sector_size // 2
            head = self.flash.read(sector * self.sector_size, half)
            self.flash.erase(sector)
            self.flash.program(sector * self.sector_size, head)
            raise flash.PowerCut()
        self.flash.erase(sector)


def test_the_workload_compacts_and_wraps():
    steps = _workload()
    path = new_path()
    base = flash.FileFlash(path, _SECTORS, sector_size=_SECTOR)
    store, log = _boot(base)
    for step in steps:
        _run(store, log, step, [])
    assert store._gen >= 3 and log.first_seq > 0
    base.close()
    os.remove(path)


def _every_cut(torn):
    steps = _workload()
    total = _cut_run(new_path(), steps, 0, True)  # no cut: how many flash operations
    assert total > 100
    for cut in range(1, total + 1):
        _cut_run(new_path(), steps, cut, torn)


def test_power_cut_at_every_flash_write_torn():
    _every_cut(True)


def test_power_cut_at_every_flash_write_clean():
    _every_cut(False)


def test_power_cut_at_every_flash_write_torn_at_the_tail():
    _every_cut("tail")


def test_repeated_power_cuts_with_reboots_in_between():
    # Cuts during recovery's own writes too: after each cut the device reboots, checks,
    # and retries the interrupted step, until the whole workload is done.
    steps = _workload()
    path = new_path()
    base = flash.FileFlash(path, _SECTORS, sector_size=_SECTOR)
    model, acked = {}, []
    i = 0
    rng = 12345
    cuts = 0
    while i < len(steps):
        rng = (rng * 1103515245 + 12345) & 0x7FFFFFFF
        mode = (rng >> 8) % 3
        if mode == 2:
            fl = TailTornFlash(base, cut_at=1 + rng % 14)
        else:
            fl = flash.FaultyFlash(base, cut_at=1 + rng % 14, torn=mode == 1)
        store, log = _boot(fl)
        try:
            while i < len(steps):
                _run(store, log, steps[i], acked)
                _apply(model, steps[i])
                i += 1
        except flash.PowerCut:
            cuts += 1
            store, log = _boot(base)
            step = steps[i]
            _check(store, log, model, acked, step)
            if _settle(store, log, model, acked, step):
                i += 1  # an append that landed: do not append it twice
    store, log = _boot(base)
    _check(store, log, model, acked, None)
    assert cuts > 20
    base.close()
    os.remove(path)
