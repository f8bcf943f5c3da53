# edgecc: `make demo` and `make test` work on a fresh Debian/Ubuntu machine with Python 3.11 and g++.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2
# Tools with no wheel, from Debian: Icarus, Yosys, nextpnr/icestorm for iCE40, ccache for Verilator builds; the Arm
# cross compiler, its C library and qemu for microcontroller C.
APT_PACKAGES := iverilog yosys nextpnr-ice40 fpga-icestorm ccache g++ make \
                gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
APT_TOOLS    := iverilog vvp yosys nextpnr-ice40 icepack ccache g++ make arm-none-eabi-gcc qemu-system-arm

.PHONY: setup bytecode demo test bench readme clean

setup: $(STAMP) bytecode

# Python bytecode of the package, as a regular (non-editable) pip install writes it: commands start faster, also
# where PYTHONDONTWRITEBYTECODE keeps Python from caching it by itself. Incremental: only changed files recompile.
bytecode: $(STAMP)
	$(PY) -m compileall -q edgecc

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench,keras]'
	@missing=""; for t in $(APT_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "edgecc: installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	  else \
	    echo "edgecc: missing tools:$$missing; run: sudo apt-get install -y $(APT_PACKAGES)"; \
	  fi; \
	fi
	touch $(STAMP)

demo: setup
	$(PY) examples/jet_tagging_mlp.py --check
	$(PY) examples/digits_cnn.py --check

test: setup
	$(PY) -m pytest -q -n $(JOBS) --durations=25 tests

bench: setup
	$(PY) benchmarks/vs_hls4ml.py
	$(PY) benchmarks/vs_hls4ml_cnn.py
	$(PY) benchmarks/mcu_jet.py
	$(PY) benchmarks/vs_emlearn.py
	$(PY) benchmarks/vs_da4ml.py
	$(PY) benchmarks/schedule_sweep.py
	$(PY) benchmarks/resnet8.py
	$(PY) benchmarks/timing_calibration.py
	$(PY) benchmarks/cost_calibration.py

# the README's table of IR ops per backend, regenerated from the backends' registries
readme: setup
	$(PY) -m edgecc ops --markdown > .ops-table.md
	$(PY) -c 'import re; t = open(".ops-table.md").read().strip(); s = open("README.md").read(); \
	open("README.md", "w").write(re.sub(r"(<!-- ops-table -->\n).*?(\n<!-- /ops-table -->)", \
	lambda m: m.group(1) + t + m.group(2), s, flags=re.S))'
	rm -f .ops-table.md

clean:
	rm -rf $(VENV) build examples/out* bench_out .pytest_cache
