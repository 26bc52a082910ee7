# Set-up and day-to-day commands. Every target creates .venv/ on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# A CPU build of torch; override for a CUDA machine, e.g. make install TORCH_SPEC="torch==2.14.1".
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= all
# veRL lives in its own environment: veRL 0.9 pins transformers < 5.11, the TRL recipes need transformers 5.2x.
# torchvision is what lets transformers build the stock Qwen-VL processor that veRL's hf_processor expects; the
# 2.14.1 builds are CUDA builds that also run on CPU (platform.md). qwen-vl-utils is veRL's image loader.
VERL_VENV := .venv-verl
VERL_PY := $(VERL_VENV)/bin/python
VERL_SPEC ?= "verl[verl-core]==0.9.1" qwen-vl-utils==0.0.14
VERL_TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install verl-env quickstart test test-all bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

# This package goes in without its training extras, so pip keeps veRL's transformers.
$(VERL_VENV)/.installed: pyproject.toml
	test -x $(VERL_PY) || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PY) -m pip install -q --upgrade pip
	$(VERL_PY) -m pip install -q $(VERL_TORCH_SPEC)
	$(VERL_PY) -m pip install -q $(VERL_SPEC)
	$(VERL_PY) -m pip install -q -e ".[data]"
	touch $@

verl-env: $(VERL_VENV)/.installed

quickstart: $(VENV)/.installed
	$(VENV)/bin/spatialthinker quickstart --preset smoke --out runs/quickstart

test: $(VENV)/.installed
	$(PY) -m pytest

# Everything, slow tests included: 2-process training (tests/test_multiprocess.py) and veRL's own code against
# ours in the veRL environment (tests/test_verl_env.py).
test-all: $(VENV)/.installed $(VERL_VENV)/.installed
	$(PY) -m pytest -m "slow or not slow"

bench: $(VENV)/.installed
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(VERL_VENV) .pytest_cache .hypothesis
