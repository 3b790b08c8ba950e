# Power-fail-safe storage on NOR flash (flash.py's HAL), each structure on its own sectors:
#   Store: durable, atomic key-value records (state, credential, blocklist)
#   Log:   an append-only ring of fixed-size records with sequence numbers (audit trails)
# A power cut at any program or erase leaves, after the next mount, every write that had
# returned and either all or none of the interrupted one. Each write's commit point is its
# last flash operation, checked by a CRC-32 on mount; space is reused only after an erase
# that was itself committed by a later write. The reasoning is at each write below.
from binascii import crc32
from struct import pack_into, unpack_from

from ._const import const

_CHUNK = const(256)  # scratch for scans and copies: RAM stays bounded whatever the value size
_FF = b"\xff" * _CHUNK

# --- Store ---------------------------------------------------------------------------
# The Store's sectors are two halves; one is active. A half starts with its header
#   magic "KLs1" | generation u32 | crc32 of the 8 bytes before   (12 bytes, little-endian)
# followed by records, each 4-byte aligned (padding left erased):
#   kind u8 | name length u8 | value length u16 | seq u32 | crc32 u32 | name | value
# The crc covers the 8 header bytes before it, the name and the value. A record of kind
# _DELETED (no value) hides older records of its name. The active half is the valid header
# with the highest generation; the newest valid record of a name (highest seq) is its value.
_MAGIC = b"KLs1"
_HALF_HDR = const(12)
_REC_HDR = const(12)
_VALUE = const(0x56)
_DELETED = const(0x44)
_MAX_NAME = const(32)
_MAX_VALUE = const(0xFFFF)
_BLANK_HDR = b"\xff" * _REC_HDR


class StoreFull(Exception):
    """The live records and the new one do not fit in a half; nothing was written."""


def _align(n):
    return (n + 3) & ~3


def _key(name):
    if isinstance(name, str):
        name = name.encode()
    if not 0 < len(name) <= _MAX_NAME:
        raise ValueError("a store name is 1 to 32 bytes")
    return bytes(name)


def _check_range(flash, first_sector, n_sectors):
    if first_sector < 0 or first_sector + n_sectors > flash.sectors:
        raise ValueError("sectors outside the flash")


class Store:
    """Named byte values on `n_sectors` (even, at least 2) sectors from `first_sector`.

    put and delete are durable and atomic when they return. A half must hold every live
    record (12 bytes of header, the name and the value, rounded up to 4) plus 12 bytes."""

    def __init__(self, flash, first_sector, n_sectors):
        if n_sectors < 2 or n_sectors % 2:
            raise ValueError("a Store needs an even number of sectors, at least 2")
        _check_range(flash, first_sector, n_sectors)
        self._flash = flash
        self._first = first_sector
        self._half_sectors = n_sectors // 2
        self._half_size = self._half_sectors * flash.sector_size
        self._buf = bytearray(_CHUNK)
        self._mv = memoryview(self._buf)
        self._hdr = bytearray(_REC_HDR)
        self._rec = bytearray(_REC_HDR + _MAX_NAME)
        self._rec_mv = memoryview(self._rec)
        self.mount()

    def _addr(self, half):
        return (self._first + half * self._half_sectors) * self._flash.sector_size

    def mount(self):
        """Recover the state from flash (after a reset or a power cut)."""
        # name -> (seq, offset in the half, value length, kind)
        self._index = {}
        self._active = -1  # none yet: the first write formats
        self._gen = 0
        self._seq = 0
        self._tail = _HALF_HDR
        self._dirty = False
        hdr = self._hdr
        for half in (0, 1):
            self._flash.readinto(self._addr(half), hdr)
            magic, gen, crc = unpack_from("<4sII", hdr)
            if magic == _MAGIC and crc == crc32(memoryview(hdr)[:8]) and gen > self._gen:
                self._active, self._gen = half, gen
        if self._active >= 0:
            self._scan()

    def _scan(self):
        flash = self._flash
        base = self._addr(self._active)
        end = self._half_size
        hdr = self._hdr
        index = self._index
        pos = _HALF_HDR
        while pos + _REC_HDR <= end:
            flash.readinto(base + pos, hdr)
            if hdr == _BLANK_HDR:
                # The end of the log, unless a torn write left bytes further on.
                self._dirty = not self._blank(base + pos, end - pos)
                break
            kind, nlen, vlen, seq, crc = unpack_from("<BBHII", hdr)
            size = _REC_HDR + nlen + vlen
            if (
                (kind != _VALUE and kind != _DELETED)
                or pos + size > end
                or self._crc(base + pos + _REC_HDR, size - _REC_HDR, crc32(memoryview(hdr)[:8])) != crc
            ):
                # A write cut short: it never returned. Nothing is appended after it; the
                # next write compacts into the other half first.
                self._dirty = True
                break
            name = flash.read(base + pos + _REC_HDR, nlen)
            old = index.get(name)
            if old is None or seq > old[0]:
                index[name] = (seq, pos, vlen, kind)
            if seq >= self._seq:
                self._seq = seq + 1
            pos += _align(size)
        self._tail = pos

    def _crc(self, addr, n, crc):
        mv = self._mv
        while n > 0:
            k = min(n, _CHUNK)
            chunk = mv[:k]
            self._flash.readinto(addr, chunk)
            crc = crc32(chunk, crc)
            addr += k
            n -= k
        return crc

    def _blank(self, addr, n):
        buf = self._buf
        while n >= _CHUNK:
            self._flash.readinto(addr, buf)
            if buf != _FF:
                return False
            addr += _CHUNK
            n -= _CHUNK
        return n == 0 or self._flash.read(addr, n) == _FF[:n]

    def get(self, name):
        """The value stored under `name` (bytes), or None."""
        key = _key(name)
        e = self._index.get(key)
        if e is None or e[3] != _VALUE:
            return None
        return self._flash.read(self._addr(self._active) + e[1] + _REC_HDR + len(key), e[2])

    def length(self, name):
        """The length of the value stored under `name`, or None: without reading it."""
        e = self._index.get(_key(name))
        return None if e is None or e[3] != _VALUE else e[2]

    def readinto(self, name, offset, buf):
        """Bytes `offset` to `offset + len(buf)` of the value under `name` into `buf`: a large
        value read a part at a time (a blocklist searched in flash). False if there is none."""
        key = _key(name)
        e = self._index.get(key)
        if e is None or e[3] != _VALUE or offset < 0 or offset + len(buf) > e[2]:
            return False
        self._flash.readinto(self._addr(self._active) + e[1] + _REC_HDR + len(key) + offset, buf)
        return True

    def names(self):
        return [k for k, e in self._index.items() if e[3] == _VALUE]

    def put(self, name, value):
        key = _key(name)
        if len(value) > _MAX_VALUE:
            raise ValueError("a store value is at most 65535 bytes")
        self._write(key, value, _VALUE)

    def delete(self, name):
        key = _key(name)
        e = self._index.get(key)
        if e is not None and e[3] == _VALUE:
            self._write(key, b"", _DELETED)

    def _write(self, key, value, kind):
        size = _align(_REC_HDR + len(key) + len(value))
        if self._active < 0 or self._dirty or self._tail + size > self._half_size:
            self._compact(key, value, kind)
            return
        # Appended after the last record, on flash known to be erased. Until its last byte
        # lands its CRC fails, so a cut leaves the old record the newest valid one; a cut
        # record stops the scan and marks the half dirty, so nothing is ever appended after
        # it (which would make a later record unreachable, or program over torn bytes).
        pos = self._tail
        self._program_record(self._addr(self._active) + pos, key, value, kind, self._seq)
        self._index[key] = (self._seq, pos, len(value), kind)
        self._seq += 1
        self._tail = pos + size

    def _program_record(self, addr, key, value, kind, seq):
        rec = self._rec
        nlen = len(key)
        pack_into("<BBHI", rec, 0, kind, nlen, len(value), seq)
        rec[_REC_HDR : _REC_HDR + nlen] = key
        crc = crc32(value, crc32(key, crc32(self._rec_mv[:8])))
        pack_into("<I", rec, 8, crc)
        # Header and name, then the value a chunk at a time (a NOR page is 256 bytes): no
        # copy of a large value, and the HAL never holds more than a chunk of it.
        self._flash.program(addr, self._rec_mv[: _REC_HDR + nlen])
        addr += _REC_HDR + nlen
        mv = memoryview(value)
        for i in range(0, len(value), _CHUNK):
            self._flash.program(addr + i, mv[i : i + _CHUNK])

    def _compact(self, key, value, kind):
        # Copy the live records, with the write in hand instead of `key`'s old record, into
        # the other half, then commit by programming that half's header with the next
        # generation. Before the header's last byte lands, the mount still picks the old
        # half, untouched; after, the new one, complete (its erase and records came first).
        # A cut anywhere in between leaves a half without a valid header, which the next
        # compaction erases again. The old half stays as it is until then.
        index = self._index
        need = _HALF_HDR
        for k, e in index.items():
            if e[3] == _VALUE and k != key:
                need += _align(_REC_HDR + len(k) + e[2])
        if kind == _VALUE:
            need += _align(_REC_HDR + len(key) + len(value))
        if need > self._half_size:
            raise StoreFull()
        flash = self._flash
        src = self._active
        dst = 1 - src if src >= 0 else 0
        first = self._first + dst * self._half_sectors
        for s in range(first, first + self._half_sectors):
            flash.erase(s)
        src_addr = self._addr(src)
        dst_addr = self._addr(dst)
        new = {}
        pos = _HALF_HDR
        for k, e in index.items():
            if e[3] == _VALUE and k != key:
                size = _REC_HDR + len(k) + e[2]
                self._copy(src_addr + e[1], dst_addr + pos, size)
                new[k] = (e[0], pos, e[2], _VALUE)
                pos += _align(size)
        seq = self._seq
        if kind == _VALUE:  # a delete needs no record: the new half lacks the name
            self._program_record(dst_addr + pos, key, value, kind, seq)
            new[key] = (seq, pos, len(value), kind)
            pos += _align(_REC_HDR + len(key) + len(value))
        hdr = self._hdr
        gen = self._gen + 1
        pack_into("<4sI", hdr, 0, _MAGIC, gen)
        pack_into("<I", hdr, 8, crc32(memoryview(hdr)[:8]))
        flash.program(dst_addr, hdr)
        self._active = dst
        self._gen = gen
        self._index = new
        self._seq = seq + 1
        self._tail = pos
        self._dirty = False

    def _copy(self, src, dst, n):
        # Records move verbatim (seq and crc unchanged), a chunk at a time.
        mv = self._mv
        while n > 0:
            k = min(n, _CHUNK)
            chunk = mv[:k]
            self._flash.readinto(src, chunk)
            self._flash.program(dst, chunk)
            src += k
            dst += k
            n -= k


# --- Log -----------------------------------------------------------------------------
# The Log's sectors form a ring, filled in order. A sector in use starts with its header
#   magic "KLl1" | record size u16 | 0 u16 | base seq u32 | crc32 u32 of the 12 bytes before
# followed by slots of `record | crc32(seq u32 le + record)`; slot i holds seq base + i.
# The newest sector is the valid header with the highest base; within it the slots in use
# are a prefix (writes go in order), so the first blank slot is found by bisection.
_LOG_MAGIC = b"KLl1"
_LOG_HDR = const(16)


def log_sectors(count, record_size, sector_size=4096):
    """How many sectors a Log needs to keep at least `count` records."""
    per = (sector_size - _LOG_HDR) // (record_size + 4)
    return (count + per - 1) // per + 1  # one more: the sector being erased for reuse


class Log:
    """A ring of `record_size`-byte records on `n_sectors` (at least 2) sectors; the newest
    `capacity` records are always kept, older ones dropped a sector at a time.

    append is durable when it returns. Sequence numbers only grow; a cut append may leave
    a gap, never a duplicate."""

    def __init__(self, flash, first_sector, n_sectors, record_size):
        if n_sectors < 2:
            raise ValueError("a Log needs at least 2 sectors")
        _check_range(flash, first_sector, n_sectors)
        self._flash = flash
        self._first = first_sector
        self._n = n_sectors
        self.record_size = record_size
        self._slot = record_size + 4
        self._per = (flash.sector_size - _LOG_HDR) // self._slot
        if self._per < 1 or record_size > 0xFFFF:
            raise ValueError("record too large for a sector")
        self.capacity = (n_sectors - 1) * self._per
        self._buf = bytearray(self._slot)
        self._mv = memoryview(self._buf)
        self._blank = b"\xff" * self._slot
        self._seqb = bytearray(4)
        self._hdr = bytearray(_LOG_HDR)
        self.mount()

    def _addr(self, sector, slot):
        return (self._first + sector) * self._flash.sector_size + _LOG_HDR + slot * self._slot

    def mount(self):
        """Recover the state from flash (after a reset or a power cut)."""
        hdr = self._hdr
        self._base = bases = [-1] * self._n  # base seq of each sector in use, else -1
        head = -1
        for s in range(self._n):
            self._flash.readinto((self._first + s) * self._flash.sector_size, hdr)
            magic, size, _, base, crc = unpack_from("<4sHHII", hdr)
            if magic == _LOG_MAGIC and size == self.record_size and crc == crc32(memoryview(hdr)[:12]):
                bases[s] = base
                if head < 0 or base > bases[head]:
                    head = s
        self._head = head
        if head < 0:
            self._used = self._per  # nothing in use: the first append starts a sector
            self.next_seq = 0
        else:
            lo, hi = 0, self._per  # bisect for the first blank slot
            while lo < hi:
                mid = (lo + hi) // 2
                self._flash.readinto(self._addr(head, mid), self._buf)
                if self._buf == self._blank:
                    hi = mid
                else:
                    lo = mid + 1
            self._used = lo  # a torn slot counts as used: its seq is skipped, never reused
            self.next_seq = bases[head] + lo
        self._update_first()

    def _update_first(self):
        first = self.next_seq
        for b in self._base:
            if 0 <= b < first:
                first = b
        self.first_seq = first

    def _slot_crc(self, seq, record):
        pack_into("<I", self._seqb, 0, seq)
        return crc32(record, crc32(self._seqb))

    def append(self, record):
        """Store `record` (exactly record_size bytes); its seq once it is durable."""
        if len(record) != self.record_size:
            raise ValueError("record size")
        if self._used >= self._per:
            self._advance()
        seq = self.next_seq
        buf = self._buf
        buf[: self.record_size] = record
        pack_into("<I", buf, self.record_size, self._slot_crc(seq, record))
        # One program: until its last byte lands the slot's CRC fails (read skips it).
        # A torn slot is not blank, so the mount counts it as used and moves on.
        self._flash.program(self._addr(self._head, self._used), buf)
        self._used += 1
        self.next_seq = seq + 1
        return seq

    def _advance(self):
        # Reuse the next sector (the oldest when the ring is full): erase it whole, then
        # program its header. Until the header's last byte lands the sector is not in use
        # (a torn erase that spared the header leaves it the oldest sector, holding only
        # genuine old records); so its slots are known erased before any is written.
        s = (self._head + 1) % self._n
        self._base[s] = -1
        self._flash.erase(self._first + s)
        hdr = self._hdr
        pack_into("<4sHHI", hdr, 0, _LOG_MAGIC, self.record_size, 0, self.next_seq)
        pack_into("<I", hdr, 12, crc32(memoryview(hdr)[:12]))
        self._flash.program((self._first + s) * self._flash.sector_size, hdr)
        self._base[s] = self.next_seq
        self._head = s
        self._used = 0
        self._update_first()

    def read(self, from_seq, max_count):
        """Up to `max_count` (seq, record) from `from_seq` on, oldest first; records lost to a
        cut append are skipped."""
        out = []
        self._each(from_seq, max_count, lambda seq, rec: out.append((seq, bytes(rec))))
        return out

    def readinto(self, from_seq, max_count, buf, pos):
        """As read, but the records go one after another into `buf` from `pos` (a frame being
        built) instead of into a list: (how many, the seq after the last one or from_seq)."""
        rs = self.record_size
        got = [0, from_seq]

        def put(seq, rec):
            at = pos + got[0] * rs
            buf[at : at + rs] = rec
            got[0] += 1
            got[1] = seq + 1

        self._each(from_seq, max_count, put)
        return got[0], got[1]

    def _each(self, from_seq, max_count, visit):
        # visit(seq, record as a memoryview of the scratch buffer) for each genuine record.
        buf = self._buf
        rs = self.record_size
        per = self._per
        n = 0
        for base in sorted(b for b in self._base if b >= 0):
            s = self._base.index(base)
            i = from_seq - base if from_seq > base else 0
            while i < per and n < max_count:
                seq = base + i
                if seq >= self.next_seq:
                    return
                self._flash.readinto(self._addr(s, i), buf)
                if unpack_from("<I", buf, rs)[0] == self._slot_crc(seq, self._mv[:rs]):
                    visit(seq, self._mv[:rs])
                    n += 1
                i += 1
