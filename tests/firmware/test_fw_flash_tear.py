# The tear models of FaultyFlash (flash.TEARS): what reaches the flash in the operation a
# power cut interrupts. Each model does exactly what it says, and the pseudo-random ones are
# the same for a seed on every runtime. Runs on CPython and on MicroPython.
import os

from fwenv import flash
from fwenv import new_path as _new_path

_SECTOR = 256
# A sector's worth of mixed bits (no 0x00 or 0xFF runs), so every tear has bits to change.
_PATTERN = bytes((i * 37 + 11) & 0xFF | 0x11 for i in range(_SECTOR))
_DATA = bytes((i * 101 + 7) & 0xEE for i in range(64))


def new_flash():
    """A 2-sector flash: sector 0 erased, sector 1 holding _PATTERN."""
    path = _new_path("kl_tear", "dev")
    f = flash.FileFlash(path, 2, sector_size=_SECTOR)
    f.program(_SECTOR, _PATTERN)
    return path, f


def done(path, f):
    f.close()
    os.remove(path)


def raises_power_cut(fn, *args):
    try:
        fn(*args)
    except flash.PowerCut:
        return
    raise AssertionError("PowerCut not raised")


def cut_program(tear, seed=0, addr=0, data=_DATA, before=None):
    """Cut the first write, a program of `data` at `addr`; the flash's bytes there after."""
    path, f = new_flash()
    if before is not None:
        f.program(addr, before)
    faulty = flash.FaultyFlash(f, cut_at=1, tear=tear, seed=seed)
    raises_power_cut(faulty.program, addr, data)
    got = f.read(addr, len(data))
    whole = f.read(0, 2 * _SECTOR)
    done(path, f)
    return got, whole


def cut_erase(tear, seed=0):
    """Cut the first write, an erase of sector 1 (holding _PATTERN); the sector after."""
    path, f = new_flash()
    faulty = flash.FaultyFlash(f, cut_at=1, tear=tear, seed=seed)
    raises_power_cut(faulty.erase, 1)
    got = f.read(_SECTOR, _SECTOR)
    first = f.read(0, _SECTOR)
    done(path, f)
    assert first == b"\xff" * _SECTOR  # the other sector is never touched
    return got


def test_the_tear_models_are_the_four_documented():
    assert flash.TEARS == ("clean", "half", "prefix", "bits")


def test_xorshift32_gives_the_same_numbers_on_every_runtime():
    r = flash.XorShift32(1)
    assert [r.next() for _ in range(3)] == [2726006539, 2697616902, 2320997347]
    assert flash.XorShift32(1).fill(6) == bytes.fromhex("0b8f7ba2065e")
    r = flash.XorShift32(0)
    assert all(0 <= r.below(7) < 7 for _ in range(100))


def test_cut_at_zero_only_counts():
    path, f = new_flash()
    faulty = flash.FaultyFlash(f, cut_at=0, tear="bits", seed=3)
    for i in range(5):
        faulty.program(i * 8, b"\x00")
    faulty.erase(1)
    assert faulty.ops == 6 and not faulty.cut and faulty.failed is None
    assert f.read(0, 33) == (b"\x00" + b"\xff" * 7) * 4 + b"\x00"
    assert f.read(_SECTOR, _SECTOR) == b"\xff" * _SECTOR
    done(path, f)


def test_the_cut_write_fails_and_every_later_write_raises():
    path, f = new_flash()
    faulty = flash.FaultyFlash(f, cut_at=2, tear="clean")
    faulty.program(0, b"\x01")
    raises_power_cut(faulty.erase, 1)
    assert faulty.failed == ("erase", 1, _SECTOR) and faulty.cut and faulty.ops == 2
    raises_power_cut(faulty.program, 8, b"\x00")
    raises_power_cut(faulty.erase, 0)
    assert faulty.ops == 2  # writes after the cut never happened: not counted
    assert f.read(0, 9) == b"\x01" + b"\xff" * 8
    assert faulty.read(_SECTOR, _SECTOR) == _PATTERN  # reads still work: what the flash holds
    done(path, f)


def test_clean_leaves_the_flash_untouched():
    got, whole = cut_program("clean", addr=10)
    assert got == b"\xff" * len(_DATA) and whole == b"\xff" * _SECTOR + _PATTERN
    assert cut_erase("clean") == _PATTERN


def test_half_lands_the_first_half_of_a_program_or_of_the_sector_for_an_erase():
    got, whole = cut_program("half", addr=10)
    n = len(_DATA) // 2
    assert got == _DATA[:n] + b"\xff" * (len(_DATA) - n)
    assert whole[:10] == b"\xff" * 10 and whole[10 + len(_DATA) :] == b"\xff" * (_SECTOR - 10 - len(_DATA)) + _PATTERN
    assert cut_erase("half") == b"\xff" * (_SECTOR // 2) + _PATTERN[_SECTOR // 2 :]


def test_the_torn_flag_still_means_half_or_clean():
    path, f = new_flash()
    assert flash.FaultyFlash(f, torn=True).tear == "half" and flash.FaultyFlash(f, torn=False).tear == "clean"
    assert flash.FaultyFlash(f).tear == "half"  # the default, as torn=True was
    try:
        flash.FaultyFlash(f, tear="melted")
    except ValueError:
        pass
    else:
        raise AssertionError("an unknown tear was taken")
    done(path, f)


def test_prefix_lands_a_prefix_of_pseudo_random_length():
    lengths = []
    for seed in range(12):
        got, _whole = cut_program("prefix", seed=seed, addr=4)
        k = 0
        while k < len(_DATA) and got[k] == _DATA[k]:
            k += 1
        assert got[k:] == b"\xff" * (len(_DATA) - k), seed  # nothing lands after the prefix
        lengths.append(k)
        assert cut_program("prefix", seed=seed, addr=4)[0] == got  # the same for a seed
    assert len(set(lengths)) >= 6  # the length moves with the seed
    sectors = []
    for seed in range(12):
        got = cut_erase("prefix", seed=seed)
        k = 0
        while k < _SECTOR and got[k] == 0xFF:
            k += 1
        assert got[k:] == _PATTERN[k:], seed  # the rest is as it was
        sectors.append(k)
    assert len(set(sectors)) >= 6


def test_bits_clears_only_bits_the_program_would_clear():
    old = _PATTERN[:64]
    results = []
    for seed in range(8):
        got, _whole = cut_program("bits", seed=seed, addr=_SECTOR, data=_DATA)  # over _PATTERN
        o, d, g = int.from_bytes(old, "big"), int.from_bytes(_DATA, "big"), int.from_bytes(got, "big")
        assert g & ~o == 0, seed  # never sets a bit: NOR programming only clears
        assert (o & ~g) & d == 0, seed  # clears only bits the data has clear
        would = o & ~d  # what the whole program would clear
        cleared = o & ~g
        assert 0 < cleared and cleared != would, seed  # some of them, not all
        results.append(got)
        assert cut_program("bits", seed=seed, addr=_SECTOR, data=_DATA)[0] == got  # the same for a seed
    assert len(set(results)) == len(results)  # another seed, another subset


def test_bits_erase_sets_a_random_subset_of_the_bits():
    results = []
    for seed in range(6):
        got = cut_erase("bits", seed=seed)
        o, g = int.from_bytes(_PATTERN, "big"), int.from_bytes(got, "big")
        assert g & o == o, seed  # an erase only sets bits
        assert got != _PATTERN and got != b"\xff" * _SECTOR, seed  # some of them, not all
        results.append(got)
        assert cut_erase("bits", seed=seed) == got
    assert len(set(results)) == len(results)


def test_the_failed_operation_is_described():
    path, f = new_flash()
    faulty = flash.FaultyFlash(f, cut_at=1, tear="clean")
    raises_power_cut(faulty.program, 40, b"\x00\x01\x02")
    assert faulty.failed == ("program", 40, 3)
    done(path, f)


def test_a_file_flash_counts_what_it_was_made_to_do():
    # The emulator charges each program and erase its time and current from these counters:
    # bytes programmed (every call, whatever the bits), sectors erased, nothing for reads.
    path, f = new_flash()  # programs _PATTERN (256 bytes) into sector 1
    assert (f.programmed_bytes, f.erased_sectors) == (_SECTOR, 0)
    f.program(0, _DATA)
    f.program(0, b"")  # nothing to write: not a write
    f.read(0, _SECTOR)
    f.erase(1)
    f.erase(1)
    assert (f.programmed_bytes, f.erased_sectors) == (_SECTOR + len(_DATA), 2)
    done(path, f)
