"""The emulator: keys and locks running the real firmware on CPython or real MicroPython,
with the access server, a virtual clock and hw_models' physics (site.py), driven by scenario
files through the Engine of host/scenario (engine.py), and served on real serial endpoints
(endpoints.py, served.py)."""

from .engine import SiteEngine
from .factory import make_engine
from .site import EmulatedSite

__all__ = ["EmulatedSite", "SiteEngine", "make_engine"]
