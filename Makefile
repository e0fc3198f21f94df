# make demo | make test | make bench | make lint: each sets up .venv and builds the extension first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed

.PHONY: demo test bench bench-onednn lint build clean fuzz asan

demo: build
	PYTHONPATH=. $(PY) examples/demo.py

test: build
	$(PY) -m pytest -q tests

bench: build
	$(PY) benchmarks/cold_start.py --importtime
	PYTHONPATH=. $(PY) -m pytest benchmarks/bench_*.py -p no:cacheprovider --benchmark-only --benchmark-columns=min,median,ops -q

# dnnl_py against oneDNN 3.2 itself (benchmarks/vs_onednn.py): a reference only, installed
# into build/onednn, never into the venv. --prefix, not --target: pip --target drops the
# wheel's lib/libdnnl.so (it lies outside the package dir). VS_ONEDNN_ARGS=--mb32 adds the
# minibatch-32 convolutions.
ONEDNN_PREFIX := build/onednn
bench-onednn: build
	test -e $(ONEDNN_PREFIX)/lib/libdnnl.so || $(PY) -m pip install -q --prefix $(ONEDNN_PREFIX) \
		--no-warn-script-location onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0
	$(PY) benchmarks/vs_onednn.py --onednn-prefix $(ONEDNN_PREFIX) $(VS_ONEDNN_ARGS)

# The long fuzz runs (docs/hardening.md): that many cases per family, fresh seeds.
FUZZ_EXAMPLES ?= 30000
fuzz: build
	DNNL_PY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) DNNL_PY_FUZZ_REPORT=build/fuzz-report.json \
		$(PY) -m pytest -q -s tests/test_fuzz_blobs.py tests/test_fuzz_api.py

# The kernels built with AddressSanitizer in build/asan (the in-place build is left alone)
# and the test suite run on them with libasan preloaded, every buffer from malloc (its
# redzones: dnnl_py/cpu/pages.py); pyopencl and matplotlib hidden (docs/hardening.md).
ASAN_LIB := build/asan/lib
asan: $(DEPS)
	DNNL_PY_SANITIZE=address $(PY) setup.py -q build_ext --build-lib $(ASAN_LIB) \
		--build-temp build/asan/tmp
	DNNL_PY_ASAN_KERNELS=$$(ls $(ASAN_LIB)/dnnl_py/cpu/_kernels*.so) PYTHONPATH=tests/asan \
		DNNL_PY_HUGE_PAGES=0 \
		LD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
		ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:abort_on_error=1 \
		$(PY) -m pytest -q tests -p asan_check --ignore=tests/test_ocl.py

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
