"""Record a session with --record, replay it with `keylock replay`: the same answers exit 0;
a deliberately changed answer is reported field by field and exits 1."""

import json

import pytest

from keylock.host.cli import main
from keylock.host.link.recording import compare, load_requests
from keylock.protocol.codes import ErrorCode, MsgType
from keylock.protocol.frame import encode_frame

PHONE = 8101


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def record(capsys, port, tmp_path, *sessions):
    files = []
    for i, command in enumerate(sessions):
        files.append(tmp_path / f"{i}-{command[0]}.jsonl")
        code, _, err = cli(capsys, "--port", port, "--record", files[-1], *command)
        assert code == 0, err
    return files


def frames(f):
    """The frame lines of a recording (not its session lines)."""
    return [line for line in map(json.loads, f.read_text().splitlines()) if "dir" in line]


def test_a_recording_holds_every_frame_as_json_lines(served, capsys, tmp_path):
    url = served.devices["K2"]["socket"]
    (f,) = record(capsys, url, tmp_path, ["info"])
    session, *lines = [json.loads(line) for line in f.read_text().splitlines()]
    assert session["url"] == url and session["session"].endswith("Z")
    assert [line["dir"] for line in lines] == ["tx", "rx"]
    assert lines[0]["hex"] == encode_frame(MsgType.INFO_REQUEST, {}, 1).hex() and lines[0]["t"] <= lines[1]["t"]


def test_record_appends_so_several_runs_make_one_recording_that_replays(served, capsys, tmp_path):
    url, f = served.devices["K2"]["socket"], tmp_path / "session.jsonl"
    for command in (["info"], ["status"], ["info", "+", "time"]):
        assert cli(capsys, "--port", url, "--record", f, *command)[0] == 0
    lines = [json.loads(line) for line in f.read_text().splitlines()]
    assert sum("session" in line for line in lines) == 3  # one per run; a chain is one session
    assert [MsgType(bytes.fromhex(line["hex"])[3] & 0x7F).name for line in lines if line.get("dir") == "tx"] == [
        "INFO_REQUEST",
        "STATUS_REQUEST",
        "INFO_REQUEST",
        "TIME_REQUEST",
    ]
    # each run's seqs start at 1 again: the session lines keep the answers with their requests
    assert len(load_requests(f)) == 4 and all(answer is not None for _, answer in load_requests(f))
    code, out, _ = cli(capsys, "replay", f, "--port", served.devices["K2"]["url"])
    assert code == 0 and out.splitlines()[-1].startswith("replayed 4 requests to keylock://") and "all answers match" in out
    # overwrite starts the file again
    assert cli(capsys, "--port", url, "--record", f, "--record-mode", "overwrite", "info")[0] == 0
    assert [line.get("dir") for line in map(json.loads, f.read_text().splitlines())] == [None, "tx", "rx"]


def test_an_unanswered_request_is_not_answered_by_the_next_session(tmp_path):
    request = encode_frame(MsgType.INFO_REQUEST, {}, 1)
    answer = encode_frame(
        MsgType.INFO, {"role": 1, "device_id": 1, "fw_major": 0, "fw_minor": 1, "fw_patch": 0, "protocol_version": 4, "board": b"b"}, 1
    )
    lines = [{"session": "a"}, {"dir": "tx", "hex": request.hex()}, {"session": "b"}]
    lines += [{"dir": "tx", "hex": request.hex()}, {"dir": "rx", "hex": answer.hex()}]
    f = tmp_path / "s.jsonl"
    f.write_text("".join(json.dumps(line) + "\n" for line in lines))
    # without the session line, the second run's identical request would look like a retry
    assert load_requests(f) == [(request, None), (request, answer)]


def test_a_session_replays_with_the_same_answers(served, capsys, tmp_path):
    port = served.devices["K1"]["socket"]
    files = record(capsys, port, tmp_path, ["info"], ["status"], ["audit"])
    served.call(lambda s: s.advance(3600))  # an hour on: the key's clock and battery move on
    code, out, _ = cli(capsys, "replay", *files, "--port", served.devices["K1"]["url"])
    sent = sum(line["dir"] == "tx" for f in files for line in frames(f))
    assert sent >= 4  # info, status, audit: batches, then an empty one
    assert code == 0 and out.splitlines()[-1].startswith(f"replayed {sent} requests to keylock://")
    assert "all answers match (ignoring battery_mV, soc_permille, temperature_dC, time, unix_s)" in out
    # strictly, the hour shows: the clock is a difference
    code, out, _ = cli(capsys, "--port", port, "replay", files[1], "--strict", "--json")
    got = json.loads(out)
    assert code == 1 and got["differing"] == 1 and got["ignored"] == []
    assert "time" in [d["field"] for d in got["results"][0]["differences"]]
    # --ignore adds to the default set
    code, out, _ = cli(capsys, "--port", port, "replay", files[1], "--ignore", "flags", "--json")
    assert code == 0 and "flags" in json.loads(out)["ignored"]


def test_a_changed_answer_is_reported(served, capsys, tmp_path):
    port = served.devices["K1"]["pty"]
    files = record(capsys, port, tmp_path, ["status"], ["pair", "--phone", PHONE])
    unpair(capsys, served, port, PHONE)
    assert cli(capsys, "--port", port, "pair", "--phone", PHONE + 1)[0] == 0  # the key's state changes
    try:
        code, out, _ = cli(capsys, "--port", port, "replay", *files)
    finally:
        unpair(capsys, served, port, PHONE + 1)
    assert code == 1
    assert f"#1 STATUS_REQUEST seq 1: answer differs\n    flags: recorded 6, now 14\n    paired_phone: recorded 0, now {PHONE + 1}\n" in out
    assert "#1 PAIR seq 1: answer differs\n    code: recorded 'ok', now 'already_paired'\n" in out
    assert out.splitlines()[-1].startswith("replayed 2 requests") and "2 differ" in out


def unpair(capsys, served, port, phone):
    assert cli(capsys, "--port", port, "unpair", "--phone", phone, "--server", served.server, "--key", "K1")[0] == 0


def test_a_replayed_signed_command_is_refused_and_changes_nothing(served, capsys, tmp_path):
    # A relay that recorded the server's signed release cannot use it again: the key's nonce
    # was single use, and the replay's own challenge gets a fresh one the old MAC does not cover.
    port = served.devices["K1"]["socket"]
    assert cli(capsys, "--port", port, "pair", "--phone", PHONE)[0] == 0
    files = record(capsys, port, tmp_path, ["unpair", "--phone", PHONE, "--server", served.server, "--key", "K1"])
    assert cli(capsys, "--port", port, "pair", "--phone", PHONE)[0] == 0  # paired again
    try:
        code, out, _ = cli(capsys, "--port", port, "replay", *files, "--json")
        answers = {r["request"]: r for r in json.loads(out)["results"]}
        assert code == 1
        assert answers["SIGNED_COMMAND"]["differences"] == [{"field": "code", "recorded": "ok", "replayed": "bad_signature"}]
        status = json.loads(cli(capsys, "--port", port, "status", "--json")[1])
        assert status["paired_phone"] == PHONE  # still paired
    finally:
        unpair(capsys, served, port, PHONE)


def test_retries_in_a_recording_are_one_request_and_stray_answers_are_skipped(tmp_path):
    request = encode_frame(MsgType.PAIR, {"phone_id": 1}, 5)
    answer = encode_frame(MsgType.RESULT, {"code": ErrorCode.OK}, 5)
    stray = encode_frame(MsgType.RESULT, {"code": ErrorCode.OK}, 4)
    lines = [("tx", request), ("tx", request), ("rx", stray), ("rx", answer), ("tx", request)]
    f = tmp_path / "s.jsonl"
    f.write_text("".join(json.dumps({"t": i, "dir": d, "hex": raw.hex()}) + "\n" for i, (d, raw) in enumerate(lines)))
    # the last tx follows an answered request: it is a request of its own, unanswered
    assert load_requests(f) == [(request, answer), (request, None)]


def test_compare_names_type_changes_lists_and_nested_fields():
    batch = lambda *records: encode_frame(MsgType.AUDIT_BATCH, {"records": list(records), "next_seq": len(records), "mac": bytes(8)}, 2)
    rec = {"seq": 0, "epoch": 1, "time": 10, "key_id": 1001, "lock_id": 101, "outcome": 0, "reason": 0, "count": 1, "mac": bytes(8)}
    assert compare(batch(rec), batch(rec), set()) == []
    assert compare(batch(rec), batch({**rec, "time": 11}), {"time"}) == [{"field": "records[0].time", "recorded": 10, "replayed": 11}]
    longer = compare(batch(rec), batch(rec, {**rec, "seq": 1}), {"records.time", "next_seq"})
    assert {"field": "records#count", "recorded": 1, "replayed": 2} in longer
    assert {"field": "records[1].seq", "recorded": None, "replayed": 1} in longer
    assert "records[1].time" not in [d["field"] for d in longer]
    assert compare(batch(rec), None, set()) == [{"field": "(type)", "recorded": "AUDIT_BATCH", "replayed": "no answer"}]


@pytest.mark.parametrize("text, message", [("not json\n", "s.jsonl:1: not a recorded frame"), ("", "no requests recorded in")])
def test_a_bad_recording_exits_2(served, capsys, tmp_path, text, message):
    (tmp_path / "s.jsonl").write_text(text)
    code, _, err = cli(capsys, "replay", tmp_path / "s.jsonl", "--port", served.devices["K1"]["socket"])
    assert code == 2 and message in err
