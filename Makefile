# Two commands do everything on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: venv test demo bench bench-quick emulator lint matrix clean docs readme airflow airflow-stop wheel-check

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/debian-packages.txt
	scripts/debian-packages.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev,warehouses,browser]'
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

# The docs site into site/: a broken link, anchor or snippet fails it; README.md must be current.
docs: venv
	$(PY) scripts/readme.py --check
	$(VENV)/bin/mkdocs build --strict --quiet

# README.md from docs/index.md.
readme:
	$(PYTHON) scripts/readme.py

# A local Airflow (airflow standalone) with the emulator, staged data and the example DAGs; Ctrl-C
# or `make airflow-stop` stops it.
airflow: venv
	$(PY) -m demo.local_airflow

airflow-stop:
	$(PY) -m demo.local_airflow --stop

# Build the sdist and wheel, check them, install the wheel alone and run an example DAG from it.
wheel-check: venv
	scripts/check-wheel.sh

clean:
	rm -rf $(VENV) .demo .airflow .pytest_cache .matrix .mypy_cache .ruff_cache site dist .wheel-check
