# make demo | make test | make bench | make lint: each sets up .venv and builds the extension first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed

.PHONY: demo test bench lint build clean

demo: build
	PYTHONPATH=. $(PY) examples/demo.py

test: build
	$(PY) -m pytest -q tests

bench: build
	$(PY) benchmarks/cold_start.py --importtime
	PYTHONPATH=. $(PY) -m pytest benchmarks/bench_*.py -p no:cacheprovider --benchmark-only --benchmark-columns=min,median,ops -q

lint: $(DEPS)
	$(VENV)/bin/ruff check dnnl_py benchmarks tests examples

build: $(DEPS)
	$(PY) setup.py -q build_ext --inplace

$(DEPS): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

clean:
	rm -rf build dnnl_py/cpu/_kernels.c dnnl_py/cpu/*.so dnnl_py/_build_info.py
