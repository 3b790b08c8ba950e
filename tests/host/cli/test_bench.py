"""`keylock bench` finds the benchmarks by their entry points, never by importing them itself."""

from keylock.host.cli import main


def test_bench_lists_every_registered_benchmark(capsys):
    assert main(["bench"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == [
        "credential_signature",
        "energy",
        "fleet",
        "fuzz_apps",
        "handshake",
        "memory",
        "opening",
        "powercut",
        "receive",
        "site_30_days",
        "site_openings",
    ]


def test_an_unknown_benchmark_is_bad_input_that_names_the_real_ones(capsys):
    assert main(["bench", "handshak"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "keylock: no benchmark 'handshak'; there are: credential_signature, energy, fleet, fuzz_apps, handshake, memory, opening, powercut, receive, site_30_days, site_openings\n"
    )


def test_options_after_the_name_go_to_the_benchmark(capsys):
    assert main(["bench", "fleet", "--keys", "20", "--days", "5", "--repeats", "1", "--loop-keys", "5", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"keys": 20' in out and '"days": 5' in out
