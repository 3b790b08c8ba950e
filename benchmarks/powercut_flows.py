"""The site and the flows of the power-cut campaign (benchmarks/powercut.py).

Everything goes through EmulatedSite's own calls (add_key, grant, validate, open, ...) and the
host link, never through the firmware's internals, so the flows stay valid while the apps
change. A flow is rebuilt from nothing for every cut: `build_site`, then `flow.prepare`, then
`flow.run`, whose power is cut at one of its flash writes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..host.emulator.site import EmulatedSite
from ..protocol.codes import Outcome

LOCK = "L1"
GROUP = "depot"
KEY = "K1"  # granted the depot, validated: the key of most flows; it carries an event no one else has
OTHER = "K2"  # granted; its event is on the server; blocked to make a new blocklist
NIGHT = "K3"  # granted the depot only at weekends: denied on a Monday (the site starts on one)
WEAK = "K4"  # a weak cell at -20 C: its opening browns the lock out at the motor, leaving an uncopied event
OBSERVER = "K9"  # granted; opens after every cut: what the lock still offers as uncopied, and that it grants
KEYS = (KEY, OTHER, NIGHT, WEAK, OBSERVER)


def build_site(runtime: str, folder: Path) -> EmulatedSite:
    """The site before any flow: one lock, five validated keys, and history that must
    survive: an event acknowledged to OTHER and uploaded to the server, and one acknowledged
    to KEY and carried only by KEY (as until its next validation)."""
    site = EmulatedSite(runtime, folder=folder)
    site.add_lock(LOCK, group=GROUP)
    for key in KEYS:
        if key == WEAK:
            site.add_key(key, soc=0.2, temperature_C=-20.0)
        else:
            site.add_key(key)
        site.server.grant(key, groups=[GROUP], schedule={"days": ["sat", "sun"]} if key == NIGHT else None)
        _expect(site.validate(key), None, f"validating {key}")
    _expect(_opening(site, OTHER), ("GRANTED", "NONE"), "the first history opening")
    _expect(site.validate(OTHER), None, "uploading the first history opening")
    _expect(_opening(site, KEY), ("GRANTED", "NONE"), "the second history opening")
    return site


def _expect(got: Any, want: Any, what: str) -> None:
    if got != want:
        raise RuntimeError(f"building the campaign's site: {what} gave {got!r}, not {want!r}")


def _opening(site: EmulatedSite, key: str, hold_s: float | None = None) -> tuple:
    r = site.open(key, LOCK, hold_s=hold_s)
    return (Outcome(r.outcome).name, r.reason.name)


@dataclass(frozen=True)
class Flow:
    name: str
    key: str  # the key the flow is about (pulled out of the lock if its power is cut)
    devices: tuple[str, ...]  # the devices whose writes the campaign cuts
    prepare: Callable[[EmulatedSite], None]  # from build_site's state to just before the flow
    run: Callable[[EmulatedSite], Any]  # the flow; a comparable result (the same on every uncut run)


def _nothing(site: EmulatedSite) -> None:
    pass


def _new_blocklist_on_key(site: EmulatedSite) -> None:
    site.server.block(OTHER)
    _expect(site.validate(KEY), None, f"{KEY} taking the new blocklist")


def _backlog(site: EmulatedSite) -> None:
    # The lock records WEAK's grant, then browns out at the motor before any copy: an
    # event the next key must carry away (with its own) in one AUDIT_BATCH.
    _expect(_opening(site, WEAK, hold_s=5.0), ("DENIED", "LOW_BATTERY"), "the brown-out opening")


def _new_blocklist_on_server(site: EmulatedSite) -> None:
    site.server.block(OTHER)
    site.advance(3600.0)


def _opening_with_blocklist(site: EmulatedSite) -> tuple:
    return _opening(site, KEY) + (site.lock_status(LOCK)["blocklist_version"],)


FLOWS = {
    f.name: f
    for f in (
        Flow("opening_granted", KEY, (LOCK, KEY), _nothing, lambda site: _opening(site, KEY)),
        Flow("opening_denied", NIGHT, (LOCK, NIGHT), _nothing, lambda site: _opening(site, NIGHT)),
        Flow("blocklist_adoption", KEY, (LOCK, KEY), _new_blocklist_on_key, _opening_with_blocklist),
        Flow("audit_copy", KEY, (LOCK, KEY), _backlog, lambda site: _opening(site, KEY)),
        Flow("validation", KEY, (KEY,), _new_blocklist_on_server, lambda site: site.validate(KEY)),
    )
}
