# The two commands of the README:
#   make demo   runs the main job (`keylock simulate` on the built-in depot)
#   make test   runs every test (after `make lint`: ruff and pyright)
# Both do all set-up first on a fresh machine: a virtual environment with the
# Python packages (.venv), the npm runtime (node_modules: MicroPython's
# WebAssembly port and pyright) and the MicroPython stubs (.typings).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.keylock-installed
NODE_STAMP := node_modules/.keylock-installed
STUBS := micropython-rp2-stubs==1.27.0.post1
STUBS_STAMP := .typings/.keylock-installed
# The ESP32 port's own typeshed: its `machine` and `esp32` differ from the RP2040's, so the
# two boards' stubs live in two folders (firmware/pyrightconfig.esp32.json reads this one).
ESP32_STUBS := micropython-esp32-stubs==1.27.0.post1
ESP32_STUBS_STAMP := .typings-esp32/.keylock-installed
WHEELHOUSE := .wheelhouse
WHEELHOUSE_STAMP := $(WHEELHOUSE)/.keylock-filled

.PHONY: setup demo test lint codec clean

setup: $(PY_STAMP) $(NODE_STAMP) $(STUBS_STAMP) $(ESP32_STUBS_STAMP) $(WHEELHOUSE_STAMP)

# firmware/version.py: the package's version is read from it at install time.
$(PY_STAMP): pyproject.toml firmware/version.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The stubs are a typeshed for pyright (-t), installed into a plain folder as
# their documentation says; they must not go into the venv, where they would
# shadow CPython's own stdlib stubs.
$(STUBS_STAMP): $(PY_STAMP) Makefile
	rm -rf .typings
	$(PY) -m pip install --quiet --disable-pip-version-check --no-user --target .typings $(STUBS)
	touch $@

$(ESP32_STUBS_STAMP): $(PY_STAMP) Makefile
	rm -rf .typings-esp32
	$(PY) -m pip install --quiet --disable-pip-version-check --no-user --target .typings-esp32 $(ESP32_STUBS)
	touch $@

# Wheels of keylock's runtime dependencies (pyproject's [project].dependencies, with theirs)
# and of the build backend, so a wheel of keylock can be built and installed into a fresh
# venv with no network (tests/packaging). `pip wheel` rather than `pip download`: a
# dependency published only as an sdist is built into a wheel here, while PyPI is reachable.
$(WHEELHOUSE_STAMP): pyproject.toml $(PY_STAMP)
	mkdir -p $(WHEELHOUSE)
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); print("\n".join(p["project"]["dependencies"] + p["build-system"]["requires"] + ["wheel"]))' > $(WHEELHOUSE)/requirements.txt
	$(PY) -m pip wheel --quiet --disable-pip-version-check --wheel-dir $(WHEELHOUSE) -r $(WHEELHOUSE)/requirements.txt
	touch $@

# The main job: the built-in depot (host/simulate/default.site.yaml: 100 keys, 40 locks, a
# winter quarter) simulated on the emulated devices, its reports written to demo-report/.
demo: setup
	$(VENV)/bin/keylock simulate --out demo-report

test: setup lint
	$(PY) -m pytest

# Lint, format and type checks (configured in pyproject.toml); the firmware's own type check
# against the MicroPython stubs is a test (tests/firmware/test_static.py).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	node_modules/.bin/pyright -p pyproject.toml

# Regenerate firmware/codec.py from the construct definitions in protocol/.
codec: $(PY_STAMP)
	$(PY) -m keylock.protocol.gen_codec --write

clean:
	rm -rf $(VENV) node_modules .typings .typings-esp32 .pytest_cache .hypothesis $(WHEELHOUSE)
