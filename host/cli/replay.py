"""Send the host side of recorded sessions (`keylock --record FILE ...`) to a device again and
report every answer that differs from the recorded one, field by field. Exit 0 when all
answers match, 1 when any differs (or does not come).

  keylock --port socket://127.0.0.1:40001 --record s.jsonl status
  keylock replay s.jsonl --port socket://127.0.0.1:40001

A recording may hold several sessions (--record appends by default): they are replayed one
after another. What is replayed: each request once, in order, with its recorded seq (a request the
recording shows sent again, a retry, is one request); its answer is the recorded frame that
came back with the same seq. A recorded request that got no answer is sent too: an answer
now is a difference.

What is compared: the answer's type and its decoded fields, by path (`paired_phone`,
`records.time`, `credential.valid_until`). Fields the physical world moves between two
sessions are ignored by default: a key's clock (`time`, TIME's `unix_s`), its battery
(`battery_mV`, `soc_permille`) and the temperatures (`temperature_dC`). --ignore FIELD adds a
path, --strict compares everything. Audit events' times are facts, so they are compared.
"""

import json

from ..errors import UsageError
from ..link.recording import DEFAULT_IGNORED, load_requests, replay
from ..render import plural
from .device import open_device

needs_port = True


def add_arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="recordings (JSON lines from --record), replayed in order")
    parser.add_argument("--ignore", action="append", default=[], metavar="FIELD", help="also ignore this field path (repeatable)")
    parser.add_argument("--strict", action="store_true", help=f"compare every field (default ignores {', '.join(DEFAULT_IGNORED)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    ignored: set[str] = set() if args.strict else set(DEFAULT_IGNORED)
    ignored.update(args.ignore)
    sessions = [(f, load_requests(f)) for f in args.files]
    if not any(requests for _f, requests in sessions):
        raise UsageError(f"no requests recorded in {', '.join(args.files)}")
    device = open_device(args)  # the URL and --record checked before the port opens
    with device.transport as transport:
        results = replay(transport, sessions, ignored)
    differing = [r for r in results if r["differences"]]
    if args.json:
        print(json.dumps({"requests": len(results), "differing": len(differing), "ignored": sorted(ignored), "results": results}))
    else:
        for r in differing:
            print(f"{r['file']} #{r['index']} {r['request']} seq {r['seq']}: answer differs")
            for d in r["differences"]:
                print(f"    {d['field']}: recorded {d['recorded']!r}, now {d['replayed']!r}")
        verdict = f"{len(differing)} differ" if differing else "all answers match"
        print(
            f"replayed {plural(len(results), 'request')} to {args.port}: {verdict}"
            + (f" (ignoring {', '.join(sorted(ignored))})" if ignored else "")
        )
    return 1 if differing else 0
