# Set-up and day-to-day commands. Every target creates .venv/ on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# A CPU build of torch; override for a CUDA machine, e.g. make install TORCH_SPEC="torch==2.14.1".
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= all

.PHONY: install quickstart test test-all bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

quickstart: $(VENV)/.installed
	$(VENV)/bin/spatialthinker quickstart --preset smoke --out runs/quickstart

test: $(VENV)/.installed
	$(PY) -m pytest

test-all: $(VENV)/.installed
	$(PY) -m pytest -m "slow or not slow"

bench: $(VENV)/.installed
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
