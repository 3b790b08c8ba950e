"""`keylock bench receive`: the 16 KB frame it times comes out of the receiver on all three
runtimes (the benchmark checks each run's frames), and its options are checked. Speeds are
recorded in benchmarks/RESULTS.md, never asserted."""

import json

import pytest

from keylock.benchmarks import receive_core
from keylock.firmware import codec, frame
from keylock.host.cli import main

pytestmark = [pytest.mark.micropython, pytest.mark.slow]


def test_the_frame_is_a_4000_id_blocklist_of_16_kb():
    raw = receive_core.blocklist_frame(codec, frame)
    t, _seq, m, _mac = frame.decode(raw)
    assert t == codec.T_BLOCKLIST_UPDATE and len(m["key_ids"]) == 4000
    assert len(raw) == 16_016 <= 3 + codec.MAX_LENGTH + 4


def test_bench_receive_json(capsys):
    assert main(["bench", "receive", "--json", "--runs", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    for runtime in ("cpython", "webassembly", "unix"):
        r = result[runtime]
        if "skipped" in r:
            assert runtime == "unix"
            continue
        assert r["runtime"] == ("cpython" if runtime == "cpython" else "micropython")
        assert (r["frame_bytes"], r["runs"], r["api"]) == (16_016, 1, "feed_byte")
        assert len(r["byte_ms"]) == 1 and r["byte_ms_median"] >= 0 and r["whole_ms_median"] >= 0


@pytest.mark.parametrize("args", [["--runs", "0"], ["--firmware", "/nonexistent"], ["--heap-wk", "1"]])
def test_bad_options_exit_2(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "receive", *args])
    assert e.value.code == 2
