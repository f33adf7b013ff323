# Two commands do everything on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: venv test demo bench bench-quick emulator clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
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

emulator: venv
	$(PY) -m airflow_provider_clevertap.emulator

clean:
	rm -rf $(VENV) .demo .pytest_cache
