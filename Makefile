# The two commands of the README:
#   make demo   runs the main job
#   make test   runs every test
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

.PHONY: setup demo test codec clean

setup: $(PY_STAMP) $(NODE_STAMP) $(STUBS_STAMP)

$(PY_STAMP): pyproject.toml
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

demo: setup
	$(VENV)/bin/keylock demo

test: setup
	$(PY) -m pytest

# Regenerate firmware/codec.py from the construct definitions in protocol/.
codec: $(PY_STAMP)
	$(PY) -m keylock.protocol.gen_codec --write

clean:
	rm -rf $(VENV) node_modules .typings .pytest_cache .hypothesis
