"""Which Engine runs a scenario: the emulator's, or another one given as module:function.

1. the environment variable KEYLOCK_SCENARIO_ENGINE=module:function, if set (tests use it to
   plug in a scripted engine; the pytest plugin's --keylock-scenario-engine option sets the same);
2. otherwise the emulator's SiteEngine.
Either factory is called as `factory(runtime, scenario)` and returns an Engine, not yet set up.
"""

import importlib
import os
from collections.abc import Callable
from typing import cast

from ..errors import UsageError
from ..scenario.engine import Engine
from ..scenario.model import Scenario
from .engine import SiteEngine

ENGINE_ENV = "KEYLOCK_SCENARIO_ENGINE"

EngineFactory = Callable[[str, "Scenario | None"], Engine]


def load_factory(spec: str) -> EngineFactory:
    """`module:function` to the function, for KEYLOCK_SCENARIO_ENGINE and --keylock-scenario-engine."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise UsageError(f"an engine factory is given as module:function, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import the engine factory's module {module_name!r}: {exc}") from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise UsageError(f"{module_name!r} has no function {function_name!r} to make an engine")
    return cast(EngineFactory, factory)


def make_engine(runtime: str, scenario: Scenario | None = None) -> Engine:
    """An Engine for `runtime` ("cpython" or "micropython"), not yet set up (see the module doc)."""
    spec = os.environ.get(ENGINE_ENV)
    if spec:
        return load_factory(spec)(runtime, scenario)
    return SiteEngine(runtime)
