"""Ensembles, variants and split sites on Dask (host/simulate/ensemble.py): each replica is a
one-process run of its seed, a split site gives the one-process run's outcomes, and a variants
file is checked before anything runs."""

import subprocess
import sys

import pytest

from keylock.host.simulate import ensemble, sitefile
from keylock.host.simulate import run as site_run

# Two components: the yard's keys and padlocks, and the office's; K5 holds both groups' rights
# only in the joined variant below.
SITE = """
name: two halves
seed: 11
start: 2026-12-07
timezone: Europe/Stockholm
days: 3
site:
  keys:
    - {id: K1, soc: 0.5, groups: [yard]}
    - {id: K2, soc: 0.3, groups: [yard]}
    - {id: K3, groups: [office], climate: indoor}
    - {id: K4, soc: 0.7, groups: [office], climate: indoor}
  locks:
    - {id: L1, group: yard, kind: padlock}
    - {id: L2, group: office, climate: indoor}
    - {id: L3, group: office, climate: indoor}
climates:
  outdoor: {monthly_mean_C: [-4, -4, -1, 4, 10, 15, 17, 16, 11, 6, 1, -3], daily_swing_K: 8}
  indoor: {mean_C: 19}
usage:
  yard: {openings_per_day: 3}
  office: {openings_per_day: 4}
events:
  - {lost: K4, day: 0, at: "10:00", block_after: 1h, tries_per_day: 3}
"""


@pytest.fixture(scope="module")
def spec():
    return sitefile.parse_text(SITE, "two-halves.site.yaml")


@pytest.fixture(scope="module")
def client():
    c = ensemble.client_for(workers=2)
    yield c
    c.close()


def outcomes(run):
    return [
        (a.time_s, a.key, a.lock, a.result, a.reason, a.by, a.blocklist_version)
        for a in sorted(run.attempts, key=lambda a: (a.time_s, a.key))
    ]


def test_components_follow_the_groups_and_the_events(spec):
    assert ensemble.components(spec) == [(["K1", "K2"], ["L1"]), (["K3", "K4"], ["L2", "L3"])]
    joined = sitefile.parse_text(SITE + "  - {left_in_lock: K1, lock: L2, day: 1, hours: 2}\n", "joined.site.yaml")
    assert ensemble.components(joined) == [(["K1", "K2", "K3", "K4"], ["L1", "L2", "L3"])]


def test_a_variant_changes_only_what_it_says(spec):
    colder = ensemble.apply_variant(spec, {"climate_shift_K": -5})
    assert colder.climates["outdoor"].monthly_mean_C[0] == spec.climates["outdoor"].monthly_mean_C[0] - 5
    assert colder.keys == spec.keys and colder.usage == spec.usage and colder.seed == spec.seed
    forget = ensemble.apply_variant(spec, {"forget_share": 0.05, "lost": [{"key": "K1", "day": 1}]})
    assert forget.validation.forget_share == 0.05 and forget.events[-1].key == "K1" and forget.events[:-1] == spec.events
    with pytest.raises(ValueError, match="forget_share"):
        ensemble.apply_variant(spec, {"forget_share": 1.5})


@pytest.mark.parametrize(
    "text, says",
    [
        ("variants: []\n", "needs `variants:`"),
        ("variants:\n  - {name: x, climate_shift: -5}\n", "unknown field 'climate_shift'"),
        ("variants:\n  - {lost: [{key: K9, day: 1}]}\n", "variant 1"),
        ("variants:\n  - {lost: [{key: K1, day: 2, found: 1}]}\n", "before found"),
        ("variants: [\n", "cannot read it as YAML"),
    ],
)
def test_a_bad_variants_file_is_refused_with_its_reason(spec, tmp_path, text, says):
    path = tmp_path / "whatif.yaml"
    path.write_text(text)
    with pytest.raises(ensemble.VariantError, match=says.replace("[", r"\[").replace("(", r"\(")):
        ensemble.load_variants(path, spec)


def test_the_cli_refuses_a_bad_variants_file_in_one_line_before_any_cluster(tmp_path):
    site = tmp_path / "two.site.yaml"
    site.write_text(SITE)
    bad = tmp_path / "whatif.yaml"
    bad.write_text("variants:\n  - {nme: typo}\n")
    done = subprocess.run(
        [sys.executable, "-m", "keylock.host.cli", "simulate", str(site), "--variants", str(bad)], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown field 'nme'" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "keylock.host.cli", "simulate", str(site), "--workers", "2"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--workers and --scheduler go with" in done.stderr


@pytest.mark.slow
def test_each_replica_is_the_one_process_run_of_its_seed(spec, client):
    replicas = ensemble.run_replicas(client, ensemble.seeds(spec, 2), 2, None)
    assert [name for name, _ in replicas] == ["seed 11", "seed 12"]
    for (_name, replica), seed in zip(replicas, (11, 12), strict=True):
        alone = site_run.simulate(ensemble.apply_variant(spec, {"seed": seed}), days=2)
        assert replica.attempts == alone.attempts
        assert replica.validations == alone.validations and replica.key_samples == alone.key_samples
    assert outcomes(replicas[0][1]) != outcomes(replicas[1][1])  # another seed is another run
    spread = ensemble.spread(replicas)
    assert spread["spread"]["openings"]["min"] == min(len(r.attempts) for _n, r in replicas)


@pytest.mark.slow
def test_a_split_site_has_the_one_process_runs_outcomes(spec, client):
    alone = site_run.simulate(spec)
    split = ensemble.simulate_split(client, spec)
    assert outcomes(split) == outcomes(alone)
    assert [(b.key, b.version) for b in split.blocks] == [(b.key, b.version) for b in alone.blocks] == [("K4", 1)]
    assert sorted((a.lock, a.version, a.via_key) for a in split.arrivals) == sorted((a.lock, a.version, a.via_key) for a in alone.arrivals)
    assert [(w.monday, w.units, w.jobs) for w in split.weekly] == [(w.monday, w.units, w.jobs) for w in alone.weekly]
    # The charge differs only by rounding: each part's clock stops only at its own events, and a
    # cell's drain summed over other steps rounds differently. (It was 2e-8 while the emulator
    # forgot the other keys' idle drain during a transaction's frames: see EmulatedSite.insert.)
    order = lambda run: sorted(run.attempts, key=lambda a: (a.time_s, a.key))  # noqa: E731
    assert max(abs(a.soc - b.soc) for a, b in zip(order(split), order(alone), strict=True)) < 1e-12
