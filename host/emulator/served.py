"""An emulated site built for serving, and served on real endpoints by a thread.

`build_site` makes the site `keylock emulate` serves (from a scenario's `site:` or a number
of keys and locks); `ServedSite` serves one from a thread of this process, which is how the
pytest plugin gives tests real endpoints without another process.
"""

import json
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..errors import KeylockError, UsageError
from ..scenario.parse import load
from .endpoints import Endpoints
from .engine import SiteEngine
from .site import EmulatedSite

MAX_DEVICES = 100


def build_site(scenario: str | Path | None = None, keys: int = 2, locks: int = 1, runtime: str = "cpython") -> EmulatedSite:
    """The site of a scenario file (its steps are not run), or keys K1..Kn and locks L1..Lm
    in one group, every key granted it and validated, ready to open."""
    return build_engine(scenario, keys, locks, runtime).s


def build_engine(scenario: str | Path | None = None, keys: int = 2, locks: int = 1, runtime: str = "cpython") -> SiteEngine:
    """build_site's site inside the scenario engine that runs steps on it (`keylock site`)."""
    if scenario:
        engine = SiteEngine(runtime)
        engine.setup(load(scenario))
        return engine
    if not (1 <= keys <= MAX_DEVICES and 1 <= locks <= MAX_DEVICES):
        raise UsageError(f"--keys and --locks take 1 to {MAX_DEVICES}")
    engine = SiteEngine(runtime)
    site = engine.site = EmulatedSite(runtime)
    for n in range(1, locks + 1):
        site.add_lock(f"L{n}", group="site")
    for n in range(1, keys + 1):
        site.add_key(f"K{n}", holder=f"Holder {n}")
        site.server.grant(f"K{n}", groups=["site"])
        site.validate(f"K{n}")
    return engine


class ServedSite:
    """An emulated site served on real endpoints by a thread of this process, for the pytest
    plugin: tests reach its devices through pty, socket:// or keylock:// exactly as they would
    reach another `keylock emulate` or a board, and can still act on the emulated world
    (insert a key, let time pass) through `call`, which runs on the serving thread: the site
    and its SQLite connection are only ever touched by that thread."""

    def __init__(
        self,
        keys: int = 2,
        locks: int = 1,
        scenario: str | None = None,
        runtime: str = "cpython",
        speed: float = 1.0,
        build: Callable | None = None,
        clock: str = "wall",
    ):
        self._site_args = {"scenario": scenario, "keys": keys, "locks": locks, "runtime": runtime}
        self._speed = speed
        self._clock = clock
        self._build = build  # build(site) after the site is made: tests add devices or events
        self._calls: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.announcement: dict = {}
        self._thread = threading.Thread(target=self._serve, name="keylock-site", daemon=True)

    def start(self, timeout_s: float = 120) -> "ServedSite":
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise KeylockError(f"the emulated site did not start within {timeout_s} s")
        if self._error is not None:
            raise self._error
        return self

    def _serve(self) -> None:
        try:
            engine = build_engine(**self._site_args)
            site = engine.s
            if self._build is not None:
                self._build(site)
            endpoints = Endpoints(site, speed=self._speed, clock=self._clock, engine=engine)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self.announcement = json.loads(endpoints.announcement())["emulate"]
        self._ready.set()
        try:
            while not self._stop.is_set():
                endpoints.run(0.02)
                while not self._calls.empty():
                    fn, future = self._calls.get_nowait()
                    try:
                        result = fn(site)
                        endpoints.sync_clock()  # fn may have moved the site's time
                        future.set_result(result)
                    except BaseException as exc:
                        future.set_exception(exc)
        finally:
            endpoints.close()
            site.close()

    def call(self, fn: Callable, timeout_s: float = 60) -> Any:
        """fn(EmulatedSite) on the serving thread; its result."""
        future: Future = Future()
        self._calls.put((fn, future))
        return future.result(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
