# Two commands do everything on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: venv test demo bench bench-quick emulator lint matrix clean

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/debian-packages.txt
	scripts/debian-packages.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev,warehouses]'
	rm -f $(VENV)/.installed-*
	touch $@

test: venv
	$(PY) -m pytest -q

demo: venv
	$(PY) -m demo.run_demo

bench: venv
	$(PY) -m benchmarks $(BENCH_ARGS)

bench-quick: venv
	$(PY) -m benchmarks --quick $(BENCH_ARGS)

# Every supported Airflow (the latest patch of each minor, and the oldest with our lowest provider
# versions), each in its own environment under .matrix/: the suite and the demo.
VERSIONS ?= minimum 3.1.8 3.2.2 3.3.2
matrix: venv
	scripts/matrix.sh $(VERSIONS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

emulator: venv
	$(PY) -m airflow_provider_clevertap.emulator

clean:
	rm -rf $(VENV) .demo .pytest_cache .matrix .mypy_cache .ruff_cache
