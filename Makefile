# edgecc: `make demo` and `make test` work on a fresh Debian/Ubuntu machine with Python 3.11 and g++.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@command -v g++ >/dev/null || echo "edgecc: g++ is missing; run: apt-get install -y g++"
	touch $(STAMP)

demo: setup
	$(PY) examples/jet_tagging_mlp.py --check

test: setup
	$(PY) -m pytest -q -n $(JOBS) tests

bench: setup
	$(PY) benchmarks/vs_hls4ml.py

clean:
	rm -rf $(VENV) build examples/out* bench_out .pytest_cache
